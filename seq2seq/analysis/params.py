"""Notebook inputs from environment variables, so that one notebook runs on any run or sweep:
`SEQ2SEQ_RUN_DIR=logs/train/runs/X jupyter nbconvert --execute ...`, or from the tests.
papermill users can override the same names in the notebook's `parameters` cell instead."""

import json
import os
from pathlib import Path
from typing import Any

from seq2seq.resources import checkout_root


def logs_dir() -> Path:
    """Where `make train` and sweeps put their runs: $PROJECT_ROOT/logs, else the checkout's
    logs/ (a notebook's kernel starts in notebooks/, so a relative logs/ would miss it), else
    (an installed wheel) logs/ of the working directory."""
    return Path(os.environ.get("PROJECT_ROOT") or checkout_root() or ".") / "logs"


def notebook_param(name: str, default: Any) -> Any:
    """The environment variable `name` converted to the type of `default` (lists and dicts as
    JSON, booleans as true/false/1/0), or `default` if it is unset or empty."""
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return raw.lower() in ("true", "1")
        if isinstance(default, int | float):
            return type(default)(raw)
        if isinstance(default, list | dict):
            value = json.loads(raw)
            if not isinstance(value, type(default)):
                raise ValueError(f"expected a JSON {type(default).__name__}")
            return value
    except ValueError as error:
        raise ValueError(f"environment variable {name}={raw!r}: {error}") from None
    return raw
