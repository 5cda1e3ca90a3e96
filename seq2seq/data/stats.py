"""Corpus, length and padding statistics, written by `seq2seq-prepare` to RUN/stats.json.

Lengths are in tokens as the pipeline counts them: source = pieces + eos, target = pieces + 1
(bos + pieces in, pieces + eos out). Fields of stats.json:

- `splits.<train|valid|test>`:
  - `pairs`: (source, target) pairs; `distinct_sources`: distinct source strings.
  - `skipped.<reason>`: lines skipped while reading the file(s): `empty` (blank line or an
    empty side), `duplicate` (a CMUdict pair repeated once stress is stripped). Splits cut from
    the train file report their skipped lines under `train`.
  - `source_length`, `target_length`: `min`, `mean`, `p50`, `p90`, `p99`, `max`.
  - train only: `kept` (pairs used for training) and `dropped.source_too_long` (source over
    data.max_source_length), `dropped.target_too_long` (source fits, target over
    data.max_target_length).
  - valid/test only: `truncated.source`, `truncated.target`: sides over the limits, which
    evaluation truncates (keeping eos) instead of dropping.
- `tokenizer`: `shared` (both sides use the same model), `source_vocab_size`,
  `target_vocab_size` (the sizes of the models used, also with `tokenizer.*.vocab_size=auto`),
  and `source_unk_fraction`, `target_unk_fraction`: the share of training pieces that are
  <unk>.
- `buckets`: `source_boundaries`, `target_boundaries` (padded lengths), `batch_tokens`.
- `batching.<bucketed|random>`: one epoch of training batches (every kept pair once):
  - `batches`, `examples`, `shapes` (distinct padded (source, target) batch shapes).
  - `source`, `target`: `real_tokens` (non-padding positions), `padded_positions` (padding
    positions), `real_token_fraction` = real_tokens / (real_tokens + padded_positions).
- `streaming` (only when the training split is streamed, see data/streaming.py): `train_pairs`,
  `train_pairs_counted` (false: estimated from the line count) and `sample_pairs`; `splits.train`,
  `tokenizer`, `buckets` and `batching` then describe that sample of the first pairs.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from seq2seq.config.data import SPLITS, DataConfig
from seq2seq.constants import SOURCE_PADDING_MASK, TARGET_PADDING_MASK, UNK_ID
from seq2seq.data.corpora import Corpus
from seq2seq.data.pipeline import Lengths, make_train_dataset, train_bucket_grid
from seq2seq.data.tokenizer import Tokenizers

BATCHING_MODES = ("bucketed", "random")


def compute_stats(
    corpora: dict[str, Corpus], tokenizers: Tokenizers, cfg: DataConfig, seed: int
) -> dict:
    """All fields of stats.json (see the module docstring)."""
    lengths = {split: Lengths.of(corpora[split], tokenizers) for split in SPLITS}
    train, keep = corpora["train"], lengths["train"].fits(cfg)
    grid = train_bucket_grid(lengths["train"], keep, cfg)
    return {
        "splits": {s: _split_stats(corpora[s], lengths[s], cfg, s == "train") for s in SPLITS},
        "tokenizer": _tokenizer_stats(tokenizers, train),
        "buckets": {
            "source_boundaries": grid.source_boundaries,
            "target_boundaries": grid.target_boundaries,
            "batch_tokens": cfg.batch_tokens,
        },
        "batching": {
            mode: padding_counts(
                make_train_dataset(
                    train, tokenizers, dataclasses.replace(cfg, batching=mode), seed, repeat=False
                )
            )
            for mode in BATCHING_MODES
        },
    }


def padding_counts(dataset: tf.data.Dataset) -> dict:
    """Batches, examples, distinct shapes and per-side real/padded counts of a finite dataset
    of (x, y, sample_weight) batches."""
    batches, examples, shapes = 0, 0, set()
    real = {"source": 0, "target": 0}
    positions = {"source": 0, "target": 0}
    for x, _, _ in dataset:
        masks = {
            "source": x[SOURCE_PADDING_MASK].numpy(),
            "target": x[TARGET_PADDING_MASK].numpy(),
        }
        batches += 1
        examples += len(masks["source"])
        shapes.add((masks["source"].shape[1], masks["target"].shape[1]))
        for side, mask in masks.items():
            real[side] += int(mask.sum())
            positions[side] += mask.size
    counts = {"batches": batches, "examples": examples, "shapes": len(shapes)}
    for side in real:
        counts[side] = {
            "real_tokens": real[side],
            "padded_positions": positions[side] - real[side],
            "real_token_fraction": round(real[side] / max(positions[side], 1), 4),
        }
    return counts


def _split_stats(corpus: Corpus, lengths: Lengths, cfg: DataConfig, is_train: bool) -> dict:
    stats = {
        "pairs": len(corpus),
        "distinct_sources": len(set(corpus.sources)),
        "skipped": dict(corpus.skipped),
        "source_length": _summary(lengths.source),
        "target_length": _summary(lengths.target),
    }
    source_over = lengths.source > cfg.max_source_length
    target_over = lengths.target > cfg.max_target_length
    if is_train:
        stats["kept"] = int((~source_over & ~target_over).sum())
        stats["dropped"] = {
            "source_too_long": int(source_over.sum()),
            "target_too_long": int((~source_over & target_over).sum()),
        }
    else:
        stats["truncated"] = {"source": int(source_over.sum()), "target": int(target_over.sum())}
    return stats


def _summary(lengths: np.ndarray) -> dict:
    """min, mean, percentiles and max of (N,) lengths (all 0 when N = 0)."""
    if not len(lengths):
        return {key: 0 for key in ("min", "mean", "p50", "p90", "p99", "max")}
    p50, p90, p99 = np.percentile(lengths, [50, 90, 99])
    return {
        "min": int(lengths.min()),
        "mean": round(float(lengths.mean()), 2),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": int(lengths.max()),
    }


def _tokenizer_stats(tokenizers: Tokenizers, train: Corpus) -> dict:
    def unk_fraction(tokenizer, texts):
        ids = [i for row in tokenizer.encode(texts) for i in row]
        return round(ids.count(UNK_ID) / max(len(ids), 1), 6)

    return {
        "shared": tokenizers.source.model_proto == tokenizers.target.model_proto,
        "source_vocab_size": tokenizers.source.vocab_size,
        "target_vocab_size": tokenizers.target.vocab_size,
        "source_unk_fraction": unk_fraction(tokenizers.source, train.sources),
        "target_unk_fraction": unk_fraction(tokenizers.target, train.targets),
    }


def format_table(stats: dict) -> str:
    """A short human-readable summary of `stats`."""
    lines = [
        f"{'split':<6} {'pairs':>8} {'sources':>8}  {'skipped':<22} "
        f"{'source p50/p99/max':>18} {'target p50/p99/max':>18}"
    ]
    for split, s in stats["splits"].items():
        skipped = ", ".join(f"{k} {v}" for k, v in s["skipped"].items() if v) or "-"
        lines.append(
            f"{split:<6} {s['pairs']:>8} {s['distinct_sources']:>8}  {skipped:<22} "
            f"{_lengths(s['source_length']):>18} {_lengths(s['target_length']):>18}"
        )
    train, tok = stats["splits"]["train"], stats["tokenizer"]
    lines.append(
        f"training pairs: {train['kept']} kept; dropped "
        f"{train['dropped']['source_too_long']} (source too long), "
        f"{train['dropped']['target_too_long']} (target too long)"
    )
    lines.append(
        f"vocab: source {tok['source_vocab_size']} (unk {tok['source_unk_fraction']:.2%}),"
        f" target {tok['target_vocab_size']} (unk {tok['target_unk_fraction']:.2%})"
        f"{', shared' if tok['shared'] else ''}"
    )
    lines.append(
        f"{'batching':<9} {'batches':>8} {'shapes':>7} {'source real/padded':>22} "
        f"{'fraction':>8} {'target real/padded':>22} {'fraction':>8}"
    )
    for mode, b in stats["batching"].items():
        lines.append(
            f"{mode:<9} {b['batches']:>8} {b['shapes']:>7} "
            f"{_padding(b['source'])} {_padding(b['target'])}"
        )
    return "\n".join(lines)


def _lengths(summary: dict) -> str:
    return f"{summary['p50']:g}/{summary['p99']:g}/{summary['max']}"


def _padding(side: dict) -> str:
    return (
        f"{side['real_tokens']:>11}/{side['padded_positions']:<10} "
        f"{side['real_token_fraction']:>8.3f}"
    )
