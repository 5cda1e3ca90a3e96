"""tf.data pipelines: string pairs -> model batches `(x, y, sample_weight)`.

    x = {SOURCE_IDS: int32 (B, S), SOURCE_PADDING_MASK: bool (B, S),
         TARGET_IN_IDS: int32 (B, T), TARGET_PADDING_MASK: bool (B, T)}
    y = target_out_ids: int32 (B, T);  sample_weight = target_padding_mask

Ids, truncation and masks come from `preprocessor.py` (also used by the exported SavedModel).

Training: strings are shuffled, packed in pools of POOL_SIZE (in the graph) to fixed widths,
then batched by length bucket under a token budget (`bucketing.py`) or into plain fixed-size
batches (`data.batching=random`), and only then turned into model inputs. The strings come from
an in-memory corpus, or stream from the files (`streaming.py`: memory flat in corpus size).
Pairs over the length limits are dropped: in memory, before the dataset is built; streamed or
with subword sampling (`tokenizer.sampling`), in the graph after tokenizing, with buckets up to
the limits. Sampling applies to training batches only. Evaluation: corpus order sorted by length,
over-long pairs truncated (keeping eos), x[EXAMPLE_INDEX] gives each row's position in the
corpus.
"""

import logging
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from seq2seq.config.data import DataConfig, SamplingConfig
from seq2seq.constants import EXAMPLE_INDEX
from seq2seq.data.bucketing import (
    BucketGrid,
    bucketed_batches,
    cut_to_widths,
    derive_boundaries,
)
from seq2seq.data.corpora import Corpus
from seq2seq.data.preprocessor import SOURCE_LENGTH, TARGET_LENGTH, Preprocessor, model_inputs
from seq2seq.data.streaming import TrainStream
from seq2seq.data.tokenizer import Tokenizers
from seq2seq.errors import DataError

POOL_SIZE = 1024  # strings tokenized per call: per-example tf.data work is slow on CPU

log = logging.getLogger(__name__)


@dataclass
class Lengths:
    """Token lengths as the pipeline counts them: source pieces + 1, target pieces + 1."""

    source: np.ndarray  # (N,) int
    target: np.ndarray  # (N,) int

    @classmethod
    def of(cls, corpus: Corpus, tokenizers: Tokenizers) -> "Lengths":
        def count(tokenizer, texts):
            return np.array([len(ids) + 1 for ids in tokenizer.encode(texts)], dtype=np.int64)

        return cls(
            count(tokenizers.source, corpus.sources), count(tokenizers.target, corpus.targets)
        )

    def fits(self, cfg: DataConfig) -> np.ndarray:
        """(N,) bool: both sides within `max_source_length` / `max_target_length`."""
        return (self.source <= cfg.max_source_length) & (self.target <= cfg.max_target_length)


