"""A `-m` sweep's table: a Hydra callback (registered in conf/hydra/default.yaml) that rewrites
the sweep table after every job and, at the sweep's end, names the best and the failed jobs and
exits non-zero if any job failed."""

import atexit
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from seq2seq.analysis.sweeps import (
    SUMMARY_CSV,
    SUMMARY_MD,
    SweepRow,
    describe_job,
    summarize_sweep,
    varying_overrides,
)
from seq2seq.runs.hparams import write_sweep_experiment
from seq2seq.runs.job_status import OK, read_status
from seq2seq.runs.mlflow_sweep import end_sweep, has_parent, record_failed_job

log = logging.getLogger("seq2seq.sweep")
OPTUNA_STUDY_LOGGER = "optuna.storages._in_memory"


class SweepSummary(Callback):
    """SWEEP_DIR/summary.{csv,md} after each job and at the end; then a report on stderr and
    exit 1 on failures.

    `on_job_end` runs where the job ran (after it recorded its status.json, see
    `seq2seq.cli.common.run_sweep_job`): the table so far, so that a sweep that never reaches
    its end still leaves one (a killed launcher, an Optuna study whose every trial failed:
    hydra-optuna-sweeper then raises "No trials are completed yet" before `on_multirun_end`).
    `on_multirun_end` runs on the launching machine after every job returned.
    With `logger=mlflow` a job that failed before training gets its FAILED MLflow run after
    it ends, and the sweep's parent MLflow run ends with the sweep, or at the launching
    process's exit if the sweep stops before its end.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._ended = False
        # Optuna's "A new study created in memory with name: …" (its trial lines stay).
        logging.getLogger(OPTUNA_STUDY_LOGGER).setLevel(logging.WARNING)
        atexit.register(self._end_stopped_sweep, *_objective(config))

    def _end_stopped_sweep(
        self, sweep_dir: Path, metric: str | None, direction: str | None
    ) -> None:
        """At exit, a sweep that never reached `on_multirun_end` (an Optuna study whose every
        trial failed, an interruption) ends its parent MLflow run, if it has one."""
        if self._ended or not has_parent(sweep_dir):
            return
        try:
            rows = summarize_sweep(sweep_dir, metric=metric, direction=direction)
            end_sweep(sweep_dir, {sweep_dir / r.job: (r.status, r.error) for r in rows}, False)
        except Exception as exc:
            log.warning("MLflow: could not end the sweep's parent run: %s", exc)

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        if OmegaConf.select(config, "hydra.mode", default=None) != RunMode.MULTIRUN:
            return
        try:
            summarize_sweep(*_objective(config))
        except Exception as exc:  # the table must never fail the job it follows
            log.warning("could not update the sweep table: %s", exc)
        try:
            _mlflow_failed_job(config)
        except Exception as exc:
            log.warning("MLflow: could not record the failed job: %s", exc)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._ended = True
        sweep_dir, metric, direction = _objective(config)
        rows = summarize_sweep(sweep_dir, metric=metric, direction=direction)
        write_sweep_experiment(sweep_dir)  # TensorBoard's HParams dashboard over all jobs
        try:  # logger=mlflow: the sweep's parent run ends (with its jobs killed unseen)
            end_sweep(sweep_dir, {sweep_dir / r.job: (r.status, r.error) for r in rows})
        except Exception as exc:
            log.warning("MLflow: could not end the sweep's parent run: %s", exc)
        failed = report(rows, sweep_dir, metric)
        if failed:
            sys.exit(1)


def _mlflow_failed_job(config: DictConfig) -> None:
    """logger=mlflow: a failed job that never started training still gets its (FAILED)
    child run under the sweep's parent (`seq2seq.runs.mlflow_sweep`)."""
    if not OmegaConf.select(config, "logger.mlflow.enabled", default=False):
        return
    job_dir = Path(str(config.hydra.runtime.output_dir))
    status, error = read_status(job_dir)
    if status == OK:
        return
    choices = OmegaConf.select(config, "hydra.runtime.choices", default={}) or {}
    task = str(OmegaConf.select(config, "task", default="") or "")
    settings = OmegaConf.to_container(config.logger.mlflow, resolve=True)
    experiment = settings.get("experiment_name") or choices.get("experiment") or task
    sweep_dir = Path(str(config.hydra.sweep.dir))
    record_failed_job(sweep_dir, job_dir, settings, error, experiment, task)


def _objective(config: DictConfig) -> tuple[Path, str | None, str | None]:
    """The sweep directory, `optimized_metric` and the sweeper's direction (if it has one)."""
    direction = OmegaConf.select(config, "hydra.sweeper.direction", default=None)
    return (
        Path(str(config.hydra.sweep.dir)),
        config.get("optimized_metric"),
        direction if isinstance(direction, str) else None,
    )


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
