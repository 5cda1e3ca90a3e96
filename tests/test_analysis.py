"""Run analysis helpers (the notebooks are executed in tests/test_notebooks.py)."""

from seq2seq.analysis import read_curves, run_summary, varying_keys


def test_curves_and_summary(smoke_run):
    run_dir = smoke_run.run_dir
    curves = read_curves(run_dir)
    assert [step for step, _ in curves["train/loss"]] == [2, 4, 6, 8, 10, 12]
    assert [step for step, _ in curves["val/wer"]] == [6, 12]
    row = run_summary(run_dir)
    assert row["model.decoder"] == "luong" and row["steps"] == 12
    other = dict(row, **{"model.dropout": 0.5})
    assert varying_keys([row, other]) == ["model.dropout"]
