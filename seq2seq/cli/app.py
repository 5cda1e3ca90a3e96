"""`hydra_app`: what `@hydra.main` gives a verb, plus `--help` that teaches, `--version`, and
one-line config errors.

    @hydra_app("train", DESCRIPTION, EXAMPLES)
    def main(cfg: DictConfig) -> ...: ...

- `--help` / `-h`: the verb's description, examples and config groups (seq2seq/cli/help.py);
  Hydra's own page stays behind `--hydra-help`.
- `--version`: `seq2seq-<verb> <version>`.
- A config that cannot be composed (an unknown key or group option, a group the verb does not
  have, bad override syntax) ends as `error: …` naming the key and the closest valid names,
  exit status 2 (seq2seq/cli/startup_errors.py). Hydra reports these errors itself, in several
  lines with exit status 1 (`hydra._internal.utils.run_and_report`); while the app runs, that
  function is wrapped so that errors raised outside the verb's own code leave Hydra and are
  said here. `HYDRA_FULL_ERROR=1` shows Hydra's traceback as before.
"""

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import hydra
import hydra._internal.utils as hydra_utils
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

import seq2seq
from seq2seq.cli.common import CONF_DIR

HELP_FLAGS = ("--help", "-h")
VERSION_FLAG = "--version"


class StartupError(BaseException):
    """A config error raised before the verb's code ran, on its way out of Hydra's handling (a
    BaseException, which `run_and_report` does not catch)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def version_line(prog: str) -> str:
    return f"{prog} {seq2seq.__version__}"


def hydra_app(
    verb: str, description: str, examples: Sequence[str]
) -> Callable[[Callable[[DictConfig], Any]], Callable[..., Any]]:
    """`@hydra.main` on `conf/<verb>.yaml`, with --help, --version and one-line config errors."""

    def decorator(task: Callable[[DictConfig], Any]) -> Callable[..., Any]:
        in_task = [0]

        @functools.wraps(task)
        def tracked(cfg: DictConfig) -> Any:
            in_task[0] += 1
            try:
                return task(cfg)
            finally:
                in_task[0] -= 1

        hydra_main = hydra.main(version_base="1.3", config_path=CONF_DIR, config_name=verb)(tracked)

        @functools.wraps(task)
        def main(cfg_passthrough: DictConfig | None = None) -> Any:
            if cfg_passthrough is not None:  # a launcher's job in another process
                return tracked(cfg_passthrough)
            argv = sys.argv[1:]
            if VERSION_FLAG in argv:
                print(version_line(f"seq2seq-{verb}"))
                return None
            if any(flag in argv for flag in HELP_FLAGS):
                from seq2seq.cli.help import verb_help

                print(verb_help(verb, description, examples))
                return None
            try:
                with _startup_errors_escape(lambda: in_task[0] > 0):
                    return hydra_main()
            except StartupError as exc:
                _exit_with(verb, exc.error)
            except (HydraException, OmegaConfBaseException) as exc:  # e.g. --info, outside Hydra's
                if in_task[0] or _full_error():
                    raise
                _exit_with(verb, exc)

        return main

    return decorator


def _exit_with(verb: str, error: Exception) -> None:
    from seq2seq.cli.startup_errors import describe_startup_error

    print(f"error: {describe_startup_error(error, verb)}", file=sys.stderr)
    sys.exit(2)


class _startup_errors_escape:  # noqa: N801 (a context manager used like a function)
    """While active, config errors that Hydra's `run_and_report` would print in several lines
    leave it as a StartupError (unless raised inside the verb's code: `in_task()`)."""

    def __init__(self, in_task: Callable[[], bool]) -> None:
        self._in_task = in_task
        self._original = hydra_utils.run_and_report

    def __enter__(self) -> None:
        original, in_task = self._original, self._in_task

        def run_and_report(func: Callable[[], Any]) -> Any:
            def escaping() -> Any:
                try:
                    return func()
                except (HydraException, OmegaConfBaseException) as exc:
                    if in_task() or _full_error():
                        raise
                    raise StartupError(exc) from exc

            return original(escaping)

        hydra_utils.run_and_report = run_and_report

    def __exit__(self, *exc_info: object) -> None:
        hydra_utils.run_and_report = self._original


def _full_error() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1"
