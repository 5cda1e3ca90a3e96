"""TensorFlow's start-up chatter off by default: only the project's own lines on the console.

Importing TensorFlow 2.21 prints ~8 lines that no setting removes: absl's
`WARNING: All log messages before absl::InitializeLog() …` preamble and `I0000 …` lines (oneDNN,
`cudart_stub`) come out of C++ before `TF_CPP_MIN_LOG_LEVEL` is read, twice, and a CPU
machine's first device listing adds `E0000 … failed call to cuInit` at any level below 3.

`quiet_by_default()` (called when `seq2seq` is imported, so the verbs and the notebooks get it)
sets `TF_CPP_MIN_LOG_LEVEL=3` unless the user set it, and imports `tensorflow` with its stderr
(file descriptor 2) sent to a temporary file; afterwards every captured line except that
chatter is written back to stderr, so an unexpected message or a Python warning still shows.
The cuInit line is dropped only when TensorFlow finds no GPU. `SEQ2SEQ_VERBOSE=1` in the
environment, or `be_verbose()` before TensorFlow is imported (the verbs call it for
`hydra.verbose=true`), leaves everything as TensorFlow prints it.
"""

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

VERBOSE_ENV = "SEQ2SEQ_VERBOSE"
LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "3"  # FATAL only: also TensorFlow's E-level lines after import (cuInit, oneDNN)
NOISY_MODULES = ("tensorflow",)

# absl/TF C++ info and warning lines, absl's preamble, the CPU-feature notice's second line.
_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    r"|To enable the following instructions: "
)
_CUINIT = re.compile(r"E\d{4} \S+ +\d+ \S+:\d+\] failed call to cuInit")


class _State:
    level_set_here = False


def quiet_by_default() -> None:
    """Quiet TensorFlow's C++ logs and import chatter, unless SEQ2SEQ_VERBOSE is set or
    TensorFlow is already imported."""
    if os.environ.get(VERBOSE_ENV, "") not in ("", "0") or "tensorflow" in sys.modules:
        return
    if LEVEL_ENV not in os.environ:
        os.environ[LEVEL_ENV] = QUIET_LEVEL
        _State.level_set_here = True
    if not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def be_verbose() -> None:
    """Undo `quiet_by_default` (effective if TensorFlow is not imported yet)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietImport)]
    if _State.level_set_here and os.environ.get(LEVEL_ENV) == QUIET_LEVEL:
        del os.environ[LEVEL_ENV]
    _State.level_set_here = False


def is_chatter(line: str, gpus_found: bool = True) -> bool:
    """Whether a captured stderr line is TensorFlow start-up chatter."""
    return bool(_CHATTER.match(line) or (not gpus_found and _CUINIT.match(line)))


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds NOISY_MODULES with the other finders and wraps their loader in _QuietLoader."""

    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201 (importlib protocol)
        if name not in NOISY_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


class _QuietLoader(importlib.abc.Loader):
    """Runs the wrapped loader's `exec_module` with stderr filtered; lists the GPUs (the cuInit
    probe) inside the same filter. Anything else is the wrapped loader's."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def __getattr__(self, name: str):  # noqa: ANN204 (get_resource_reader, is_package, ...)
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        gpus: list[bool] = []
        with _filtered_stderr(gpus):
            self._loader.exec_module(module)
            gpus.append(bool(module.config.list_physical_devices("GPU")))


@contextlib.contextmanager
def _filtered_stderr(gpus: list[bool]) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file; on exit write its lines back to stderr,
    without the chatter (the cuInit line too if `gpus` ends with False)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2: leave it alone
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            gpus_found = gpus[-1] if gpus else True
            kept = [
                line for line in text.splitlines(keepends=True) if not is_chatter(line, gpus_found)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
