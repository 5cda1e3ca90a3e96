"""The documentation runs as written: every `seq2seq-*` command shown in README.md and docs/
composes and validates against its verb's schema (a renamed key or group option fails here),
the Python API example runs and shows what it claims, and the README's tour runs end to end
(slow). `make docs` builds the site strictly (checked in CI by `make test`)."""

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from seq2seq.config import SCHEMAS
from tests.cli_helpers import ENV, compose_verb, verb_config

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
HYDRA_VERBS = set(SCHEMAS)
RUN_VERBS = {"evaluate", "translate", "distill", "export"}  # they read a trained run: run_dir=…
BLOCK = re.compile(r"```(?:bash|sh|console)\n(.*?)```", re.S)


def shell_commands(text: str) -> list[list[str]]:
    """The commands of the fenced shell blocks of `text`, as argument lists (continuation lines
    joined, comments dropped, pipelines and `&&` / `;` lists split)."""
    commands = []
    for block in BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;")
            lexer.whitespace_split, lexer.commenters = True, "#"
            command: list[str] = []
            for token in [*lexer, ";"]:
                if token in ("|", "||", "&&", ";", "&"):
                    commands += [command] if command else []
                    command = []
                else:
                    command.append(token)
    return commands


def verb_invocations(page: Path) -> list[tuple[str, list[str]]]:
    """(verb, overrides) of every Hydra verb called on `page` (`seq2seq-train …`,
    `.venv/bin/seq2seq-train …`, `make train ARGS=…`), environment assignments skipped."""
    found = []
    for argv in shell_commands(page.read_text(encoding="utf-8")):
        while argv and re.match(r"^[A-Z_]+=", argv[0]):  # VAR=value command …
            argv = argv[1:]
        if argv[:2] == ["make", "train"]:
            args = [a.removeprefix("ARGS=") for a in argv[2:] if a.startswith("ARGS=")]
            found.append(("train", ["experiment=g2p_cmudict", *shlex.split(" ".join(args))]))
            continue
        name = Path(argv[0]).name if argv else ""
        verb = name.removeprefix("seq2seq-")
        if name.startswith("seq2seq-") and verb in HYDRA_VERBS:
            found.append((verb, argv[1:]))
    return found


def first_of_each_sweep(overrides: list[str]) -> list[str]:
    """`-m` sweep overrides (`a=1,2`, `b=range(…)`) reduced to one job's: the first value."""
    parser = OverridesParser.create()
    out = []
    for text, parsed in zip(overrides, parser.parse_overrides(overrides)):
        if parsed.is_sweep_override():
            value = next(parsed.sweep_string_iterator())
            out.append(f"{parsed.get_key_element()}={value}")
        else:
            out.append(text)
    return out


CASES = [
    pytest.param(verb, args, id=f"{page.relative_to(ROOT)}:{verb}:{i}")
    for page in PAGES
    for i, (verb, args) in enumerate(verb_invocations(page))
]


def test_the_pages_show_commands_of_every_hydra_verb():
    assert {verb for verb, _ in (c.values for c in CASES)} >= {"train", "evaluate", "translate"}


@pytest.mark.parametrize("verb,args", CASES)
def test_each_command_in_the_docs_composes_and_validates(verb, args):
    flags = {"-m", "--multirun"}
    overrides = [a for a in args if not a.startswith("-") and a not in flags]
    overrides = [o for o in first_of_each_sweep(overrides) if not o.startswith("hydra")]
    if verb in RUN_VERBS and not any(o.startswith("run_dir=") for o in overrides):
        overrides.append("run_dir=/runs/r")
    hydra_node = compose_verb(verb, *overrides, hydra=True).hydra  # launcher/sweeper options
    assert hydra_node is not None
    verb_config(verb, *overrides)


def test_shell_commands_split_pipelines_and_continuations():
    text = (
        "```bash\nA=1 seq2seq-train x=1 \\\n  y=2   # note\n"
        "echo hi | seq2seq-translate run_dir=r\n```"
    )
    assert shell_commands(text) == [
        ["A=1", "seq2seq-train", "x=1", "y=2"],
        ["echo", "hi"],
        ["seq2seq-translate", "run_dir=r"],
    ]


def _python_api_block() -> str:
    page = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", page, re.S).group(1)


def test_python_api_example(capsys):
    namespace = {"ROOT": str(ROOT)}
    exec(compile(_python_api_block(), "docs/python-api.md", "exec"), namespace)
    logits, logits_more = namespace["logits"], namespace["logits_more"]
    assert tuple(logits.shape) == (2, 5, 60)
    np.testing.assert_allclose(logits[0, :3], logits_more[0, :3], atol=1e-5)
    np.testing.assert_allclose(logits[1, :5], logits_more[1, :5], atol=1e-5)
    first, second = capsys.readouterr().out.split("\n")[1].split()
    assert abs(float(first) - float(second)) < 1e-5


def _tour() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return BLOCK.search(readme.split("## A 30-second tour", 1)[1]).group(1)


@pytest.mark.slow
def test_the_readme_tour_runs(tmp_path):
    """The tour's shell block as written (its /tmp paths moved under tmp_path), in bash, with
    the venv's verbs on PATH."""
    import os
    import subprocess
    import sys

    script = _tour().replace("/tmp/", f"{tmp_path}/").replace("tensorboard --logdir", "true")
    env = dict(ENV, PATH=f"{Path(sys.executable).parent}{os.pathsep}{ENV['PATH']}")
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "smoke" / "export" / "saved_model.pb").exists()
    assert (tmp_path / "sweep" / "summary.md").exists()
