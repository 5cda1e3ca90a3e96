"""An evaluation of a run tracked in MLflow (`logger=mlflow`, docs/tracking.md).

`seq2seq-evaluate run_dir=RUN` on a run whose training was tracked (RUN/mlflow_run.json)
adds the evaluation to that MLflow run: its scores as metrics `evaluations/<name>/<score>`
(name: the evaluation's directory, e.g. `beam5` or `test_greedy_2026-12-06_10-00-00`; step:
the run's trained steps) and its files as artifacts under `evaluations/<name>/`. An untracked
run is left alone; an unreachable store or a missing `mlflow` extra costs a warning, never the
evaluation (its files are written before).
"""

import json
import logging
import time
from pathlib import Path
from typing import Any

from seq2seq.runs.mlflow_store import make_client
from seq2seq.runs.mlflow_sweep import read_record
from seq2seq.runs.run_dir import RunDir

log = logging.getLogger(__name__)

PREFIX = "evaluations"


def log_evaluation(run_dir: RunDir, out_dir: Path, report: dict) -> str | None:
    """Add the evaluation in `out_dir` (its `report`: metrics.json's content) to the run's
    MLflow run; return that run's id (None if the run is not tracked or it could not be)."""
    recorded = read_record(run_dir.mlflow_run)
    if not recorded:
        return None
    try:
        client = make_client(recorded["tracking_uri"])
        _log(client, recorded["run_id"], f"{PREFIX}/{out_dir.name}", out_dir, report, run_dir)
    except (
        Exception
    ) as exc:  # ConfigError without the extra; the evaluation's files are written already
        log.warning("MLflow: the evaluation was not added to run %s: %s", recorded["run_id"], exc)
        return None
    log.info("MLflow: evaluation %s added to run %s", out_dir.name, recorded["run_id"])
    return recorded["run_id"]


def _log(client: Any, run_id: str, name: str, out_dir: Path, report: dict, run: RunDir) -> None:
    from mlflow.entities import Metric

    now, step = int(time.time() * 1000), _trained_steps(run)
    metrics = [
        Metric(f"{name}/{key}", float(value), now, step)
        for key, value in report.get("metrics", {}).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    client.log_batch(run_id, metrics=metrics)
    client.log_artifacts(run_id, str(out_dir), name)


def _trained_steps(run: RunDir) -> int:
    """The steps in the run's metrics.json (0 if it has none)."""
    try:
        return int(json.loads(run.metrics.read_text(encoding="utf-8")).get("steps", 0))
    except (OSError, ValueError, TypeError):
        return 0
