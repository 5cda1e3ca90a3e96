"""Padding and bucketing, measured on the real training pipeline: length histograms, the
real-token fraction of the batches, and tokens/s for random vs bucketed batches under several
`data.batch_tokens` / `data.bucket_width_ratio` values.

Imports TensorFlow (through `seq2seq.data`). A train step to time is passed in by the caller
(`seq2seq.training.steps.make_train_step`), which keeps this package below `training`.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from seq2seq.config import DataConfig, TrainRunConfig, validate
from seq2seq.constants import BATCH_KEYS
from seq2seq.data.corpora import Corpus, load_corpora
from seq2seq.data.pipeline import Lengths, make_train_dataset, train_bucket_grid
from seq2seq.data.stats import padding_counts
from seq2seq.data.tokenizer import Tokenizers, load_tokenizers
from seq2seq.runs import RunDir

Step = Callable[[dict, object, object], object]  # step(x, y, sample_weight), e.g. a train step


def run_data(
    run_dir: str | Path, max_examples: int = 0
) -> tuple[TrainRunConfig, Corpus, Tokenizers]:
    """A run's config, training corpus (the first `max_examples` pairs if > 0; 0 = as the run
    used it) and tokenizers."""
    run = RunDir(run_dir)
    cfg = validate(OmegaConf.load(run.config), TrainRunConfig)
    if max_examples > 0:
        cfg = replace(cfg, data=replace(cfg.data, max_examples=max_examples))
    return cfg, load_corpora(cfg.data)["train"], load_tokenizers(run.tokenizer)


def fresh_model(cfg: TrainRunConfig, tokenizers: Tokenizers):
    """An untrained model of the run's architecture, its variables built (for timing steps)."""
    from seq2seq.model import build_model, build_variables

    model = build_model(cfg.model, tokenizers.source.vocab_size, tokenizers.target.vocab_size)
    build_variables(model)
    return model


def batching_configs(
    cfg: DataConfig, batch_sizes: list[int], batch_tokens: list[int], ratios: list[float]
) -> dict[str, DataConfig]:
    """{name: data config}: random batches of each size, bucketed batches of each token
    budget x bucket width ratio."""
    configs = {f"random {b}": replace(cfg, batching="random", batch_size=b) for b in batch_sizes}
    for tokens in batch_tokens:
        for ratio in ratios:
            configs[f"bucketed {tokens} tok, ratio {ratio:g}"] = replace(
                cfg, batching="bucketed", batch_tokens=tokens, bucket_width_ratio=ratio
            )
    return configs


def batching_table(
    corpus: Corpus,
    tokenizers: Tokenizers,
    configs: dict[str, DataConfig],
    seed: int,
    step: Step | None = None,
    steps: int = 20,
    rounds: int = 2,
) -> pd.DataFrame:
    """One row per config: batches, mean batch size, distinct shapes and real-token fractions
    of one epoch; `pipeline_tokens_per_sec` (real target tokens the input pipeline delivers);
    with `step`, `step_tokens_per_sec`: real target tokens/s through `step` (median of
    `rounds` rounds of `steps` steps, configs interleaved, after one untimed warm-up step)."""
    rows = {}
    for name, cfg in configs.items():
        started = time.perf_counter()
        counts = padding_counts(make_train_dataset(corpus, tokenizers, cfg, seed, repeat=False))
        seconds = time.perf_counter() - started
        rows[name] = {
            "batching": cfg.batching,
            "batch_tokens": cfg.batch_tokens if cfg.batching == "bucketed" else None,
            "bucket_width_ratio": cfg.bucket_width_ratio if cfg.batching == "bucketed" else None,
            "batch_size": cfg.batch_size if cfg.batching == "random" else None,
            "batches": counts["batches"],
            "mean_batch": counts["examples"] / max(counts["batches"], 1),
            "shapes": counts["shapes"],
            "source_real_fraction": counts["source"]["real_token_fraction"],
            "target_real_fraction": counts["target"]["real_token_fraction"],
            "pipeline_tokens_per_sec": counts["target"]["real_tokens"] / seconds,
        }
    if step is not None:
        rates = _step_rates(corpus, tokenizers, configs, seed, step, steps, rounds)
        for name, rate in rates.items():
            rows[name]["step_tokens_per_sec"] = rate
    return pd.DataFrame.from_dict(rows, orient="index")


