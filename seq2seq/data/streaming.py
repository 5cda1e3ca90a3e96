"""The training split as a stream, for corpora too large to hold in memory.

`load_training_data(cfg)` decides (`data.streaming`: auto | true | false; auto streams a
text/tsv training corpus whose file(s) hold more than `data.streaming_min_mb` megabytes) and
returns the corpora plus, when streaming, a `TrainStream`:

- The training pairs are never held in memory: `TrainStream.pairs()` reads the files with
  tf.data (`streaming_files.py`), and `pipeline.make_train_dataset` tokenizes them in the
  graph, drops over-long pairs, shuffles them in a buffer of `data.shuffle_buffer` pairs and
  buckets them; peak memory depends on that buffer, not on the corpus size.
- `corpora["train"]` is a bounded sample, the first `data.stream_sample_size` training
  pairs: the tokenizers are trained on it and stats.json describes it.
- valid/test splits with files of their own are read into memory as usual. Splits cut from
  the training file need one pass over it in Python at startup (their pairs are kept, and
  their sources are left out of the stream by fingerprint); give them files to skip it.
- The number of training pairs (for `train/epoch` and `train.max_epochs`) is counted in that
  pass (or when the sample is the whole file), else estimated from the file size and the
  sample's bytes per pair (a gzip file: its lines are counted, one pass).

Streamed and in-memory training see the same pairs, bucketed with the same budget; their
order differs when pairs are dropped as too long or the corpus exceeds the shuffle buffer
(the in-memory path filters before shuffling and permutes a large corpus once up front).
"""

import gzip
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from seq2seq.config.data import SPLITS, DataConfig
from seq2seq.data.corpora import Corpus, assign_split, load_corpora, read_parallel_text, read_tsv
from seq2seq.data.corpora.lines import read_lines
from seq2seq.data.corpora.tsv import parse_tsv_row
from seq2seq.data.streaming_files import fingerprints, text_pairs, tsv_pairs
from seq2seq.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainStream:
    """What the streamed training split needs besides the files named in `cfg`."""

    cfg: DataConfig
    held_out: np.ndarray  # int64 (H,) sorted fingerprints of sources cut into valid/test
    num_pairs: int  # training pairs: counted, or estimated from the line count
    counted: bool  # num_pairs is exact

    def pairs(self) -> tf.data.Dataset:
        """(source, target) tf.string scalars, in file order, held-out and empty pairs left
        out, lower-cased if `data.lowercase`, at most `data.max_examples` (if > 0)."""
        cfg = self.cfg
        if cfg.format == "text":
            pairs = text_pairs(cfg.train.source, cfg.train.target, self.held_out, cfg.lowercase)
        else:
            pairs = tsv_pairs(
                cfg.train.path, cfg.source_column, cfg.target_column, self.held_out, cfg.lowercase
            )
        return pairs.take(cfg.max_examples) if cfg.max_examples > 0 else pairs

    def summary(self, sample_pairs: int) -> dict:
        """stats.json's `streaming` entry: its `splits.train` describes a sample only."""
        return {
            "train_pairs": self.num_pairs,
            "train_pairs_counted": self.counted,
            "sample_pairs": sample_pairs,
        }


class TrainingData(NamedTuple):
    """`corpora` by split (train: every pair, or the sample when streaming) and the stream."""

    corpora: dict[str, Corpus]
    stream: TrainStream | None


def load_training_data(cfg: DataConfig) -> TrainingData:
    """The corpora of `cfg`, the training split streamed if `should_stream(cfg)`."""
    if not should_stream(cfg):
        return TrainingData(load_corpora(cfg), None)
    cut = [s for s in SPLITS if s != "train" and not getattr(cfg, s).is_given()]
    if cut:
        log.info("streaming: one pass over the training file for the %s pairs cut from it", cut)
        sample, held, count = _scan(cfg, cut)
    else:
        (sample, count), held = _head(cfg), {}
    corpora = {"train": _finish(sample, "train", cfg, skipped={})}
    for split in ("valid", "test"):
        if split in held:
            corpora[split] = _finish(Corpus(*held[split]), split, cfg, skipped={})
        else:
            corpora[split] = _finish(_read(cfg, split), split, cfg)
    if not corpora["train"]:
        raise DataError(f"the training split is empty (streamed from {_train_files(cfg)[0]})")
    held_sources = [s for split in cut for s in held[split][0]]
    num_pairs = _num_pairs(cfg, count, sample)
    stream = TrainStream(cfg, fingerprints(held_sources), *num_pairs)
    log.info(
        "streaming the training split from %s: %s%d pairs; sample of %d for the tokenizers "
        "and statistics",
        ", ".join(_train_files(cfg)),
        "" if stream.counted else "about ",
        stream.num_pairs,
        len(corpora["train"]),
    )
    return TrainingData(corpora, stream)


