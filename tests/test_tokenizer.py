"""SentencePiece tokenizers: special ids, in-graph ids = Python ids, G2P settings, saving."""

import dataclasses
from pathlib import Path

import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from seq2seq.config import SideTokenizerConfig, TokenizerConfig, validate
from seq2seq.data.corpora import Corpus, read_cmudict
from seq2seq.data.tokenizer import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Tokenizer,
    load_or_train_tokenizers,
    load_tokenizers,
    save_tokenizers,
    train_tokenizers,
)
from seq2seq.errors import ConfigError, RunDirError

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
TEXTS = ["abc", "hhgfedcba", "a", "abz", "aabbcc"]  # 'z' is not in the toy alphabet


def side(config: TokenizerConfig, name: str, **changes) -> TokenizerConfig:
    return dataclasses.replace(
        config, **{name: dataclasses.replace(getattr(config, name), **changes)}
    )


def test_special_ids_are_fixed(toy_tokenizers):
    for tokenizer in toy_tokenizers:
        assert tokenizer.pieces()[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)


def test_in_graph_ids_match_python_encode(toy_tokenizers, toy_corpus):
    for tokenizer, texts in zip(toy_tokenizers, (TEXTS, toy_corpus.targets[:50] + ["ZZ AA"])):
        graph_ids = tokenizer.tf_tokenizer().tokenize(tf.constant(texts)).to_list()
        assert graph_ids == tokenizer.encode(texts)
    assert UNK_ID in toy_tokenizers.source.encode(["abz"])[0]


def test_decode_stops_at_eos_and_skips_pad_and_bos(toy_tokenizers):
    tokenizer = toy_tokenizers.target
    ids = tokenizer.encode(["AA B K"])[0]
    assert tokenizer.decode([BOS_ID] + ids + [EOS_ID] + ids + [PAD_ID]) == "AA B K"
    assert tokenizer.decode([PAD_ID, PAD_ID]) == ""
    batch = tf.constant([[BOS_ID] + ids + [EOS_ID, ids[0]], ids + [PAD_ID, PAD_ID, PAD_ID]])
    assert [s.decode() for s in tokenizer.tf_detokenize(batch).numpy()] == ["AA B K", "AA B K"]


def test_g2p_settings_give_one_piece_per_letter_and_per_phoneme():
    cfg = validate(OmegaConf.load(CONF_DIR / "tokenizer" / "g2p.yaml"), TokenizerConfig)
    corpus = read_cmudict()
    tokenizers = train_tokenizers(cfg, corpus)
    assert tokenizers.source.vocab_size == 33 and tokenizers.target.vocab_size == 43
    assert not any("▁" in piece for piece in tokenizers.source.pieces())
    for word, phones in list(zip(corpus.sources, corpus.targets))[::997]:
        assert len(tokenizers.source.encode([word])[0]) == len(word)
        ids = tokenizers.target.encode([phones])[0]
        assert len(ids) == len(phones.split()) and UNK_ID not in ids
        assert tokenizers.target.decode(ids) == phones


@pytest.mark.parametrize(
    "name, model_type, maximum", [("target", "word", 12), ("source", "char", 12)]
)
def test_too_large_vocab_names_the_key_and_the_maximum(
    toy_tokenizer_config, toy_corpus, name, model_type, maximum
):
    cfg = side(toy_tokenizer_config, name, model_type=model_type, vocab_size=200)
    with pytest.raises(
        ConfigError,
        match=rf"^tokenizer\.{name}\.vocab_size=200 is too large for "
        rf"this corpus: set it to at most {maximum} \(or vocab_size=auto\)$",
    ):
        train_tokenizers(cfg, toy_corpus)


def test_save_load_round_trip_and_vocab_file(toy_tokenizers, tmp_path):
    save_tokenizers(toy_tokenizers, tmp_path)
    loaded = load_tokenizers(tmp_path)
    for old, new in zip(toy_tokenizers, loaded):
        assert new.model_proto == old.model_proto
        assert new.encode(TEXTS) == old.encode(TEXTS)
    vocab = (tmp_path / "target.vocab").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == loaded.target.vocab_size
    assert vocab[0].split("\t")[0] == "<pad>" and vocab[4].split("\t")[0].startswith("▁")


def test_shared_model_is_one_object_after_loading(toy_tokenizer_config, toy_corpus, tmp_path):
    cfg = dataclasses.replace(toy_tokenizer_config, shared=True)
    cfg = side(cfg, "source", model_type="unigram", vocab_size=30, add_dummy_prefix=True)
    shared = train_tokenizers(cfg, toy_corpus)
    assert shared.source is shared.target
    save_tokenizers(shared, tmp_path)
    loaded = load_tokenizers(tmp_path)
    assert loaded.source is loaded.target
    assert loaded.source.encode(["abc", "AA B"]) == shared.source.encode(["abc", "AA B"])


