"""One writer per run directory: `RunLock`, an exclusive lock on the run's lock file.

The lock is an `fcntl.flock` on `RunDir.lock`, which the operating system releases when the
holding process ends, however it ends (a kill included). The file's text (pid, host, start
time) names the holder in the error a second process gets, and in the warning when a lock
left behind by a dead process is taken over.

Where the file system does not support `flock` (some network mounts), the text alone decides:
a holder on this host that is still running keeps the lock, a dead one is taken over, and a
holder on another host keeps it (delete the file if that run is gone).
"""

import errno
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from seq2seq.errors import RunDirError

log = logging.getLogger(__name__)


class RunLock:
    """An exclusive, non-blocking lock on `path`; a context manager.

    `acquire()` raises RunDirError naming the holder if another process holds it. `release()`
    deletes the file (while still holding the lock, so a waiting process that opened the old
    file notices and retries on the new one).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                locked = _flock(fd)
            except BaseException:
                os.close(fd)
                raise
            if locked is False:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunDirError(f"{self.path.parent} is in use: {describe(holder)}{_HINT}")
            if _same_file(fd, self.path):
                break
            os.close(fd)  # released and deleted by its holder in the meantime: retry
        previous = _read_holder(fd)
        if previous and locked is None and _holder_alive(previous):
            os.close(fd)  # no flock here: trust the text
            raise RunDirError(f"{self.path.parent} is in use: {describe(previous)}{_HINT}")
        if previous and previous.get("pid") != os.getpid():
            log.warning(
                "taking over the lock of a run that did not exit cleanly (%s)", describe(previous)
            )
        _write_holder(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if _same_file(fd, self.path):
                self.path.unlink()
        finally:
            os.close(fd)  # also releases the flock


_HINT = "; wait for it to finish, or use another hydra.run.dir"


def holder_text() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def describe(holder: dict | None) -> str:
    """`pid 123 on host h since 2025-01-01 12:00:00 +0000`, from a lock file's text."""
    if not holder:
        return "held by another process (no holder recorded yet)"
    return (
        f"held by pid {holder.get('pid', '?')} on host {holder.get('host', '?')} "
        f"since {holder.get('since', '?')}"
    )


def _flock(fd: int) -> bool | None:
    """True if locked, False if another process holds it, None if flock is unsupported."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return None
        raise


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def _read_holder(fd: int) -> dict | None:
    data = os.pread(fd, 4096, 0)
    if not data.strip():
        return None
    try:
        holder = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"pid": "?", "host": "?", "since": "? (unreadable lock file)"}
    return holder if isinstance(holder, dict) else None


def _write_holder(fd: int) -> None:
    data = (json.dumps(holder_text()) + "\n").encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def _holder_alive(holder: dict) -> bool:
    """Whether the recorded holder may still run: on another host we cannot tell (True)."""
    if holder.get("host") != socket.gethostname():
        return True
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