def make_train_dataset(
    corpus: Corpus,
    tokenizers: Tokenizers,
    cfg: DataConfig,
    seed: int,
    repeat: bool = True,
    stream: TrainStream | None = None,
    sampling: SamplingConfig | None = None,
) -> tf.data.Dataset:
    """Shuffled training batches; an endless, reshuffled stream if `repeat`, else one epoch.

    In memory, the pairs of `corpus`; with `stream` (`streaming.load_training_data`), the
    pairs read from the training files (`corpus` is then only a sample and is not used).
    `sampling`: sample segmentations (SentencePiece subword regularisation).

    Deterministic for a given `seed` (unless sampling); built without Python callbacks, so its
    iterator can be saved with tf.train.Checkpoint. Raises DataError if no pair of an
    in-memory corpus fits the length limits.
    """
    sampled = sampling is not None and sampling.enabled
    if stream is None:
        pairs, lengths, keep = _in_memory_pairs(corpus, tokenizers, cfg, seed)
        grid = train_bucket_grid(lengths, keep, cfg)
    else:
        pairs = stream.pairs()
    if stream is not None or sampled:
        # Lengths known only in the graph: pairs over the limits are dropped there, and the
        # buckets reach up to the limits.
        grid = limit_bucket_grid(cfg)
    pairs = pairs.shuffle(_buffer(cfg, stream, pairs), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        pairs = pairs.repeat()
    pack = _packer(tokenizers, cfg, sampling, drop_too_long=stream is not None or sampled)
    pools = pairs.batch(POOL_SIZE).map(pack, num_parallel_calls=_parallel(cfg))
    if cfg.batching == "bucketed":
        dataset = pools.apply(bucketed_batches(grid))
    else:
        dataset = pools.unbatch().batch(cfg.batch_size).map(_cut_to_longest)
    return _finish(dataset.map(model_inputs, num_parallel_calls=_parallel(cfg)))


def _in_memory_pairs(corpus: Corpus, tokenizers: Tokenizers, cfg: DataConfig, seed: int):
    """(pairs dataset, lengths of `corpus`, (N,) bool pairs that fit): the fitting pairs of
    `corpus`, permuted once if the shuffle buffer is smaller than their number."""
    lengths = Lengths.of(corpus, tokenizers)
    keep = lengths.fits(cfg)
    if not keep.any():
        raise DataError(
            f"corpus {corpus.name!r}: none of its {len(corpus)} pairs fits "
            f"data.max_source_length={cfg.max_source_length} and "
            f"data.max_target_length={cfg.max_target_length}"
        )
    # Permute once, so that a shuffle buffer smaller than the corpus does not start from (and
    # keep near) file order; the buffer then reshuffles every epoch. A buffer that holds the
    # whole corpus shuffles it uniformly alone (and then matches the streamed order).
    order = np.flatnonzero(keep)
    if cfg.shuffle_buffer < len(order):
        order = np.random.default_rng(seed).permutation(order)
    pairs = tf.data.Dataset.from_tensor_slices(
        ([corpus.sources[i] for i in order], [corpus.targets[i] for i in order])
    )
    return pairs, lengths, keep


def _buffer(cfg: DataConfig, stream: TrainStream | None, pairs: tf.data.Dataset) -> int:
    """The shuffle buffer: `data.shuffle_buffer` pairs, or fewer for a smaller corpus. The
    iterator checkpoint stores every slot of it (about 0.3 KB each, even when empty)."""
    size = int(pairs.cardinality()) if stream is None else stream.num_pairs
    return max(1, min(cfg.shuffle_buffer, size))


def train_bucket_grid(lengths: Lengths, keep: np.ndarray, cfg: DataConfig) -> BucketGrid:
    """The buckets of the kept training pairs (`keep`: (N,) bool)."""
    ratio, configured = cfg.bucket_width_ratio, cfg.bucket_boundaries
    return BucketGrid(
        source_boundaries=derive_boundaries(lengths.source[keep], ratio, configured),
        target_boundaries=derive_boundaries(lengths.target[keep], ratio, configured),
        batch_tokens=cfg.batch_tokens,
    )


def limit_bucket_grid(cfg: DataConfig) -> BucketGrid:
    """Buckets from length 1 up to the length limits, for pairs whose lengths are not known
    before training (streamed, or sampled segmentations). The boundaries that a corpus's
    lengths reach are those of `train_bucket_grid` (same batch sizes); the others stay empty."""
    ratio, configured = cfg.bucket_width_ratio, cfg.bucket_boundaries

    def bounds(limit: int) -> list[int]:
        return derive_boundaries(np.array([1, limit]), ratio, configured)

    return BucketGrid(
        source_boundaries=bounds(cfg.max_source_length),
        target_boundaries=bounds(cfg.max_target_length),
        batch_tokens=cfg.batch_tokens,
    )


def make_eval_dataset(corpus: Corpus, tokenizers: Tokenizers, cfg: DataConfig) -> tf.data.Dataset:
    """Batches of `cfg.eval_batch_size` pairs sorted by length, padded to the batch maximum.

    Every pair is kept: over-long sides are truncated to the limits (keeping eos), with a
    logged count. x[EXAMPLE_INDEX] int64 (B,) is each row's index in `corpus`. Raises
    DataError for an empty corpus.
    """
    if not len(corpus):
        raise DataError(f"corpus {corpus.name!r} is empty: nothing to evaluate")
    lengths = Lengths.of(corpus, tokenizers)
    _warn_truncated(corpus.name, lengths, cfg)
    order = np.lexsort((lengths.target, lengths.source))  # by source, then target length
    dataset = tf.data.Dataset.from_tensor_slices(
        ([corpus.sources[i] for i in order], [corpus.targets[i] for i in order], order)
    )
    dataset = dataset.batch(cfg.eval_batch_size).map(
        _eval_batch(tokenizers, cfg), num_parallel_calls=_parallel(cfg)
    )
    return _finish(dataset, autotune=False)


# Traced evaluation batch functions, by tokenizer models and length limits (see _eval_batch).
_EVAL_BATCHES: dict[tuple, tf.types.experimental.PolymorphicFunction] = {}
_EVAL_BATCHES_KEPT = 8


def _eval_batch(tokenizers: Tokenizers, cfg: DataConfig):
    """strings (B,), (B,), int64 (B,) -> (x with EXAMPLE_INDEX, y, weight), as a tf.function
    kept per tokenizers and length limits: every evaluation dataset (each validation, each
    decoded file) reuses its trace instead of tracing the tokenizers again, 0.1-0.3 s a call."""
    key = (
        tokenizers.source.model_proto,
        tokenizers.target.model_proto,
        cfg.max_source_length,
        cfg.max_target_length,
    )
    if key not in _EVAL_BATCHES:
        if len(_EVAL_BATCHES) >= _EVAL_BATCHES_KEPT:
            _EVAL_BATCHES.clear()

        @tf.function
        def batch(sources, targets, example_index):
            # Tokenizers built in the graph: they survive tf.random.set_seed (tf_tokenizer).
            x, y, weight = Preprocessor.for_corpus(tokenizers, cfg)(sources, targets)
            return {**x, EXAMPLE_INDEX: example_index}, y, weight

        _EVAL_BATCHES[key] = batch
    return _EVAL_BATCHES[key]


def _packer(
    tokenizers: Tokenizers,
    cfg: DataConfig,
    sampling: SamplingConfig | None = None,
    drop_too_long: bool = False,
):
    """A pool of strings (N,), (N,) -> ids padded to the length limits, and lengths."""

    def pack(sources, targets):
        preprocessor = Preprocessor.for_corpus(tokenizers, cfg, sampling)
        return preprocessor.pack(sources, targets, pad_to_limits=True, drop_too_long=drop_too_long)

    return pack


def _cut_to_longest(batch: dict) -> dict:
    """Cut fixed-width padded ids (B, S_max) / (B, T_max) to the batch's longest row."""
    return cut_to_widths(
        batch, tf.reduce_max(batch[SOURCE_LENGTH]), tf.reduce_max(batch[TARGET_LENGTH])
    )


def _warn_truncated(name: str, lengths: Lengths, cfg: DataConfig) -> None:
    sources = int((lengths.source > cfg.max_source_length).sum())
    targets = int((lengths.target > cfg.max_target_length).sum())
    if sources or targets:
        log.warning(
            "%s: truncated %d source(s) longer than data.max_source_length=%d and %d target(s) "
            "longer than data.max_target_length=%d",
            name,
            sources,
            cfg.max_source_length,
            targets,
            cfg.max_target_length,
        )


def _parallel(cfg: DataConfig) -> int:
    return tf.data.AUTOTUNE if cfg.num_parallel_calls == -1 else cfg.num_parallel_calls


def _finish(dataset: tf.data.Dataset, autotune: bool = True) -> tf.data.Dataset:
    """Prefetch, with deterministic element order.

    `autotune=False` for the short-lived evaluation iterators: deleting an iterator waits for
    tf.data's autotuning thread, which took 0.05-2 s per decoded corpus (2 ms without it);
    AUTOTUNE parallelism then means one call per core."""
    options = tf.data.Options()
    options.deterministic = True
    options.autotune.enabled = autotune
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)
