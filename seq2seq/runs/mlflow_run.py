"""A training run tracked in MLflow (`logger=mlflow`, docs/tracking.md).

`tracked_run(cfg, run_dir, commit)` is a context manager around training: it starts the run's
MLflow run (or continues the one `run_dir/mlflow_run.json` names, when a killed run resumes),
logs the resolved config as params (dotted keys) and the tags (commit, experiment, host, run
directory), and ends the MLflow run FAILED if training raises (KILLED when it was interrupted:
a resume continues it). In a `-m` sweep the run is a child of the sweep's parent run
(`seq2seq.runs.mlflow_sweep`). Per-step scalars go through `MlflowRun.log_metrics`, the end
through `MlflowRun.finish` (final metrics, artifacts, FINISHED).
"""

import getpass
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from seq2seq.config import TrainRunConfig
from seq2seq.files import atomic_write_json
from seq2seq.runs.mlflow_store import absolute_uri, experiment_id, hydra_job, make_client
from seq2seq.runs.mlflow_sweep import MAX_TAG_LENGTH, parent_run, parent_tags, read_record
from seq2seq.runs.run_dir import RunDir

log = logging.getLogger(__name__)

# Limits of MLflow's stores (mlflow.utils.validation): entries per log_batch call, characters
# of a param value (500 before MLflow 2.x's 6000).
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
KILLED_EXIT = 128  # exit statuses from 128 on: stopped from outside (SIGTERM, SIGINT)


