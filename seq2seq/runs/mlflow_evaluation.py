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
from pathlib import Path

from seq2seq.runs.mlflow_run import MlflowRun, numbers
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
    try:  # ConfigError without the extra; the evaluation's files are written already
        client = make_client(recorded["tracking_uri"])
        run = MlflowRun(client, recorded["run_id"])
        run.log_metrics(_trained_steps(run_dir), _prefixed(out_dir.name, report))
        client.log_artifacts(run.run_id, str(out_dir), f"{PREFIX}/{out_dir.name}")
    except Exception as exc:
        log.warning("MLflow: the evaluation was not added to run %s: %s", recorded["run_id"], exc)
        return None
    log.info("MLflow: evaluation %s added to run %s", out_dir.name, recorded["run_id"])
    return recorded["run_id"]


def _prefixed(name: str, report: dict) -> dict[str, float]:
    """The report's scores as `evaluations/<name>/<score>`."""
    return {f"{PREFIX}/{name}/{k}": v for k, v in numbers(report.get("metrics", {})).items()}


def _trained_steps(run: RunDir) -> int:
    """The steps in the run's metrics.json (0 if it has none)."""
    try:
        return int(json.loads(run.metrics.read_text(encoding="utf-8")).get("steps", 0))
    except (OSError, ValueError, TypeError):
        return 0
