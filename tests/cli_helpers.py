"""Helpers for running the verbs: their console scripts in a subprocess, their composed and
validated configs for calling the plain functions behind them in-process, and probe inputs."""

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from seq2seq.config import SCHEMAS, validate

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = str(ROOT / "conf")
BIN = Path(sys.executable).parent
# TensorFlow's logs as users get them by default (seq2seq/quiet.py); PYTHONPATH lets `python -c`
# snippets import tests.* helpers.
ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "SEQ2SEQ_VERBOSE")}
ENV["PYTHONPATH"] = str(ROOT)

# Inputs for a trained smoke run: blank lines, and sources of the same length (abc, aab, cba,
# bad) whose outputs must differ.
LINES = ["abc", "", "hgfedcba", "   ", "aab", "dd", "cba", "bad"]
SAME_LENGTH = [0, 4, 6, 7]


def check_outputs(outputs: list[str]) -> None:
    """Outputs of LINES: empty exactly for the blank lines, and not a function of the input
    length alone (which a model repeating one token would give)."""
    assert [o == "" for o in outputs] == [not line.strip() for line in LINES], outputs
    assert len({outputs[i] for i in SAME_LENGTH}) > 1, outputs


def run_verb(
    verb: str, *overrides: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the `seq2seq-<verb>` console script; capture its text output."""
    return run_command([str(BIN / f"seq2seq-{verb}"), *overrides], stdin=stdin, cwd=cwd)


def run_python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (state such as TF op determinism stays there)."""
    return run_command([sys.executable, "-c", code, *args], cwd=cwd)


def run_command(
    argv: list[str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=ENV,
    )


def compose_verb(verb: str, *overrides: str, hydra: bool = False):
    """The verb's primary config composed with `overrides` (the DictConfig; with the `hydra`
    node if `hydra`)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(verb, overrides=list(overrides), return_hydra_config=hydra)


def verb_config(verb: str, *overrides: str):
    """The verb's config composed and validated against its schema, as the CLI does."""
    return validate(compose_verb(verb, *overrides), SCHEMAS[verb])
