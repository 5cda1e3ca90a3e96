"""tf.data pipeline: batch contract, token budget, bucket shapes, order, determinism."""

import dataclasses
import itertools
import logging
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.constants import BOS_ID, EOS_ID, PAD_ID
from seq2seq.data import pipeline
from seq2seq.data.bucketing import derive_boundaries
from seq2seq.data.corpora import Corpus
from seq2seq.data.pipeline import (
    Lengths,
    make_eval_dataset,
    make_train_dataset,
    train_bucket_grid,
)
from seq2seq.errors import DataError


def epoch(corpus, tokenizers, cfg, seed=0):
    """One epoch of training batches as numpy: list of (x, y, sample_weight)."""
    dataset = make_train_dataset(corpus, tokenizers, cfg, seed=seed, repeat=False)
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in dataset]


def rows(batches):
    """(source_ids, target_in, target_out) of every real row, padding stripped."""
    for x, y, _ in batches:
        for s, ti, to, sm, tm in zip(
            x["source_ids"],
            x["target_in_ids"],
            y,
            x["source_padding_mask"],
            x["target_padding_mask"],
        ):
            yield s[sm].tolist(), ti[tm].tolist(), to[tm].tolist()


@pytest.mark.parametrize("batching", ["bucketed", "random"])
def test_batch_contract(toy_corpus, toy_tokenizers, toy_data_config, batching):
    cfg = dataclasses.replace(toy_data_config, batching=batching)
    dataset = make_train_dataset(toy_corpus, toy_tokenizers, cfg, seed=0)
    x, y, weight = next(iter(dataset))
    assert set(x) == {"source_ids", "source_padding_mask", "target_in_ids", "target_padding_mask"}
    assert x["source_ids"].dtype == tf.int32 and y.dtype == tf.int32
    assert x["source_padding_mask"].dtype == tf.bool and weight.dtype == tf.bool
    assert x["source_ids"].shape[0] == x["target_in_ids"].shape[0] == y.shape[0]
    assert x["target_in_ids"].shape == y.shape == weight.shape
    for x, _, weight in epoch(toy_corpus, toy_tokenizers, cfg):
        np.testing.assert_array_equal(x["source_padding_mask"], x["source_ids"] != PAD_ID)
        np.testing.assert_array_equal(x["target_padding_mask"], x["target_in_ids"] != PAD_ID)
        np.testing.assert_array_equal(weight, x["target_padding_mask"])
        for mask in (x["source_padding_mask"], x["target_padding_mask"]):
            assert mask[:, 0].all()  # no all-padding row
            assert (mask[:, 1:] <= mask[:, :-1]).all()  # right padding only


def test_shifted_targets_and_ids_match_the_corpus(toy_corpus, toy_tokenizers, toy_data_config):
    references = dict(zip(*toy_corpus.references()))
    seen = Counter()
    for source, target_in, target_out in rows(epoch(toy_corpus, toy_tokenizers, toy_data_config)):
        assert source[-1] == EOS_ID and EOS_ID not in source[:-1]
        assert target_in[0] == BOS_ID and target_out[-1] == EOS_ID
        assert target_in[1:] == target_out[:-1]
        word = toy_tokenizers.source.decode(source)
        assert source[:-1] == toy_tokenizers.source.encode([word])[0]
        assert toy_tokenizers.target.decode(target_out) in references[word]
        seen[word, toy_tokenizers.target.decode(target_out)] += 1
    assert seen == Counter(zip(toy_corpus.sources, toy_corpus.targets))  # each pair once


def test_bucketed_batches_respect_budget_and_bucket_shapes(
    toy_corpus, toy_tokenizers, toy_data_config
):
    cfg = toy_data_config
    lengths = Lengths.of(toy_corpus, toy_tokenizers)
    grid = train_bucket_grid(lengths, lengths.fits(cfg), cfg)
    stream = make_train_dataset(toy_corpus, toy_tokenizers, cfg, seed=3)
    shapes = set()
    for x, _, _ in itertools.islice(stream, 200):
        size, source_width = x["source_ids"].shape
        target_width = x["target_in_ids"].shape[1]
        assert source_width in grid.source_boundaries
        assert target_width in grid.target_boundaries
        assert size == cfg.batch_tokens // max(source_width, target_width)  # full batches
        assert size * source_width <= cfg.batch_tokens
        assert size * target_width <= cfg.batch_tokens
        shapes.add((source_width, target_width))
    assert len(shapes) > 5


