"""In-graph readers of training files: (source, target) string pairs as a tf.data stream.

They parse like the readers in `seq2seq.data.corpora`, so that a file gives the same pairs
streamed or read into memory:

- text: line i of the source file with line i of the target file; both stripped; a pair with
  an empty side is skipped. Files of different lengths fail when the shorter one ends.
- tsv: columns `source_column`, `target_column` (0-based) of each line, stripped; empty
  lines and rows with an empty field are skipped; a row with too few columns fails naming
  file and line.

Files ending in .gz are read as gzip. Lines are handled in pools of POOL_SIZE (per-line
tf.data work is slow on CPU) and unbatched at the end. Pairs whose source fingerprint is in
`held_out` (int64, sorted) are left out: the valid/test pairs cut from the training file.
A failed check raises tf.errors.InvalidArgumentError while iterating, with the message after
DATA_ERROR_MARK; `next_pairs` turns it into a one-line DataError.

Differences to the Python readers: tf.strings.strip and tf.strings.lower handle ASCII
whitespace and case only where Python also strips Unicode spaces and folds every case, and
invalid UTF-8 is not reported here (SentencePiece replaces it).
"""

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from seq2seq.data.corpora.tsv import tsv_columns_error, tsv_columns_needed
from seq2seq.errors import DataError

POOL_SIZE = 1024
# tf.strings.to_hash_bucket_fast with this many buckets: a 63-bit fingerprint of a string.
FINGERPRINT_BUCKETS = 2**63 - 1
_READ_BUFFER = 1 << 20  # bytes
# Starts the message of every in-graph check of the files, so that it can be told from other
# InvalidArgumentErrors and shown as a DataError.
DATA_ERROR_MARK = "bad training data: "


def next_pairs(iterator: Iterator):
    """`next(iterator)` of a dataset built on these readers; a failed file check (which
    TensorFlow reports as an InvalidArgumentError with a traceback) raises DataError with its
    one-line message instead. Other errors propagate unchanged."""
    try:
        return next(iterator)
    except tf.errors.InvalidArgumentError as exc:
        found = re.search(re.escape(DATA_ERROR_MARK) + r"([^\n\]]*)", exc.message or "")
        if found is None:
            raise
        raise DataError(found.group(1).strip()) from None


def fingerprints(strings: list[str]) -> np.ndarray:
    """Sorted distinct int64 fingerprints of `strings` (the `held_out` argument)."""
    if not strings:
        return np.zeros([0], np.int64)
    return np.unique(tf.strings.to_hash_bucket_fast(strings, FINGERPRINT_BUCKETS).numpy())


def text_pairs(
    source: str, target: str, held_out: np.ndarray, lowercase: bool = False
) -> tf.data.Dataset:
    """Pairs of two aligned plain-text files (see the module docstring)."""
    message = (
        f"{DATA_ERROR_MARK}{source} and {target} have different numbers of lines: parallel "
        "files must be aligned line by line"
    )

    def parse(sources, targets):  # pools (N,), (M,): N == M except at a length mismatch
        aligned = tf.debugging.Assert(tf.size(sources) == tf.size(targets), [message])
        # The pairing ops after it, or their shape error may come first (seen with one thread).
        with tf.control_dependencies([aligned]):
            sources, targets = tf.strings.strip(sources), tf.strings.strip(targets)
        return _keep(sources, targets, held_out, lowercase)

    pools = tf.data.Dataset.zip(_until_both_end(_lines(source)), _until_both_end(_lines(target)))
    pools = pools.take_while(lambda s, t: tf.size(s) + tf.size(t) > 0)
    return pools.map(parse).unbatch()


def tsv_pairs(
    path: str,
    source_column: int,
    target_column: int,
    held_out: np.ndarray,
    lowercase: bool = False,
) -> tf.data.Dataset:
    """Pairs from two columns of a tab-separated file (see the module docstring)."""
    needed = tsv_columns_needed(source_column, target_column)
    escaped = path.replace("{", "{{").replace("}", "}}")
    template = DATA_ERROR_MARK + tsv_columns_error(escaped + ":{}", needed)

    def parse(pool_index, lines):  # int64 scalar, strings (N,)
        filled = tf.strings.strip(lines) != ""
        fields = tf.strings.split(lines, "\t")  # ragged (N, None)
        short = filled & (fields.row_lengths() < needed)
        line = pool_index * POOL_SIZE + tf.argmax(tf.cast(short, tf.int64)) + 1
        tf.debugging.Assert(
            ~tf.reduce_any(short),
            [tf.strings.format(template, line)],
        )
        fields = tf.ragged.boolean_mask(fields, filled).to_tensor("", shape=[None, needed])
        sources = tf.strings.strip(fields[:, source_column])
        targets = tf.strings.strip(fields[:, target_column])
        return _keep(sources, targets, held_out, lowercase)

    return _lines(path).enumerate().map(lambda i, pool: parse(i, pool)).unbatch()


def _lines(path: str) -> tf.data.Dataset:
    """Pools of up to POOL_SIZE lines (without newline, \\r stripped) of a file."""
    compression = "GZIP" if Path(path).suffix == ".gz" else ""
    dataset = tf.data.TextLineDataset(path, compression_type=compression, buffer_size=_READ_BUFFER)
    return dataset.batch(POOL_SIZE)


def _until_both_end(pools: tf.data.Dataset) -> tf.data.Dataset:
    """The pools, then empty pools forever: zipped, two files end together or fail the size
    check, instead of the longer one being cut silently."""
    empty = tf.data.Dataset.from_tensors(tf.zeros([0], tf.string)).repeat()
    return pools.concatenate(empty)


def _keep(sources: tf.Tensor, targets: tf.Tensor, held_out: np.ndarray, lowercase: bool):
    """The pairs (N,), (N,) with two non-empty sides and a source not in `held_out`, both
    sides lower-cased if `lowercase`."""
    keep = (sources != "") & (targets != "")
    if len(held_out):
        table = tf.constant(held_out, tf.int64)
        keys = tf.strings.to_hash_bucket_fast(sources, FINGERPRINT_BUCKETS)
        at = tf.minimum(tf.searchsorted(table, keys), len(held_out) - 1)
        keep &= tf.gather(table, at) != keys
    sources, targets = tf.boolean_mask(sources, keep), tf.boolean_mask(targets, keep)
    if lowercase:
        sources = tf.strings.lower(sources, encoding="utf-8")
        targets = tf.strings.lower(targets, encoding="utf-8")
    return sources, targets