def _step_rates(corpus, tokenizers, configs, seed, step, steps, rounds) -> dict[str, float]:
    """Median real target tokens/s of `step` on each config's batches."""
    iterators = {
        name: iter(make_train_dataset(corpus, tokenizers, cfg, seed))
        for name, cfg in configs.items()
    }
    for iterator in iterators.values():
        _time_steps(iterator, step, 1)  # traces the step, fills the pipeline
    rates: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, iterator in iterators.items():
            tokens, seconds = _time_steps(iterator, step, steps)
            rates[name].append(tokens / seconds)
    return {name: statistics.median(values) for name, values in rates.items()}


def _time_steps(iterator, step: Step, steps: int) -> tuple[int, float]:
    """(real target tokens, seconds) of `steps` calls of `step` on the next batches."""
    tokens, seconds = 0, 0.0
    for _ in range(steps):
        x, y, mask = next(iterator)
        tokens += int(np.asarray(mask).sum())
        started = time.perf_counter()
        out = step({k: x[k] for k in BATCH_KEYS}, y, mask)
        _wait(out)
        seconds += time.perf_counter() - started
    return tokens, seconds


def _wait(out) -> None:
    """Block until the step's results exist (TensorFlow runs ops asynchronously)."""
    values = out.values() if isinstance(out, dict) else [out]
    for value in values:
        if hasattr(value, "numpy"):
            value.numpy()


def plot_lengths(corpus: Corpus, tokenizers: Tokenizers, cfg: DataConfig) -> plt.Figure:
    """Histograms of source and target lengths (in tokens, as the pipeline counts them) with
    the bucket boundaries `cfg` derives from them as dashed lines."""
    lengths = Lengths.of(corpus, tokenizers)
    keep = lengths.fits(cfg)
    grid = train_bucket_grid(lengths, keep, cfg)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    sides = (
        ("source", lengths.source, grid.source_boundaries),
        ("target", lengths.target, grid.target_boundaries),
    )
    for ax, (side, values, bounds) in zip(axes, sides):
        ax.hist(values, bins=np.arange(values.min(), values.max() + 2) - 0.5)
        for bound in bounds:
            ax.axvline(bound + 0.5, color="gray", linestyle="--", linewidth=0.7)
        ax.set_title(f"{side} lengths ({len(bounds)} buckets, ratio {cfg.bucket_width_ratio:g})")
        ax.set_xlabel("tokens")
    fig.tight_layout()
    return fig


def plot_batching(table: pd.DataFrame) -> plt.Figure:
    """Bars per config: real-token fraction (source, target) and the tokens/s columns."""
    rates = [c for c in ("pipeline_tokens_per_sec", "step_tokens_per_sec") if c in table]
    fig, axes = plt.subplots(
        1, 1 + len(rates), figsize=(5 * (1 + len(rates)), 3 + 0.2 * len(table))
    )
    y = np.arange(len(table))
    axes[0].barh(y - 0.2, table["source_real_fraction"], height=0.4, label="source")
    axes[0].barh(y + 0.2, table["target_real_fraction"], height=0.4, label="target")
    axes[0].set_title("real-token fraction")
    axes[0].legend(fontsize=7)
    for ax, column in zip(axes[1:], rates):
        ax.barh(y, table[column])
        ax.set_title(column.replace("_", " "))
    for ax in axes:
        ax.set_yticks(y, table.index if ax is axes[0] else [""] * len(y))
        ax.invert_yaxis()
    fig.tight_layout()
    return fig