class MlflowRun:
    """The MLflow run of one training run; only the chief process has one."""

    def __init__(self, client: Any, run_id: str, logged: dict[str, int] | None = None) -> None:
        self.client, self.run_id = client, run_id
        self.logged = logged or {}  # key -> the last step the run has (a resumed run)
        self._failed_logs = 0

    def log_metrics(self, step: int, values: dict[str, float]) -> None:
        """The scalars TensorBoard gets (train/*, val/*), at `step`. A resumed run skips the
        steps its killed attempt logged already (training repeats them exactly). A store
        that cannot be written (a locked database) costs a warning, not the training run."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(key, float(v), now, int(step))
            for key, v in values.items()
            if step > self.logged.get(key, -1)
        ]
        try:
            for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
                self.client.log_batch(self.run_id, metrics=metrics[i : i + MAX_METRICS_PER_BATCH])
        except Exception as exc:
            self._failed_logs += 1
            if self._failed_logs == 1:
                log.warning("MLflow: could not log the metrics of step %d: %s", step, exc)

    def finish(self, summary: dict, run_dir: RunDir) -> None:
        """The final metrics (metrics.json's numbers: best/*, steps, …), run_config.yaml,
        metrics.json and evaluations/ as artifacts; the run ends FINISHED."""
        self.log_metrics(int(summary.get("steps", 0)), numbers(summary))
        for path in (run_dir.config, run_dir.metrics):
            if path.exists():
                self.client.log_artifact(self.run_id, str(path))
        if run_dir.evaluations.is_dir():
            self.client.log_artifacts(self.run_id, str(run_dir.evaluations), "evaluations")
        self.client.set_terminated(self.run_id, "FINISHED")

    def end(self, status: str, error: str) -> None:
        """End the run FAILED or KILLED with an `error` tag (one line), never raising (an
        exception is on its way)."""
        try:
            self.client.set_tag(self.run_id, "error", error[:MAX_TAG_LENGTH])
            self.client.set_terminated(self.run_id, status)
        except Exception as exc:
            log.warning("MLflow: could not mark run %s %s: %s", self.run_id, status, exc)


@contextmanager
def tracked_run(cfg: TrainRunConfig, run_dir: RunDir, commit: str) -> Iterator[MlflowRun | None]:
    """The run's MlflowRun for the block (None unless `logger.mlflow.enabled`); ends it FAILED
    (KILLED on an interruption) if the block raises."""
    if not cfg.logger.mlflow.enabled:
        yield None
        return
    run = start(cfg, run_dir, commit)
    try:
        yield run
    except BaseException as exc:
        text = " ".join(str(exc).split())
        run.end("KILLED" if _interrupted(exc) else "FAILED", f"{type(exc).__name__}: {text}")
        raise


def start(cfg: TrainRunConfig, run_dir: RunDir, commit: str) -> MlflowRun:
    """A new MLflow run for `run_dir`, or the one it recorded (resuming), set RUNNING."""
    settings = cfg.logger.mlflow
    uri = absolute_uri(settings.tracking_uri)
    client = make_client(uri)
    recorded = read_record(run_dir.mlflow_run)
    logged: dict[str, int] = {}
    if recorded and recorded.get("tracking_uri") == uri and _exists(client, recorded["run_id"]):
        run_id = recorded["run_id"]
        client.update_run(run_id, status="RUNNING")
        logged = last_logged_steps(client, run_id)
        log.info("MLflow: continuing run %s in %s", run_id, uri)
    else:
        choice, sweep_dir = hydra_job()
        name = settings.experiment_name or choice or cfg.task
        exp = experiment_id(client, name, uri)
        tags = run_tags(cfg, run_dir, commit, name)
        run_name = settings.run_name or run_dir.path.name
        if sweep_dir is not None:
            tags["mlflow.parentRunId"] = parent_run(client, exp, uri, sweep_dir, parent_tags(tags))
            tags["sweep_dir"] = str(sweep_dir)
            run_name = settings.run_name or f"{sweep_dir.name}/{run_dir.path.name}"
        run_id = client.create_run(exp, tags=tags, run_name=run_name).info.run_id
        atomic_write_json(run_dir.mlflow_run, {"tracking_uri": uri, "run_id": run_id})
        log.info("MLflow: run %s in %s (experiment %s)", run_id, uri, name)
    _log_params(client, run_id, flat_params(asdict(cfg)))
    return MlflowRun(client, run_id, logged)


def last_logged_steps(client: Any, run_id: str) -> dict[str, int]:
    """{metric key: the last step it has} of a run (one history query per key)."""
    keys = client.get_run(run_id).data.metrics
    return {key: max(m.step for m in client.get_metric_history(run_id, key)) for key in keys}


def numbers(values: dict) -> dict[str, float]:
    """The entries of `values` that are numbers (not booleans): what MLflow takes as metrics."""
    return {
        key: value
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def run_tags(cfg: TrainRunConfig, run_dir: RunDir, commit: str, experiment: str) -> dict:
    """Commit, experiment, task, host, user, the run directory (also linked in the run's
    description) and the config's `tags`."""
    path = Path(run_dir.path).absolute()
    tags = {
        "git_commit": commit,
        "mlflow.source.git.commit": commit,
        "mlflow.source.name": "seq2seq-train",
        "mlflow.user": _user(),
        "experiment": experiment,
        "task": cfg.task,
        "host": socket.gethostname(),
        "run_dir": str(path),
        "mlflow.note.content": f"Run directory: [{path}]({path.as_uri()})",
    }
    if cfg.tags:
        tags["tags"] = ", ".join(str(t) for t in cfg.tags)
    return tags


def flat_params(tree: dict, prefix: str = "") -> dict[str, str]:
    """{"train.max_steps": "20", ...}: nested settings as dotted keys, values as text (None
    as null, lists as written)."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_params(value, f"{name}."))
        else:
            out[name] = "null" if value is None else str(value)
    return out


def _log_params(client: Any, run_id: str, params: dict[str, str]) -> None:
    """Log the params the run does not have yet (MLflow params cannot change: a resumed run
    keeps the values it started with), in batches, each value cut to MLflow's limit."""
    from mlflow.entities import Param

    limit = _param_value_limit()
    have = client.get_run(run_id).data.params
    new = [Param(k, v[:limit]) for k, v in sorted(params.items()) if k not in have]
    for i in range(0, len(new), MAX_PARAMS_PER_BATCH):
        client.log_batch(run_id, params=new[i : i + MAX_PARAMS_PER_BATCH])


def _param_value_limit() -> int:
    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

        return int(MAX_PARAM_VAL_LENGTH)
    except (ImportError, ValueError, TypeError):
        return 500


def _exists(client: Any, run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id).info.lifecycle_stage != "deleted"
    except MlflowException:
        return False


def _interrupted(exc: BaseException) -> bool:
    if isinstance(exc, KeyboardInterrupt):
        return True
    return isinstance(exc, SystemExit) and isinstance(exc.code, int) and exc.code >= KILLED_EXIT


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
