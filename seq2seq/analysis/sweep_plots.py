"""A sweep as a data frame (the rows of summary.csv) and its metric against each hyperparameter
the sweep varied."""

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from seq2seq.analysis.sweeps import job_dirs, summarize_sweep, sweep_objective, varying_overrides
from seq2seq.runs.job_status import OK


def latest_sweep(root: str | Path) -> Path:
    """The newest sweep directory under `root` (one holding job directories)."""
    sweeps = [p for p in Path(root).glob("*") if p.is_dir() and job_dirs(p)]
    if not sweeps:
        raise FileNotFoundError(f"no sweep with jobs under {root}")
    return max(sweeps, key=lambda p: p.stat().st_mtime)


def sweep_frame(
    sweep_dir: str | Path, metric: str | None = None
) -> tuple[pd.DataFrame, list[str], str | None]:
    """(table, varied override keys, metric): one row per job, best first, as in summary.csv
    (which this writes, with summary.md). Override values that are numbers become numbers.
    `metric` defaults to the sweep's optimized_metric."""
    metric = metric or sweep_objective(sweep_dir)[0]
    rows = summarize_sweep(sweep_dir, metric)
    records = [
        {"job": r.job, "status": r.status, **r.overrides, **r.metrics, "error": r.error}
        for r in rows
    ]
    frame = pd.DataFrame(records)
    varied = varying_overrides(rows)
    for key in {k for r in rows for k in r.overrides}:
        frame[key] = _numbers_if_all(frame[key])
    return frame, varied, metric


def plot_metric_vs_hparams(frame: pd.DataFrame, metric: str, keys: list[str]) -> plt.Figure:
    """One panel per varied key: the metric of each finished job against the key's value
    (numbers on a numeric axis, log-scaled if they span 10x or more; other values as categories).
    The title counts the failed jobs, which have no point."""
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(4 * max(len(keys), 1), 3))
    axes = [axes] if not hasattr(axes, "__len__") else list(axes)
    done = frame[(frame["status"] == OK) & frame[metric].notna()] if metric in frame else frame[:0]
    failed = len(frame) - len(done)
    for ax, key in zip(axes, keys):
        values = done[key]
        if pd.api.types.is_numeric_dtype(values):
            ax.scatter(values, done[metric])
            positive = values[values > 0]
            if len(positive) == len(values) and len(values) and values.max() >= 10 * values.min():
                ax.set_xscale("log")
        else:
            categories = sorted({str(v) for v in frame[key]})
            ax.scatter([categories.index(str(v)) for v in values], done[metric])
            ax.set_xticks(range(len(categories)), categories, rotation=30)
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} vs {key}" + (f" ({failed} failed)" if failed else ""), fontsize=9)
    fig.tight_layout()
    return fig


def job_labels(frame: pd.DataFrame, keys: list[str]) -> dict[str, str]:
    """{job: "job 0: model.dropout=0.1"}: legend texts naming what each job changed."""
    return {
        row["job"]: f"job {row['job']}: " + " ".join(f"{k}={row[k]}" for k in keys)
        for _, row in frame.iterrows()
    }


def _numbers_if_all(column: pd.Series) -> pd.Series:
    """The column as floats (ints if all whole) when every non-empty value parses, else as is."""
    try:
        numbers = [math.nan if v is None or v == "" else float(v) for v in column]
    except (TypeError, ValueError):
        return column
    series = pd.Series(numbers, index=column.index, name=column.name)
    if series.notna().all() and (series == series.round()).all():
        return series.astype(int)
    return series
