"""Writing files so that a reader (or a crash) sees the old file or the new one, never half.

A write that fails (unwritable directory, full disk) raises RunDirError naming the file and
the reason, and leaves the old file in place."""

import errno
import json
import os
import uuid
from pathlib import Path
from typing import Any

from seq2seq.errors import RunDirError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same directory and os.replace."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        if path.parent.exists() and not path.parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path.parent))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as handle:  # unlike mkstemp, keeps the umask's permissions
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise RunDirError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_once(path: Path, data: bytes) -> None:
    """Atomically create `path` holding `data`; keep an identical existing file.

    Raises RunDirError rather than overwrite a file with different content (an earlier run's).
    """
    path = Path(path)
    if path.exists():
        if path.read_bytes() == data:
            return
        raise RunDirError(f"{path} already exists with different content: use a new run directory")
    atomic_write_bytes(path, data)
