"""A sweep job's outcome, `<job dir>/status.json`: `{"status": "ok" | "failed", "error": one
line | null}`, written by the job (`seq2seq.cli.common.run_sweep_job`) or, when its process
was killed, by the launcher (`hydra_plugins.seq2seq_launcher`); read by the sweep table
(`seq2seq.analysis.sweeps`). `FailedJob` is what a failed job returns to Hydra's sweeper.
Plain Python (no TensorFlow import)."""

import json
from dataclasses import dataclass
from pathlib import Path

from seq2seq.files import atomic_write_json
from seq2seq.runs.run_dir import METRICS_FILE, STATUS_FILE, RunDir

OK, FAILED = "ok", "failed"


def write_status(job_dir: str | Path, status: str, error: str | None = None) -> None:
    """Record a job's outcome: `{"status": "ok" | "failed", "error": one line | null}`."""
    if status not in (OK, FAILED):
        raise ValueError(f"status must be {OK!r} or {FAILED!r}, got {status!r}")
    line = " ".join(error.split()) if error else None  # one line, whatever the message
    atomic_write_json(RunDir(job_dir).status, {"status": status, "error": line})


def read_status(job_dir: str | Path) -> tuple[str, str]:
    """(status, error) of a job. Without status.json a job with metrics.json counts as ok (a
    sweep from before status files); one with neither failed (killed, or still running)."""
    run = RunDir(job_dir)
    if run.status.exists():
        record = json.loads(run.status.read_text(encoding="utf-8"))
        return str(record.get("status", FAILED)), str(record.get("error") or "")
    if run.metrics.exists():
        return OK, ""
    return FAILED, f"no {STATUS_FILE} or {METRICS_FILE}: the job was killed or is still running"


@dataclass(frozen=True)
class FailedJob:
    """What a failed job of a sweep returns. Hydra's basic sweeper ignores it; a sweeper that
    needs a number gets a ValueError from `float()`, which the Optuna sweeper records as a
    failed trial before going on. (A NaN return would crash hydra-optuna-sweeper 1.3.0: it
    tells Optuna the NaN again with the FAIL state, which Optuna refuses.)"""

    error: str

    def __float__(self) -> float:
        raise ValueError(str(self))

    def __str__(self) -> str:
        return f"the job failed: {self.error}"
