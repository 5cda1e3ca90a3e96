"""Run analysis helpers and the committed notebooks (executed cell by cell, outputs stripped)."""

import json
import shutil
from pathlib import Path

import matplotlib
import pytest

from seq2seq.analysis import find_runs, read_curves, run_summary, varying_keys

matplotlib.use("Agg")
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_curves_and_summary(smoke_run):
    _, run_dir, _ = smoke_run
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
    shutil.copytree(smoke_run[1], logs / "smoke")
    monkeypatch.chdir(tmp_path)
    assert find_runs() == [Path("logs/train/runs/smoke")]
    namespace: dict = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            exec("".join(cell["source"]), namespace)
