"""`seq2seq-summarize SWEEP_DIR [--metric KEY] [--direction minimize|maximize]`: write
SWEEP_DIR/summary.csv and summary.md (one row per job of a `-m` sweep) and print the table;
write the sweep's TensorBoard HParams experiment (SWEEP_DIR/hparams/).

A sweep writes them itself when it ends; this re-reads a sweep that was interrupted, is still
running, or whose jobs were re-run.
"""

import argparse
import sys
from pathlib import Path

from seq2seq.analysis.sweeps import (
    MAXIMIZE,
    MINIMIZE,
    MULTIRUN_FILE,
    OVERRIDES_FILE,
    SUMMARY_MD,
    job_dirs,
    metric_keys,
    summarize_sweep,
    sweep_objective,
    sweep_rows,
)
from seq2seq.cli.sweeps import report
from seq2seq.runs.hparams import write_sweep_experiment


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="seq2seq-summarize", description=__doc__.split("\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun directory (hydra.sweep.dir)")
    parser.add_argument(
        "--metric", help="a metrics.json key to sort by (default: the sweep's optimized_metric)"
    )
    parser.add_argument(
        "--direction",
        choices=(MINIMIZE, MAXIMIZE),
        help="default: the sweeper's, else minimize losses and error rates, maximize scores",
    )
    args = parser.parse_args(argv)
    problem = _not_a_sweep(args.sweep_dir) or _unknown_metric(args.sweep_dir, args.metric)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    rows = summarize_sweep(args.sweep_dir, args.metric, args.direction)
    write_sweep_experiment(args.sweep_dir)
    print((args.sweep_dir / SUMMARY_MD).read_text(encoding="utf-8"), end="")
    report(rows, args.sweep_dir, args.metric or sweep_objective(args.sweep_dir)[0])


def _not_a_sweep(sweep_dir: Path) -> str | None:
    """Why `sweep_dir` is not a sweep to summarize (None if it is one)."""
    if not sweep_dir.is_dir():
        return f"{sweep_dir} is not a directory"
    if (sweep_dir / OVERRIDES_FILE).exists() and not (sweep_dir / MULTIRUN_FILE).exists():
        return (
            f"{sweep_dir} is a run, not a sweep (it has {OVERRIDES_FILE} and no "
            f"{MULTIRUN_FILE}); give the directory of a `seq2seq-train -m` sweep (hydra.sweep.dir)"
        )
    if not job_dirs(sweep_dir):
        return f"no jobs under {sweep_dir} (no .hydra/overrides.yaml)"
    return None


def _unknown_metric(sweep_dir: Path, metric: str | None) -> str | None:
    """Why `--metric` cannot sort this sweep's jobs (None if some job has it)."""
    if metric is None:
        return None
    available = metric_keys(sweep_rows(sweep_dir), None)
    if metric in available:
        return None
    return f"--metric {metric}: no job of {sweep_dir} has it; available: " + (
        ", ".join(available) or "none (no job wrote metrics.json)"
    )


if __name__ == "__main__":
    main()
