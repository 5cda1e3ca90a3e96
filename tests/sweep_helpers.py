"""Hydra callbacks for sweep tests. `KillJob`: job number `job` sends itself `signal` as it
starts (SIGKILL is what the out-of-memory killer sends); select it with
`+hydra.callbacks.kill._target_=tests.sweep_helpers.KillJob +hydra.callbacks.kill.job=N`.
`RecordEnv`: each job records its TensorFlow thread variables."""

import json
import os
import signal as signals
from pathlib import Path

from hydra.experimental.callback import Callback


class KillJob(Callback):
    def __init__(self, job: int, signal: str = "SIGKILL") -> None:
        self.job, self.signal = job, getattr(signals, signal)

    def on_job_start(self, config, **kwargs) -> None:
        if config.hydra.job.num == self.job:
            os.kill(os.getpid(), self.signal)


class RecordEnv(Callback):
    """Writes the job's TensorFlow thread variables to `<job dir>/env.json` as it starts."""

    def on_job_start(self, config, **kwargs) -> None:
        names = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
        env = {name: os.environ.get(name) for name in names}
        (Path(config.hydra.runtime.output_dir) / "env.json").write_text(json.dumps(env))
