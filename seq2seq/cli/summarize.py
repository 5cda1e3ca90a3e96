"""`seq2seq-summarize SWEEP_DIR [--metric KEY] [--direction minimize|maximize]`: write
SWEEP_DIR/summary.csv and summary.md (one row per job of a `-m` sweep) and print the table.

A sweep writes them itself when it ends; this re-reads a sweep that was interrupted, is still
running, or whose jobs were re-run.
"""

import argparse
import sys
from pathlib import Path

from seq2seq.analysis.sweeps import (
    MAXIMIZE,
    MINIMIZE,
    SUMMARY_MD,
    job_dirs,
    summarize_sweep,
    sweep_objective,
)
from seq2seq.cli.sweeps import report


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
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a directory", file=sys.stderr)
        sys.exit(2)
    if not job_dirs(args.sweep_dir):
        print(f"error: no jobs under {args.sweep_dir} (no .hydra/overrides.yaml)", file=sys.stderr)
        sys.exit(2)
    rows = summarize_sweep(args.sweep_dir, args.metric, args.direction)
    print((args.sweep_dir / SUMMARY_MD).read_text(encoding="utf-8"), end="")
    report(rows, args.sweep_dir, args.metric or sweep_objective(args.sweep_dir)[0])


if __name__ == "__main__":
    main()
