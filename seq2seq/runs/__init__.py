"""Run directories: their layout (`RunDir`), the stored run config, the code version
(`run_dir`), the one-writer lock (`lock`), a sweep job's outcome (`job_status`), training-state
checkpoints (`checkpoints`), and loading a trained run for the inference verbs (`load`). Below
`training` and `inference`, which both use it.

This module imports no TensorFlow, so analysis code can use `RunDir` cheaply.
"""

from seq2seq.runs.lock import RunLock
from seq2seq.runs.run_dir import (
    RunDir,
    check_run_config,
    check_writable,
    git_commit,
    store_run_config,
)

__all__ = [
    "RunDir",
    "RunLock",
    "check_run_config",
    "check_writable",
    "git_commit",
    "store_run_config",
]
