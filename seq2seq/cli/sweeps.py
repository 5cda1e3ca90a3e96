"""The end of a `-m` sweep: a Hydra callback (registered in conf/hydra/default.yaml) that writes
the sweep table, names the best and the failed jobs, and exits non-zero if any job failed."""

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from seq2seq.analysis.sweeps import (
    OK,
    SUMMARY_CSV,
    SUMMARY_MD,
    SweepRow,
    describe_job,
    summarize_sweep,
    varying_overrides,
)

log = logging.getLogger("seq2seq.sweep")


class SweepSummary(Callback):
    """`on_multirun_end`: SWEEP_DIR/summary.{csv,md}, a report on stderr, exit 1 on failures.

    Runs on the launching machine after every job returned (each job recorded its own
    status.json, see `seq2seq.cli.common.run_sweep_job`).
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        metric = config.get("optimized_metric")
        direction = OmegaConf.select(config, "hydra.sweeper.direction", default=None)
        rows = summarize_sweep(
            sweep_dir, metric=metric, direction=direction if isinstance(direction, str) else None
        )
        failed = report(rows, sweep_dir, metric)
        if failed:
            sys.exit(1)


def report(rows: list[SweepRow], sweep_dir: Path, metric: str | None) -> list[SweepRow]:
    """Print the summary's place, the best job and each failed job to stderr; return the
    failed rows."""
    keys = varying_overrides(rows) or sorted({k for r in rows for k in r.overrides})
    failed = [row for row in rows if row.status != OK]
    print(
        f"sweep: {len(rows)} jobs, {len(rows) - len(failed)} ok, {len(failed)} failed; "
        f"{sweep_dir / SUMMARY_MD}, {sweep_dir / SUMMARY_CSV}",
        file=sys.stderr,
    )
    best = rows[0] if rows and rows[0].status == OK else None
    if best is not None and metric in best.metrics:
        print(
            f"best: {describe_job(best, keys)}: {metric} {best.metrics[metric]:.4g}",
            file=sys.stderr,
        )
    for row in failed:
        print(f"failed: {describe_job(row, keys)}: {row.error}", file=sys.stderr)
    return failed
