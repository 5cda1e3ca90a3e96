"""Run analysis helpers and the committed notebooks (executed cell by cell, outputs stripped)."""

import contextlib
import io
import json
import shutil
from pathlib import Path

import matplotlib
import pytest

from seq2seq.analysis import find_runs, read_curves, run_summary, varying_keys

matplotlib.use("Agg")
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_curves_and_summary(smoke_run):
    run_dir = smoke_run.run_dir
    curves = read_curves(run_dir)
    assert [step for step, _ in curves["train/loss"]] == [2, 4, 6, 8, 10, 12]
    assert [step for step, _ in curves["val/wer"]] == [6, 12]
    row = run_summary(run_dir)
    assert row["model.decoder"] == "luong" and row["steps"] == 12
    other = dict(row, **{"model.dropout": 0.5})
    assert varying_keys([row, other]) == ["model.dropout"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_is_stripped(notebook, smoke_run, tmp_path, monkeypatch):
    cells = json.loads(notebook.read_text())["cells"]
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in cells
        if c["cell_type"] == "code"
    ), "commit notebooks without outputs"
    logs = tmp_path / "logs" / "train" / "runs"
    logs.mkdir(parents=True)
    shutil.copytree(smoke_run.run_dir, logs / "smoke")
    monkeypatch.chdir(tmp_path)
    assert find_runs() == [Path("logs/train/runs/smoke")]
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for cell in cells:
            if cell["cell_type"] == "code":
                exec("".join(cell["source"]), namespace)
    check_outputs(notebook.name, namespace, printed.getvalue().splitlines(), smoke_run)


def check_outputs(name: str, namespace: dict, lines: list[str], smoke_run) -> None:
    """What each notebook must have shown for the one smoke run under logs/train."""
    assert name == "1.0-runs-overview.ipynb", f"add the expected outputs of {name} here"
    assert lines[0] == "1 runs under logs/train"
    header, row = lines[1].split("\t"), lines[2].split("\t")
    assert header[0] == "run" and row[0] == "smoke" and len(lines) == 3
    summary = dict(zip(header, row))
    assert float(summary["best/val/wer"]) == smoke_run.metrics["best/val/wer"]
    assert int(summary["steps"]) == 12
    curves = read_curves(smoke_run.run_dir)
    for ax, tag in zip(namespace["axes"], namespace["TAGS"]):
        assert ax.get_title() == tag
        (line,) = ax.get_lines()  # one run, one curve
        assert list(line.get_xdata()) == [step for step, _ in curves[tag]], tag
        assert list(line.get_ydata()) == [value for _, value in curves[tag]], tag
