"""Two-dimensional length buckets with a token budget per batch.

A pair goes to the bucket (i, j) of the first source boundary >= its source length and the first
target boundary >= its target length. Each side is padded to its own boundary, so a bucket always
gives the same shape (B_ij, S_i) / (B_ij, T_j), with B_ij = batch_tokens // max(S_i, T_j). Source
and target lengths are bucketed separately because letters are usually longer than phonemes:
padding both sides to one shared length would waste a large part of the target positions.
"""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf


def derive_boundaries(
    lengths: np.ndarray, ratio: float, configured: list[int] | None = None
) -> list[int]:
    """Padded lengths (increasing) covering every value in `lengths` (N,), a 1-D int array.

    With `configured`, its values below the longest length are kept. Otherwise boundaries start
    at the shortest length and grow by max(1, floor(b * ratio) - b): width-1 buckets for short
    lengths, geometric ones for long lengths (padding waste per bucket under about ratio - 1).
    The longest length is always the last boundary.
    """
    shortest, longest = int(lengths.min()), int(lengths.max())
    if configured is not None:
        return [b for b in configured if b < longest] + [longest]
    bounds = [shortest]
    while bounds[-1] < longest:
        bounds.append(min(longest, max(bounds[-1] + 1, int(bounds[-1] * ratio))))
    return bounds


@dataclass(frozen=True)
class BucketGrid:
    """Source x target buckets and the batch size of each under a token budget."""

    source_boundaries: list[int]
    target_boundaries: list[int]
    batch_tokens: int

    def batch_sizes(self) -> np.ndarray:
        """(n_source_buckets * n_target_buckets,) int64 batch sizes, indexed by bucket key."""
        widest = np.maximum.outer(self.source_boundaries, self.target_boundaries)
        return (self.batch_tokens // widest).reshape(-1).astype(np.int64)

    def keys(self, source_lengths: tf.Tensor, target_lengths: tf.Tensor) -> tf.Tensor:
        """Bucket keys int64 (N,) of pairs with lengths (N,) / (N,)."""
        i = tf.searchsorted(
            tf.constant(self.source_boundaries, tf.int32),
            tf.cast(source_lengths, tf.int32),
            side="left",
        )
        j = tf.searchsorted(
            tf.constant(self.target_boundaries, tf.int32),
            tf.cast(target_lengths, tf.int32),
            side="left",
        )
        return tf.cast(i * len(self.target_boundaries) + j, tf.int64)

    def widths(self, key: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The padded (source, target) lengths of bucket `key`, as int32 scalars."""
        i, j = key // len(self.target_boundaries), key % len(self.target_boundaries)
        source = tf.gather(tf.constant(self.source_boundaries, tf.int32), i)
        target = tf.gather(tf.constant(self.target_boundaries, tf.int32), j)
        return source, target


def bucketed_batches(grid: BucketGrid):
    """A dataset transformation: pools of padded examples -> bucketed batches.

    Input elements (pools of N pairs): {"source_ids": (N, S_max), "target_in_ids": (N, T_max),
    "target_out_ids": (N, T_max), "source_length": (N,), "target_length": (N,)}, zero-padded
    to fixed widths that cover the last boundaries. Output: the same keys batched by bucket
    (i, j) to (B_ij, ...), the id tensors cut to (B_ij, S_i) and (B_ij, T_j), plus "bucket".
    Bucket keys are computed per pool, not per example, which halves the cost on CPU.
    Incomplete batches come only at the end of a finite dataset.
    """
    sizes = tf.constant(grid.batch_sizes())

    def add_keys(pool):
        return {**pool, "bucket": grid.keys(pool["source_length"], pool["target_length"])}

    def reduce_func(key, window):
        source_width, target_width = grid.widths(key)
        return window.batch(tf.gather(sizes, key)).map(
            lambda batch: cut_to_widths(batch, source_width, target_width)
        )

    def apply(pools: tf.data.Dataset) -> tf.data.Dataset:
        return (
            pools.map(add_keys)
            .unbatch()
            .group_by_window(
                lambda example: example["bucket"],
                reduce_func,
                window_size_func=lambda key: tf.gather(sizes, key),
            )
        )

    return apply


def cut_to_widths(batch: dict, source_width: tf.Tensor, target_width: tf.Tensor) -> dict:
    """Cut padded "source_ids" (B, S_max) to (B, source_width) and "target_in_ids",
    "target_out_ids" (B, T_max) to (B, target_width); other keys unchanged."""
    batch = dict(batch)
    batch["source_ids"] = batch["source_ids"][:, :source_width]
    for name in ("target_in_ids", "target_out_ids"):
        batch[name] = batch[name][:, :target_width]
    return batch
