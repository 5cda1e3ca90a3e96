"""Bringing your own data: the floor under cut validation/test splits, vocab_size auto:N, and
the warnings for tokenizers that look wrong for the data (docs/your-own-data.md)."""

import logging
import random

import pytest

from seq2seq.config import DataConfig, SideTokenizerConfig, SplitFiles, TokenizerConfig
from seq2seq.data.corpora import Corpus, load_corpora
from seq2seq.data.tokenizer import train_tokenizers
from seq2seq.data.tokenizer_checks import tokenizer_warnings
from seq2seq.errors import ConfigError, DataError

TSV_FRACTIONS = {"train": 0.98, "valid": 0.01, "test": 0.01}  # conf/data/tsv.yaml


def spelling_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (typo, word) pairs of distinct random words of 4-9 letters."""
    rng = random.Random(seed)
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(4, 9))))
    pairs = []
    for word in sorted(words):
        i = rng.randrange(len(word) - 1)
        pairs.append((word[:i] + word[i + 1] + word[i] + word[i + 2 :], word))
    return pairs


def write_tsv(path, pairs) -> DataConfig:
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return DataConfig(format="tsv", train=SplitFiles(path=str(path)), split_fractions=TSV_FRACTIONS)


def test_small_cut_split_is_raised_to_the_floor_with_a_warning(tmp_path, caplog):
    cfg = write_tsv(tmp_path / "my.tsv", spelling_pairs(500))
    with caplog.at_level(logging.WARNING):
        corpora = load_corpora(cfg)
    assert (
        f"data.split_fractions.valid=0.01 would leave the valid split about 5 of the 500 pairs "
        f"of {tmp_path}/my.tsv: raised to 0.05 (about 25 pairs). Set data.split_fractions, or "
        "give the split a file of its own, to choose" in caplog.text
    )
    sizes = {split: len(corpus) for split, corpus in corpora.items()}
    assert sum(sizes.values()) == 500
    assert sizes["valid"] >= 15 and sizes["test"] >= 15  # 1 % would be about 5 each


def test_large_enough_fractions_are_kept(tmp_path, caplog):
    cfg = write_tsv(tmp_path / "my.tsv", spelling_pairs(500))
    cfg.split_fractions = {"train": 0.8, "valid": 0.1, "test": 0.1}
    with caplog.at_level(logging.WARNING):
        load_corpora(cfg)
    assert "split_fractions" not in caplog.text


def test_tiny_corpus_is_an_error_saying_how_to_split(tmp_path):
    cfg = write_tsv(tmp_path / "tiny.tsv", spelling_pairs(150))
    with pytest.raises(DataError) as error:
        load_corpora(cfg)
    assert str(error.value) == (
        f"{tmp_path}/tiny.tsv: 150 pairs are too few to cut a valid split of at least 10 pairs "
        "from (data.split_fractions.valid=0.05): give data.valid and data.test files of their "
        "own, or set e.g. data.split_fractions={train: 0.86, valid: 0.07, test: 0.07}"
    )
    cfg.split_fractions = {"train": 0.86, "valid": 0.07, "test": 0.07}
    assert len(load_corpora(cfg)["valid"]) > 0  # the suggested split works


def _tokenizers(corpus: Corpus, source: SideTokenizerConfig, target: SideTokenizerConfig):
    return train_tokenizers(TokenizerConfig(source=source, target=target), corpus)


CHARS = SideTokenizerConfig(model_type="char", vocab_size="auto", add_dummy_prefix=False)
WORDS = SideTokenizerConfig(model_type="word", vocab_size="auto")


def _split(pairs):
    train, valid = pairs[:400], pairs[400:]
    corpus = lambda ps: Corpus([s for s, _ in ps], [t for _, t in ps])  # noqa: E731
    return {"train": corpus(train), "valid": corpus(valid)}


def test_word_targets_of_one_piece_each_warn():
    corpora = _split(spelling_pairs(500))
    tokenizers = _tokenizers(corpora["train"], CHARS, WORDS)
    warnings = tokenizer_warnings(tokenizers, corpora)
    assert len(warnings) == 2, warnings
    size = tokenizers.target.vocab_size
    assert warnings[0] == (
        f"tokenizer.target: the training targets are 1.00 pieces long on average (a word model "
        f"of {size} pieces): each target is about one token, learnt as a whole label and never "
        "spelled. For words spelled letter by letter (spelling, transliteration, G2P-like) use "
        "tokenizer=chars or experiment=byo_chars; for sentences tokenizer=subword or "
        "experiment=byo_translation (see docs/your-own-data.md)"
    )
    assert warnings[1].startswith(
        f"tokenizer.target: 100.0% of the valid targets' pieces are <unk> (a word model of {size} "
        "pieces): the model cannot read or write them."
    )


def test_char_tokenizers_on_words_do_not_warn(toy_corpus, toy_tokenizers):
    corpora = _split(spelling_pairs(500))
    assert tokenizer_warnings(_tokenizers(corpora["train"], CHARS, CHARS), corpora) == []
    # The G2P toy (char source, phoneme-word target: several pieces a word) does not warn.
    toy = {"train": toy_corpus, "valid": Corpus(toy_corpus.sources[:50], toy_corpus.targets[:50])}
    assert tokenizer_warnings(toy_tokenizers, toy) == []


def test_unknown_characters_warn_on_the_source_side():
    corpora = _split(spelling_pairs(500))
    small = SideTokenizerConfig(model_type="char", vocab_size=12, add_dummy_prefix=False)
    warnings = tokenizer_warnings(_tokenizers(corpora["train"], small, CHARS), corpora)
    assert [w.split(":")[0] for w in warnings] == ["tokenizer.source"] * 2  # train and valid
    assert "of the train sources' pieces are <unk> (a char model of 12 pieces)" in warnings[0]


def test_vocab_size_auto_with_a_cap(toy_corpus):
    """auto:N: N pieces when the corpus gives more, all it gives when fewer (12 = 8 + 4)."""
    cfg = lambda size: SideTokenizerConfig(model_type="word", vocab_size=size)  # noqa: E731
    assert _tokenizers(toy_corpus, CHARS, cfg("auto:10")).target.vocab_size == 10
    assert _tokenizers(toy_corpus, CHARS, cfg("auto:8000")).target.vocab_size == 12
    unigram = SideTokenizerConfig(model_type="unigram", vocab_size="auto:8000")
    assert 12 < _tokenizers(toy_corpus, unigram, CHARS).source.vocab_size < 8000
    for bad in ("auto:", "auto:x", "auto:3", "most"):
        with pytest.raises(ConfigError, match="vocab_size must be"):
            SideTokenizerConfig(vocab_size=bad)