def should_stream(cfg: DataConfig) -> bool:
    """True if `cfg.streaming` is "true", or "auto" and the training files are large."""
    if cfg.format == "cmudict" or cfg.streaming == "false":
        return False
    if cfg.streaming == "true":
        return True
    return train_megabytes(cfg) > cfg.streaming_min_mb


def train_megabytes(cfg: DataConfig) -> float:
    """Size of the training file(s) on disk, in MB (1e6 bytes)."""
    total = 0
    for path in _train_files(cfg):
        try:
            total += Path(path).stat().st_size
        except FileNotFoundError:
            raise DataError(f"{path}: file not found") from None
    return total / 1e6


def _train_files(cfg: DataConfig) -> list[str]:
    return [cfg.train.source, cfg.train.target] if cfg.format == "text" else [cfg.train.path]


def _pairs(cfg: DataConfig) -> Iterator[tuple[str, str]]:
    """The training file's pairs, parsed like `read_parallel_text` / `read_tsv`, lazily."""
    if cfg.format == "text":
        source, target = cfg.train.source, cfg.train.target
        end = object()
        lines = itertools.zip_longest(read_lines(source), read_lines(target), fillvalue=end)
        for s, t in lines:
            if s is end or t is end:
                raise DataError(
                    f"{source} and {target} have different numbers of lines: parallel files "
                    "must be aligned line by line"
                )
            pair = s[1].strip(), t[1].strip()
            if all(pair):
                yield pair
        return
    for number, line in read_lines(cfg.train.path):
        pair = parse_tsv_row(
            line, cfg.source_column, cfg.target_column, f"{cfg.train.path}:{number}"
        )
        if pair is not None:
            yield pair


def _head(cfg: DataConfig) -> tuple[Corpus, int | None]:
    """The first `stream_sample_size` training pairs (at most `max_examples`), and the number
    of training pairs if that sample is all of them (else None)."""
    size = _sample_size(cfg)
    pairs = list(itertools.islice(_pairs(cfg), size + 1))
    count = len(pairs) if len(pairs) <= size else None
    pairs = pairs[:size]
    return Corpus([s for s, _ in pairs], [t for _, t in pairs], name="train"), count


def _scan(cfg: DataConfig, cut: list[str]) -> tuple[Corpus, dict, int]:
    """One pass: the sample, the pairs of each split in `cut` ({split: (sources, targets)})
    and the number of training pairs."""
    size, count = _sample_size(cfg), 0
    sample: tuple[list[str], list[str]] = ([], [])
    held: dict[str, tuple[list[str], list[str]]] = {s: ([], []) for s in cut}
    for source, target in _pairs(cfg):
        split = assign_split(source, cfg.split_fractions, cfg.split_seed)
        if split in held:
            held[split][0].append(source)
            held[split][1].append(target)
            continue
        count += 1
        if len(sample[0]) < size:
            sample[0].append(source)
            sample[1].append(target)
    return Corpus(*sample, name="train"), held, count


def _sample_size(cfg: DataConfig) -> int:
    return min(cfg.stream_sample_size, cfg.max_examples or cfg.stream_sample_size)


def _num_pairs(cfg: DataConfig, counted: int | None, sample: Corpus) -> tuple[int, bool]:
    """(training pairs, exact?): counted, or estimated from the training file's size and the
    sample's bytes per pair (gzip: by counting the file's lines, one pass)."""
    if counted is not None:
        pairs = counted
    elif Path(_train_files(cfg)[0]).suffix == ".gz":
        pairs = count_lines(_train_files(cfg)[0])
    else:
        # Both sides, plus a newline each (text) or a tab and a newline (tsv).
        texts = itertools.chain(sample.sources, sample.targets)
        sample_bytes = sum(len(x.encode("utf-8")) + 1 for x in texts)
        pairs = round(len(sample) * train_megabytes(cfg) * 1e6 / max(sample_bytes, 1))
    if cfg.max_examples > 0:
        pairs = min(pairs, cfg.max_examples)
    return pairs, counted is not None


def count_lines(path: str | Path) -> int:
    """Newlines in a file (gzip if `.gz`), read in 1 MB blocks: ~1 GB/s uncompressed."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    lines, last = 0, b"\n"
    with opener(path, "rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def _read(cfg: DataConfig, split: str) -> Corpus:
    files = getattr(cfg, split)
    if cfg.format == "text":
        return read_parallel_text(files.source, files.target)
    return read_tsv(files.path, cfg.source_column, cfg.target_column)


def _finish(corpus: Corpus, split: str, cfg: DataConfig, skipped=None) -> Corpus:
    """Like `corpora.load_corpora`: name the split, apply `lowercase` and `max_examples`."""
    keep = len(corpus) if cfg.max_examples <= 0 else cfg.max_examples
    sources, targets = corpus.sources[:keep], corpus.targets[:keep]
    if cfg.lowercase:
        sources, targets = [s.lower() for s in sources], [t.lower() for t in targets]
    skipped = dict(corpus.skipped) if skipped is None else skipped
    return Corpus(sources=sources, targets=targets, name=split, skipped=skipped)