def test_bucketing_pads_less_than_random_batches(toy_corpus, toy_tokenizers, toy_data_config):
    def target_fraction(batching):
        cfg = dataclasses.replace(
            toy_data_config, batching=batching, batch_tokens=128, batch_size=16
        )
        masks = [x["target_padding_mask"] for x, _, _ in epoch(toy_corpus, toy_tokenizers, cfg)]
        return sum(m.sum() for m in masks) / sum(m.size for m in masks)

    assert target_fraction("bucketed") > 0.95
    assert target_fraction("random") < 0.85


def test_random_batches_are_fixed_size_and_padded_to_the_batch_max(
    toy_corpus, toy_tokenizers, toy_data_config
):
    cfg = dataclasses.replace(toy_data_config, batching="random", batch_size=16)
    batches = epoch(toy_corpus, toy_tokenizers, cfg)
    assert [len(y) for _, y, _ in batches[:-1]] == [16] * (len(batches) - 1)
    assert sum(len(y) for _, y, _ in batches) == len(toy_corpus)
    for x, _, _ in batches:
        assert x["source_padding_mask"][:, -1].any() and x["target_padding_mask"][:, -1].any()


def test_over_long_pairs_are_dropped(toy_corpus, toy_tokenizers, toy_data_config):
    cfg = dataclasses.replace(toy_data_config, max_source_length=8, max_target_length=6)
    kept = Lengths.of(toy_corpus, toy_tokenizers).fits(cfg)
    assert 0 < kept.sum() < len(toy_corpus)
    batches = epoch(toy_corpus, toy_tokenizers, cfg)
    assert sum(len(y) for _, y, _ in batches) == kept.sum()
    assert max(x["source_ids"].shape[1] for x, _, _ in batches) <= 8
    assert max(x["target_in_ids"].shape[1] for x, _, _ in batches) <= 6


def test_nothing_fits_is_a_data_error(toy_corpus, toy_tokenizers, toy_data_config):
    cfg = dataclasses.replace(toy_data_config, max_source_length=2, max_target_length=2)
    long_only = Corpus(sources=["abcd", "hgfe"], targets=["AA B", "HH G"], name="train")
    with pytest.raises(
        DataError,
        match=r"corpus 'train': none of its 2 pairs fits "
        r"data\.max_source_length=2",
    ):
        make_train_dataset(long_only, toy_tokenizers, cfg, seed=0)


