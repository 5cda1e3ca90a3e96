"""A Hydra launcher that runs each job of a sweep in a process of its own, `n_jobs` at a time.

Same job semantics as hydra-joblib-launcher (whose `execute_job` steps it repeats in the child),
but a job killed outright (SIGKILL: the out-of-memory killer, `kill -9`; or a crash) does not stop
the sweep: joblib's pool gives up on every job when one of its workers dies. Here the killed job
is recorded as failed in its run directory (`status.json`, which `seq2seq-summarize` and the
sweep's summary read), its result is a `FailedJob` (the Optuna sweeper records a failed trial;
both from `seq2seq.runs.job_status`), and the other jobs go on. A job stopped by SIGINT or
SIGTERM stops the sweep, as with joblib.

A fresh interpreter (multiprocessing "spawn") per job: TensorFlow state never carries over
between jobs. The job's arguments travel pickled with cloudpickle (as joblib's loky does).
Each job's TensorFlow thread pools get `threads_per_job` threads (TF_NUM_INTRAOP_THREADS and
TF_NUM_INTEROP_THREADS, unless already set; `train.num_threads` > 0 still wins); 0 = the
machine's cores / the jobs running at once, so parallel jobs do not oversubscribe the cores
(two G2P jobs on two cores: 26.8k real tokens/s together with one thread each, 23.4k with
TensorFlow's defaults).
"""

import logging
import multiprocessing
import os
import signal
from collections.abc import Sequence
from multiprocessing.connection import wait
from pathlib import Path

import cloudpickle
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

# Deaths that mean "stop everything" (Ctrl-C, a scheduler's SIGTERM), as exit status or signal.
STOP_SWEEP = {-signal.SIGINT, -signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGTERM}


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class LocalLauncher(Launcher):
    def __init__(self, n_jobs: int = 2, threads_per_job: int = 0) -> None:
        if n_jobs < 1:
            raise ValueError(f"hydra.launcher.n_jobs must be >= 1, got {n_jobs}")
        if threads_per_job < 0:
            raise ValueError(f"hydra.launcher.threads_per_job must be >= 0, got {threads_per_job}")
        self.n_jobs, self.threads_per_job = n_jobs, threads_per_job
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ):
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> list[JobReturn]:
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        parallel = max(1, min(self.n_jobs, len(job_overrides)))  # jobs running at once
        threads = self.threads_per_job or max(1, available_cores() // parallel)
        log.info(
            f"Launching {len(job_overrides)} jobs, {parallel} at a time "
            f"({threads} TensorFlow threads each), in {sweep_dir}"
        )
        jobs = []
        for offset, overrides in enumerate(job_overrides):
            log.info(f"\t#{initial_job_idx + offset} : {' '.join(filter_overrides(overrides))}")
            jobs.append(_Job(initial_job_idx + offset, list(overrides)))
        state = Singleton.get_state()
        context = multiprocessing.get_context("spawn")
        # What every job shares, pickled once: the Hydra context, config, task and singletons.
        shared = cloudpickle.dumps((self.hydra_context, self.config, self.task_function, state))
        pending, running = list(jobs), []
        try:
            while pending or running:
                while pending and len(running) < self.n_jobs:
                    job = pending.pop(0)
                    job.start(context, shared, threads)
                    running.append(job)
                ready = wait([job.connection for job in running])
                for job in [job for job in running if job.connection in ready]:
                    if job.receive():  # the job's process is gone
                        running.remove(job)
        finally:
            for job in running:  # Ctrl-C or an error here: do not leave jobs behind
                job.process.terminate()
        return [job.result for job in jobs]


class _Job:
    """One job's process and what it has reported: its run directory, then its JobReturn."""

    def __init__(self, index: int, overrides: list[str]) -> None:
        self.index, self.overrides = index, overrides
        self.process = self.connection = None  # set by `start`
        self.job_dir: str | None = None
        self.result: JobReturn | None = None

    def start(self, context, shared: bytes, threads: int) -> None:
        self.connection, send = context.Pipe(duplex=False)
        args = (self.index, self.overrides, shared, send, threads)
        self.process = context.Process(target=_child, args=args, name=f"job{self.index}")
        self.process.start()
        send.close()  # the child holds the only sending end: its exit ends the pipe

    def receive(self) -> bool:
        """Take one message; True once the process has ended (and `result` is set)."""
        try:
            kind, value = self.connection.recv()
        except EOFError:
            self.process.join()
            self.connection.close()
            if self.result is None:
                self.result = self._died(self.process.exitcode)
            return True
        if kind == "dir":
            self.job_dir = value
        else:
            self.result = cloudpickle.loads(value)
        return False

    def _died(self, exitcode: int) -> JobReturn:
        """A job whose process ended without a result: record it as failed and go on, unless
        it was interrupted (then the sweep stops, as with joblib)."""
        from seq2seq.runs.job_status import FAILED, FailedJob, write_status
        from seq2seq.runs.run_dir import RunDir

        if exitcode == -signal.SIGKILL:
            error = "killed by SIGKILL (out of memory?) before it finished"
        elif exitcode < 0:
            error = f"killed by {signal.Signals(-exitcode).name} before it finished"
        else:
            error = f"its process ended with exit status {exitcode} and no result"
        # A signal gave the job no chance to record anything; an exit status came from the
        # job (`seq2seq.cli.common.run_sweep_job` records what it knows: keep that).
        recorded = self.job_dir is not None and RunDir(self.job_dir).status.exists()
        if self.job_dir is not None and (exitcode < 0 or not recorded):
            write_status(self.job_dir, FAILED, error)
        log.error("job #%d failed: %s (run directory %s)", self.index, error, self.job_dir)
        if exitcode in STOP_SWEEP:
            raise RuntimeError(f"job #{self.index}: {error}; the sweep stops")
        return JobReturn(
            overrides=self.overrides,
            working_dir=self.job_dir,
            status=JobStatus.COMPLETED,
            _return_value=FailedJob(error),
        )


def _child(index: int, overrides: list[str], shared: bytes, send, threads: int) -> None:
    """Run one job as hydra_joblib_launcher's `execute_job` does; report its directory first."""
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):  # before TF is imported
        os.environ.setdefault(name, str(threads))
    hydra_context, config, task_function, state = cloudpickle.loads(shared)
    setup_globals()
    Singleton.set_state(state)
    sweep_config = hydra_context.config_loader.load_sweep_config(config, overrides)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{index}"
        sweep_config.hydra.job.num = index
    HydraConfig.instance().set_config(sweep_config)
    job_dir = Path(str(OmegaConf.select(sweep_config, "hydra.sweep.dir"))) / str(
        OmegaConf.select(sweep_config, "hydra.sweep.subdir")
    )
    send.send(("dir", str(job_dir)))
    result = run_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    send.send(("result", cloudpickle.dumps(result)))
    send.close()
