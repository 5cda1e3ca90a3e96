"""A Hydra callback for sweep tests: job number `job` sends itself `signal` as it starts (SIGKILL
is what the out-of-memory killer sends). Select it with
`+hydra.callbacks.kill._target_=tests.sweep_helpers.KillJob +hydra.callbacks.kill.job=N`."""

import os
import signal as signals

from hydra.experimental.callback import Callback


class KillJob(Callback):
    def __init__(self, job: int, signal: str = "SIGKILL") -> None:
        self.job, self.signal = job, getattr(signals, signal)

    def on_job_start(self, config, **kwargs) -> None:
        if config.hydra.job.num == self.job:
            os.kill(os.getpid(), self.signal)
