"""Graceful preemption: SIGTERM (cluster schedulers, `kill`) and SIGINT (Ctrl-C) end training
after the current step with a checkpoint, instead of losing the work since the last one.

While training steps run, a signal only sets a flag: the trainer finishes the step (or the
validation in progress), writes a checkpoint, logs one line and raises `Interrupted`, which
exits with status 128 + the signal number (143 for SIGTERM, 130 for SIGINT). Outside the
steps (start-up, the final evaluation) there is nothing to save and `Interrupted` is raised at
once. A second SIGINT exits immediately, without a checkpoint.
"""

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator

log = logging.getLogger("seq2seq.train")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(SystemExit):
    """Training was stopped by a signal; `code` is the exit status (128 + signal number)."""


class Preemption:
    """Handles SIGTERM and SIGINT inside a `with` block (main thread only; elsewhere the
    handlers are left alone). `signum` is the first signal received, or None."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.phase = "start-up"  # what runs when not deferring, for the message
        self._deferring = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "Preemption":
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "?"

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside: a signal only sets `signum`; the caller checks `requested` between steps."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    def interrupt(self, message: str) -> Interrupted:
        """Log `interrupted by SIG…: message` and return the exception to raise."""
        log.warning("interrupted by %s %s", self.name, message)
        return Interrupted(128 + (self.signum or 0))

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            if signum == signal.SIGINT:
                print("second SIGINT: exiting now, without a checkpoint", file=sys.stderr)
                sys.stderr.flush()
                os._exit(128 + signum)
            return  # a repeated SIGTERM: the checkpoint is being written
        self.signum = signum
        if not self._deferring:
            raise self.interrupt(
                f"during {self.phase}: no training step was lost; run the same command to resume"
            )