def test_saving_never_overwrites_a_different_model(toy_tokenizers, tmp_path):
    save_tokenizers(toy_tokenizers, tmp_path)
    save_tokenizers(toy_tokenizers, tmp_path)  # identical content: fine
    swapped = type(toy_tokenizers)(toy_tokenizers.target, toy_tokenizers.source)
    with pytest.raises(RunDirError, match=r"source\.model already exists with different content"):
        save_tokenizers(swapped, tmp_path)
    assert (tmp_path / "source.model").read_bytes() == toy_tokenizers.source.model_proto
    assert not list(tmp_path.glob(".*.tmp"))


def test_load_or_train_loads_existing_and_rejects_other_settings(
    toy_tokenizer_config, toy_corpus, toy_tokenizers, tmp_path
):
    save_tokenizers(toy_tokenizers, tmp_path)
    nothing = Corpus(sources=[], targets=[])  # training on it would fail: must load
    loaded = load_or_train_tokenizers(toy_tokenizer_config, nothing, tmp_path)
    assert loaded.source.model_proto == toy_tokenizers.source.model_proto
    other = side(toy_tokenizer_config, "target", vocab_size=11)
    with pytest.raises(
        RunDirError,
        match=r"target\.model has vocab_size=12 but "
        r"tokenizer\.target\.vocab_size=11",
    ):
        load_or_train_tokenizers(other, toy_corpus, tmp_path)


def test_resume_with_identical_separate_models_and_shared_mismatch(
    toy_tokenizer_config, toy_corpus, toy_tokenizers, tmp_path
):
    same_text = Corpus(sources=toy_corpus.sources, targets=toy_corpus.sources)
    cfg = side(toy_tokenizer_config, "target", model_type="char", add_dummy_prefix=False)
    first = load_or_train_tokenizers(cfg, same_text, tmp_path / "a")
    assert first.source.model_proto == first.target.model_proto  # separate, but identical
    again = load_or_train_tokenizers(cfg, same_text, tmp_path / "a")
    assert again.target.encode(["abc"]) == first.target.encode(["abc"])
    save_tokenizers(toy_tokenizers, tmp_path / "b")
    shared = dataclasses.replace(toy_tokenizer_config, shared=True)
    with pytest.raises(RunDirError, match="holds two different models but tokenizer.shared=true"):
        load_or_train_tokenizers(shared, toy_corpus, tmp_path / "b")


def test_load_or_train_trains_and_saves_when_empty(toy_tokenizer_config, toy_corpus, tmp_path):
    trained = load_or_train_tokenizers(toy_tokenizer_config, toy_corpus, tmp_path / "tok")
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == [
        "source.model",
        "source.vocab",
        "target.model",
        "target.vocab",
    ]
    assert Tokenizer((tmp_path / "tok" / "target.model").read_bytes()).encode(
        ["AA B"]
    ) == trained.target.encode(["AA B"])


def test_missing_model_is_a_run_dir_error(tmp_path):
    with pytest.raises(RunDirError, match=rf"{tmp_path}/source\.model: tokenizer model not found"):
        load_tokenizers(tmp_path)


@pytest.mark.parametrize("model_type", ["unigram", "bpe", "word", "char"])
def test_auto_vocab_size_is_the_largest_the_corpus_allows(toy_corpus, model_type):
    """auto trains the largest model; one piece more is refused with that size as maximum."""
    auto = TokenizerConfig(
        shared=True, source=SideTokenizerConfig(model_type=model_type, vocab_size="auto")
    )
    corpus = Corpus(sources=toy_corpus.targets[:200], targets=toy_corpus.targets[:200])
    largest = train_tokenizers(auto, corpus).source.vocab_size
    if model_type in ("word", "char"):  # 8 phonemes; their 8 letters + "▁"; + 4 specials
        assert largest == {"word": 12, "char": 13}[model_type]
    exact = side(auto, "source", vocab_size=largest)
    assert train_tokenizers(exact, corpus).source.vocab_size == largest
    with pytest.raises(ConfigError, match=rf"set it to at most {largest} "):
        train_tokenizers(side(auto, "source", vocab_size=largest + 1), corpus)


def test_auto_vocab_size_resumes_and_is_validated(toy_tokenizer_config, toy_corpus, tmp_path):
    auto = side(toy_tokenizer_config, "target", vocab_size="auto")
    trained = load_or_train_tokenizers(auto, toy_corpus, tmp_path)
    assert trained.target.vocab_size == 12
    nothing = Corpus(sources=[], targets=[])  # training on it would fail: must load
    assert load_or_train_tokenizers(auto, nothing, tmp_path).target.vocab_size == 12
    bad = OmegaConf.create({"source": {"vocab_size": "large"}})
    with pytest.raises(
        ConfigError, match="vocab_size must be an integer, auto or auto:N, got 'large'"
    ):
        validate(bad, TokenizerConfig)
