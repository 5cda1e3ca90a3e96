"""What every entry point shares: bad input ends as one line on stderr, not a traceback."""

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from seq2seq.errors import Seq2SeqError

T = TypeVar("T")

# Absolute: run as a console script, Hydra would resolve a relative config_path as a package.
CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def run_cli(job: Callable[[], T]) -> T:
    """Run `job`; on a Seq2SeqError print `error: …` and exit with status 2."""
    logging.getLogger("absl").setLevel(logging.WARNING)  # per-checkpoint "Sharding callback"
    try:
        return job()
    except Seq2SeqError as exc:
        logging.getLogger("seq2seq").debug("error", exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
