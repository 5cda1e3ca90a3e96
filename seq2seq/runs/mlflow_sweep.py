"""A `-m` sweep in MLflow: one parent run per sweep directory, each job a child run under it
(the `mlflow.parentRunId` tag), for every launcher and sweeper (Optuna's too).

The first job that starts tracking creates the parent run and records it in
`SWEEP_DIR/mlflow_parent.json` (`{"tracking_uri", "run_id"}`), under an exclusive lock on
`SWEEP_DIR/.mlflow.lock`, so jobs running in parallel find one parent. A job that fails before
training starts (a config error) gets a FAILED child from the sweep's `on_job_end` callback
(`record_failed_job`); at the sweep's end (`end_sweep`) jobs that died without saying so (a
killed process) are marked FAILED too, and the parent ends FAILED if any job failed (the
command's exit status 1), else FINISHED, with the sweep table as its artifacts. A sweep that
stops before its end (an Optuna study whose every trial failed raises first; Ctrl-C) ends its
parent at the launching process's exit: FAILED if a job failed, else KILLED.
"""

import fcntl
import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seq2seq.files import atomic_write_json
from seq2seq.runs.mlflow_store import absolute_uri, experiment_id, make_client
from seq2seq.runs.run_dir import RunDir, git_commit

log = logging.getLogger(__name__)

PARENT_FILE = "mlflow_parent.json"
LOCK_FILE = ".mlflow.lock"
MAX_TAG_LENGTH = 5000  # of a tag value (MLflow's limit: 8000, 5000 in older versions)


def parent_run(client: Any, experiment: str, uri: str, sweep_dir: Path, tags: dict) -> str:
    """The id of the parent run of `sweep_dir`, created by the first job that asks."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with _locked(sweep_dir / LOCK_FILE):
        recorded = read_record(sweep_dir / PARENT_FILE)
        if recorded and recorded.get("tracking_uri") == uri:
            return recorded["run_id"]
        run = client.create_run(
            experiment,
            run_name=sweep_dir.name,
            tags={**tags, "sweep_dir": str(sweep_dir), "mlflow.note.content": _link(sweep_dir)},
        )
        atomic_write_json(sweep_dir / PARENT_FILE, {"tracking_uri": uri, "run_id": run.info.run_id})
        return run.info.run_id


def read_record(path: Path) -> dict | None:
    """A `{"tracking_uri", "run_id"}` record (mlflow_run.json, mlflow_parent.json), or None."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def end_sweep(sweep_dir: Path, jobs: dict[Path, tuple[str, str]], ended: bool = True) -> None:
    """End the sweep's parent run (if it has one): FAILED if any of `jobs` ({job dir: (status,
    error)}) failed, else FINISHED (KILLED if the sweep stopped before its end: `ended`
    false); children still RUNNING of failed jobs end FAILED."""
    recorded = read_record(sweep_dir / PARENT_FILE)
    if not recorded:
        return
    client = make_client(recorded["tracking_uri"])
    failed = [job for job, (status, _) in jobs.items() if status != "ok"]
    for job in failed:
        child = read_record(RunDir(job).mlflow_run)
        if child and client.get_run(child["run_id"]).info.status == "RUNNING":
            client.set_tag(child["run_id"], "error", jobs[job][1][:MAX_TAG_LENGTH])
            client.set_terminated(child["run_id"], "FAILED")
    for name in ("summary.md", "summary.csv"):
        if (sweep_dir / name).exists():
            client.log_artifact(recorded["run_id"], str(sweep_dir / name))
    status = "FAILED" if failed else "FINISHED" if ended else "KILLED"
    client.set_terminated(recorded["run_id"], status)


def has_parent(sweep_dir: Path) -> bool:
    """Whether the sweep has a parent MLflow run (a job with logger=mlflow started)."""
    return read_record(sweep_dir / PARENT_FILE) is not None


def record_failed_job(
    sweep_dir: Path, job_dir: Path, settings: dict, error: str, experiment: str, task: str
) -> None:
    """A FAILED child run for a job of `sweep_dir` that failed before its training started
    (nothing to do if the job has its run: training marks it FAILED itself). `settings`: the
    job's `logger.mlflow` block, as composed."""
    if read_record(RunDir(job_dir).mlflow_run):
        return
    uri = absolute_uri(settings["tracking_uri"])
    client = make_client(uri)
    exp = experiment_id(client, experiment, uri)
    sweep_dir = sweep_dir.absolute()
    commit = git_commit()
    tags = {
        "git_commit": commit,
        "mlflow.source.git.commit": commit,
        "experiment": experiment,
        "task": task,
        "host": socket.gethostname(),
    }
    parent = parent_run(client, exp, uri, sweep_dir, tags)
    run = client.create_run(
        exp,
        run_name=settings.get("run_name") or f"{sweep_dir.name}/{job_dir.name}",
        tags={
            **tags,
            "mlflow.parentRunId": parent,
            "run_dir": str(job_dir),
            "sweep_dir": str(sweep_dir),
            "error": error[:MAX_TAG_LENGTH],
        },
    )
    atomic_write_json(RunDir(job_dir).mlflow_run, {"tracking_uri": uri, "run_id": run.info.run_id})
    client.set_terminated(run.info.run_id, "FAILED")


def parent_tags(tags: dict) -> dict:
    """The tags of a job's run that its sweep's parent run gets too."""
    keep = ("git_commit", "mlflow.source.git.commit", "mlflow.user", "experiment", "task", "host")
    return {k: v for k, v in tags.items() if k in keep}


def _link(path: Path) -> str:
    """Markdown for the run's description in the MLflow UI: the directory, linked."""
    return f"Directory: [{path}]({path.as_uri()})"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (blocking) for the duration of the block."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