def test_same_seed_same_batches_other_seed_other_batches(
    toy_corpus, toy_tokenizers, toy_data_config
):
    def first(seed, n=12):
        stream = make_train_dataset(toy_corpus, toy_tokenizers, toy_data_config, seed=seed)
        return [y.numpy() for _, y, _ in itertools.islice(stream, n)]

    a, b, c = first(1), first(1), first(2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(u.shape == v.shape and np.array_equal(u, v) for u, v in zip(a, c))


def test_training_iterator_state_can_be_checkpointed(
    toy_corpus, toy_tokenizers, toy_data_config, tmp_path
):
    iterator = iter(make_train_dataset(toy_corpus, toy_tokenizers, toy_data_config, seed=5))
    for _ in range(40):  # past the first epoch: windows and shuffle buffer hold state
        next(iterator)
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    expected = [next(iterator)[1].numpy() for _ in range(5)]
    checkpoint.restore(path)
    assert all(np.array_equal(next(iterator)[1].numpy(), e) for e in expected)


def test_datasets_survive_tf_random_set_seed(toy_corpus, toy_tokenizers, toy_data_config):
    """Eagerly created SentencePiece resources die when set_seed clears TF's kernel caches."""
    built_before = make_eval_dataset(toy_corpus, toy_tokenizers, toy_data_config)
    next(iter(built_before))
    tf.random.set_seed(7)
    next(iter(built_before))
    next(iter(make_eval_dataset(toy_corpus, toy_tokenizers, toy_data_config)))  # kept trace
    next(iter(make_train_dataset(toy_corpus, toy_tokenizers, toy_data_config, seed=0)))
    ids = tf.constant([toy_tokenizers.target.encode(["AA B"])[0] + [EOS_ID]])
    assert toy_tokenizers.target.tf_detokenize(ids).numpy()[0].decode() == "AA B"


def test_eval_batches_are_sorted_and_order_can_be_restored(
    toy_corpus, toy_tokenizers, toy_data_config
):
    batches = list(make_eval_dataset(toy_corpus, toy_tokenizers, toy_data_config))
    indices = np.concatenate([x["example_index"].numpy() for x, _, _ in batches])
    assert sorted(indices.tolist()) == list(range(len(toy_corpus)))
    assert batches[0][0]["example_index"].dtype == tf.int64
    widths = [x["source_ids"].shape[1] for x, _, _ in batches]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    source_rows = [row for x, _, _ in batches for row in x["source_ids"].numpy().tolist()]
    restored = [source_rows[i] for i in np.argsort(indices)]  # corpus order
    decoded = [toy_tokenizers.source.decode(row) for row in restored]
    assert decoded == toy_corpus.sources


def test_eval_datasets_reuse_one_trace_per_tokenizers_and_limits(
    toy_corpus, toy_tokenizers, toy_data_config
):
    """Each validation and decoded file builds a new evaluation dataset: it must not trace the
    tokenizers again (0.1-0.3 s a call), yet new length limits must take effect."""
    pipeline._EVAL_BATCHES.clear()
    first = [
        x["source_ids"].numpy()
        for x, _, _ in make_eval_dataset(toy_corpus, toy_tokenizers, toy_data_config)
    ]
    again = [
        x["source_ids"].numpy()
        for x, _, _ in make_eval_dataset(toy_corpus, toy_tokenizers, toy_data_config)
    ]
    assert len(pipeline._EVAL_BATCHES) == 1
    (batch,) = pipeline._EVAL_BATCHES.values()
    assert batch.experimental_get_tracing_count() == 1
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    shorter = dataclasses.replace(toy_data_config, max_source_length=3)
    widths = [
        x["source_ids"].shape[1]
        for x, _, _ in make_eval_dataset(toy_corpus, toy_tokenizers, shorter)
    ]
    assert len(pipeline._EVAL_BATCHES) == 2 and max(widths) == 3


def test_eval_iterators_do_not_autotune(toy_corpus, toy_tokenizers, toy_data_config):
    """Deleting an iterator waits for tf.data's autotuning thread (0.05-2 s per decoded corpus
    measured); training iterators live for the run and keep it."""
    eval_dataset = make_eval_dataset(toy_corpus, toy_tokenizers, toy_data_config)
    train_dataset = make_train_dataset(toy_corpus, toy_tokenizers, toy_data_config, seed=0)
    assert eval_dataset.options().autotune.enabled is False
    assert train_dataset.options().autotune.enabled is True


def test_eval_truncates_over_long_pairs_keeping_eos(toy_tokenizers, toy_data_config, caplog):
    cfg = dataclasses.replace(toy_data_config, max_source_length=4, max_target_length=3)
    corpus = Corpus(sources=["abcdefgh", "ab"], targets=["AA B K D", "AA"], name="valid")
    with caplog.at_level(logging.WARNING):
        ((x, y, _),) = list(make_eval_dataset(corpus, toy_tokenizers, cfg))
    assert "valid: truncated 1 source(s)" in caplog.text and "and 1 target(s)" in caplog.text
    order = np.argsort(x["example_index"].numpy())  # corpus order
    rows_by_index = x["source_ids"].numpy()[order].tolist()
    assert rows_by_index[0][-1] == EOS_ID and len(rows_by_index[0]) == 4
    assert toy_tokenizers.source.decode(rows_by_index[0]) == "abc"
    target_out = y.numpy()[order].tolist()
    assert toy_tokenizers.target.decode(target_out[0]) == "AA B"


def test_empty_eval_corpus_is_a_data_error(toy_tokenizers, toy_data_config):
    with pytest.raises(DataError, match="corpus 'valid' is empty"):
        make_eval_dataset(
            Corpus(sources=[], targets=[], name="valid"), toy_tokenizers, toy_data_config
        )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=50), st.floats(1.05, 2.0))
def test_derived_boundaries_cover_lengths_with_bounded_waste(lengths, ratio):
    bounds = derive_boundaries(np.array(lengths), ratio)
    assert bounds[0] == min(lengths) and bounds[-1] == max(lengths)
    assert all(a < b for a, b in zip(bounds, bounds[1:]))
    for previous, bound in zip(bounds, bounds[1:]):
        if bound < max(lengths):
            assert bound - previous == max(1, int(previous * ratio) - previous)
        assert (bound - previous - 1) / bound <= ratio - 1  # padding waste of a bucket


def test_configured_boundaries_end_at_the_longest_length():
    assert derive_boundaries(np.array([3, 9, 17]), 1.1, [4, 8, 16, 32]) == [4, 8, 16, 17]
