"""docs/your-own-data.md: its commands run as written (from a directory holding the
repository's `data/`, `debug=smoke` added to each `seq2seq-train`, a step of a full run named
as one a smoke run saves), and the warnings and errors
it quotes are the ones the verbs print."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "your-own-data.md"
ENV = dict(
    os.environ,
    TF_CPP_MIN_LOG_LEVEL="3",
    PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
)


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def with_smoke(script: str) -> str:
    """Each `seq2seq-train` line of `script` with `debug=smoke` appended, and a step the doc
    names (`checkpoint=step:N` of a full run) as step 10, which a smoke run saves."""
    script = re.sub(r"^(seq2seq-train .*)$", r"\1 debug=smoke", script, flags=re.M)
    return re.sub(r"checkpoint=step:\d+", "checkpoint=step:10", script)


def run(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def quoted_messages() -> list[str]:
    """The lines of the doc's ```text blocks, without `...` elisions."""
    return [line for block in blocks("text") for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_your_own_data_commands_run_and_print_what_the_doc_quotes(tmp_path):
    (tmp_path / "data").symlink_to(ROOT / "data")
    printed = []
    for script in blocks("bash"):
        proc = run(with_smoke(script), tmp_path)
        assert proc.returncode == 0, f"{script}\n{proc.stderr[-3000:]}"
        printed.append(proc.stdout + proc.stderr)
    assert (tmp_path / "runs/spelling/metrics.json").exists()
    assert (tmp_path / "runs/es-en/metrics.json").exists()
    translated = printed[2].strip().splitlines()[-2:]  # the two corrected words
    assert len(translated) == 2
    # The tiny-file error the doc quotes.
    pairs = "".join(f"w{i}\tx{i}\n" for i in range(150))
    (tmp_path / "tiny.tsv").write_text(pairs, encoding="utf-8")
    proc = run(
        "seq2seq-prepare data=tsv tokenizer=chars data.train.path=tiny.tsv "
        "data.split_fractions='{train: 0.9, valid: 0.05, test: 0.05}' hydra.run.dir=runs/tiny",
        tmp_path,
    )
    assert proc.returncode == 2
    printed.append(proc.stderr)
    everything = "\n".join(printed)
    missing = [m for m in quoted_messages() if m not in everything]
    assert not missing, everything[-5000:]


def test_doc_quotes_messages_and_runs_the_starters():
    """Cheap checks of the doc itself (the slow test above runs it)."""
    scripts = "\n".join(blocks("bash"))
    assert "experiment=byo_chars" in scripts and "experiment=byo_translation" in scripts
    assert len(quoted_messages()) == 4
    assert with_smoke("x\nseq2seq-train a=b\n") == "x\nseq2seq-train a=b debug=smoke\n"
