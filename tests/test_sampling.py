"""Subword sampling (tokenizer.sampling): varied segmentations in training batches only."""

import dataclasses
import inspect
from collections import defaultdict

import pytest

from seq2seq.config import SamplingConfig, SideTokenizerConfig, TokenizerConfig
from seq2seq.data.pipeline import make_eval_dataset, make_train_dataset
from seq2seq.data.tokenizer import Tokenizer, train_tokenizers
from seq2seq.errors import ConfigError
from seq2seq.training.loop import fit
from tests.train_helpers import tiny_train_config

SAMPLING = SamplingConfig(nbest_size=-1, alpha=0.1)


@pytest.fixture(scope="module")
def unigram_tokenizers(toy_corpus):
    source = SideTokenizerConfig(model_type="unigram", vocab_size=40)
    target = SideTokenizerConfig(model_type="unigram", vocab_size=20)  # 8 phonemes
    return train_tokenizers(TokenizerConfig(source=source, target=target), toy_corpus)


def segmentations(dataset, tokenizers, batches: int, distinct: bool = True) -> dict:
    """{(side, text): id sequences} over `batches` batches: a set, or a list of every one."""
    seen = defaultdict(set if distinct else list)
    for x, y, _ in dataset.take(batches):
        for side, ids, mask in (
            ("source", x["source_ids"], x["source_padding_mask"]),
            ("target", y, x["target_padding_mask"]),
        ):
            tokenizer = getattr(tokenizers, side)
            for row, real in zip(ids.numpy(), mask.numpy()):
                pieces = tuple(row[real][:-1])  # without eos
                key = side, tokenizer.decode(list(pieces))
                seen[key].add(pieces) if distinct else seen[key].append(pieces)
    return seen


def test_sampling_varies_training_segmentations_of_the_same_text(
    toy_corpus, unigram_tokenizers, toy_data_config
):
    dataset = make_train_dataset(
        toy_corpus, unigram_tokenizers, toy_data_config, seed=0, sampling=SAMPLING
    )
    seen = segmentations(dataset, unigram_tokenizers, 80, distinct=False)  # about two epochs
    for side in ("source", "target"):
        repeated = [ids for (s, _), ids in seen.items() if s == side and len(ids) > 1]
        varied = [ids for ids in repeated if len(set(ids)) > 1]
        # tensorflow-text's sampler takes no seed, so how many texts vary differs between runs
        # (44-60 % seen). The test asks only that some do: each of the > 50 repeated texts
        # would have to draw the same segmentation every time for it to fail (at alpha 0.1 a
        # text of several pieces has many likely segmentations), while with sampling off
        # none varies (test_no_sampling_gives_the_best_segmentation, and the unsampled side of
        # test_sampling_only_the_named_sides).
        assert len(repeated) > 50, side
        assert varied, f"{side}: none of {len(repeated)} repeated texts was segmented twice apart"
        texts = {text for s, text in seen if s == side}
        assert texts <= set(getattr(toy_corpus, side + "s"))  # each decodes to its text


def test_sampling_only_the_named_sides(toy_corpus, unigram_tokenizers, toy_data_config):
    sampling = dataclasses.replace(SAMPLING, sides=["source"])
    dataset = make_train_dataset(
        toy_corpus, unigram_tokenizers, toy_data_config, seed=0, sampling=sampling
    )
    seen = segmentations(dataset, unigram_tokenizers, 60)
    assert any(len(ids) > 1 for (side, _), ids in seen.items() if side == "source")
    for (side, text), ids in seen.items():
        if side == "target":  # always the best segmentation
            assert ids == {tuple(unigram_tokenizers.target.encode([text])[0])}


def test_no_sampling_gives_the_best_segmentation(toy_corpus, unigram_tokenizers, toy_data_config):
    cfg = dataclasses.replace(toy_data_config, max_source_length=40, max_target_length=40)
    for dataset in (
        make_train_dataset(toy_corpus, unigram_tokenizers, cfg, seed=0),
        make_eval_dataset(toy_corpus, unigram_tokenizers, cfg),  # nothing truncated
    ):
        seen = segmentations(dataset, unigram_tokenizers, 60)
        for (side, text), ids in seen.items():
            assert ids == {tuple(getattr(unigram_tokenizers, side).encode([text])[0])}


def test_a_training_run_samples_its_training_batches_only(tmp_path, monkeypatch):
    """Every in-graph tokenizer that `fit` creates: sampling ones only for the training
    batches; validation, its decoding and the final evaluation use the best segmentation."""
    created = []
    original = Tokenizer.tf_tokenizer

    def recording(self, nbest_size=0, alpha=1.0):
        callers = {frame.function for frame in inspect.stack()}
        created.append((nbest_size, "make_train_dataset" in callers))
        return original(self, nbest_size, alpha)

    monkeypatch.setattr(Tokenizer, "tf_tokenizer", recording)
    cfg = tiny_train_config(
        tmp_path,
        "tokenizer.source.model_type=unigram",
        "tokenizer.source.vocab_size=20",
        "tokenizer.source.add_dummy_prefix=true",
        "tokenizer.sampling.nbest_size=-1",
        "tokenizer.sampling.sides=[source]",
        "train.max_steps=2",
        "train.validate_every=2",
    )
    fit(cfg, tmp_path / "run")
    sampled = {in_training for nbest, in_training in created if nbest == -1}
    best = {in_training for nbest, in_training in created if nbest == 0}
    assert sampled == {True}  # the training pipeline's source tokenizer, and only it
    assert best == {True, False}  # its target side, then every evaluation tokenizer


def test_sampling_settings_are_checked():
    assert not SamplingConfig().enabled and not SamplingConfig(nbest_size=1).enabled
    with pytest.raises(ConfigError, match="tokenizer.sampling.alpha must be > 0"):
        SamplingConfig(nbest_size=-1, alpha=0)
    with pytest.raises(ConfigError, match="tokenizer.sampling.sides must be among"):
        SamplingConfig(sides=["both"])
