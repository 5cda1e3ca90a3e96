"""What every entry point shares: bad input ends as one line on stderr, not a traceback; a failing
job of a `-m` sweep is recorded in its run directory and the other jobs go on."""

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from seq2seq import resources
from seq2seq.cli.log_files import error_to_log_files
from seq2seq.errors import Seq2SeqError
from seq2seq.quiet import be_verbose
from seq2seq.runs.job_status import FAILED, OK, FailedJob, write_status

T = TypeVar("T")

# Absolute: run as a console script, Hydra would resolve a relative config_path as a package.
# The configs are package data (seq2seq/conf, the checkout's conf/): see seq2seq/resources.py.
CONF_DIR = str(resources.CONF_DIR)

log = logging.getLogger("seq2seq")
# Exit statuses from 128 on (128 + signal number: 130 Ctrl-C, 143 SIGTERM) mean the job was
# stopped from outside: recorded as failed, and the sweep stops too (a scheduler requeues it).
INTERRUPTED = 128


def run_cli(job: Callable[[], T]) -> T | FailedJob:
    """Run `job`.

    A single run: on a Seq2SeqError print `error: …` and exit with status 2 (other exceptions
    propagate as tracebacks). A job of a multirun (`-m`): see `run_sweep_job`.
    `hydra.verbose` (true or logger names) also shows TensorFlow's own logs (seq2seq/quiet.py).
    """
    logging.getLogger("absl").setLevel(logging.WARNING)  # per-checkpoint "Sharding callback"
    if HydraConfig.initialized() and HydraConfig.get().verbose:
        be_verbose()
    sweep_job_dir = _multirun_job_dir()
    if sweep_job_dir is not None:
        return run_sweep_job(job, sweep_job_dir)
    try:
        return job()
    except Seq2SeqError as exc:
        log.debug("error", exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        error_to_log_files(exc)
        sys.exit(2)


def run_sweep_job(job: Callable[[], T], job_dir: str | Path) -> T | FailedJob:
    """Run one job of a sweep and record its outcome in `job_dir/status.json`.

    Any exception or non-zero exit is a failure (a Seq2SeqError such as a config error or a
    NaN loss, or a bug): it is logged as `job failed: <one line>`, with its traceback in the
    job's log file (`<verb>.log`), and a FailedJob is returned. Nothing is raised, so Hydra's
    launchers (basic, joblib, submitit), which stop a sweep on an exception or a SystemExit,
    run every other job; the sweep's `on_multirun_end` callback
    (`seq2seq.cli.sweeps.SweepSummary`) then exits non-zero. An interruption (SIGINT, SIGTERM:
    exit status >= 128) is recorded and re-raised, so Ctrl-C stops the whole sweep.
    """
    try:
        result = job()
    except SystemExit as exc:
        if exc.code in (None, 0):
            write_status(job_dir, OK)
            return None
        if isinstance(exc.code, int) and exc.code >= INTERRUPTED:  # SIGINT, SIGTERM: stop all
            write_status(job_dir, FAILED, f"interrupted (exit status {exc.code})")
            raise
        return _failed(job_dir, f"exit status {exc.code}", exc)
    except Exception as exc:
        return _failed(job_dir, one_line(exc), exc)
    write_status(job_dir, OK)
    return result


def one_line(exc: BaseException) -> str:
    """The message of a Seq2SeqError; `Type: first line` of any other exception."""
    text = " ".join(str(exc).split())
    if isinstance(exc, Seq2SeqError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failed(job_dir: str | Path, error: str, exc: BaseException) -> FailedJob:
    """Log the failure (a traceback on the console only for unexpected errors: a Seq2SeqError
    is bad input, said in one line) and write status.json."""
    expected = isinstance(exc, Seq2SeqError)
    log.error("job failed: %s", error, exc_info=None if expected else exc)
    if expected:
        _traceback_to_log_files(exc)
    write_status(job_dir, FAILED, error)
    return FailedJob(error)


def _traceback_to_log_files(exc: BaseException) -> None:
    """The traceback of `exc` into the job's log files (Hydra's `<verb>.log`), not the console."""
    record = log.makeRecord(
        log.name, logging.ERROR, __file__, 0, "traceback:", (), (type(exc), exc, exc.__traceback__)
    )
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _multirun_job_dir() -> str | None:
    """The job's output directory when this is a job of a multirun, else None."""
    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return hydra_cfg.runtime.output_dir
