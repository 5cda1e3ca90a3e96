"""The committed notebooks: stripped of outputs, each .ipynb equal to its jupytext .py pair,
and each executed by papermill in a real Jupyter kernel, with its parameters (`-p run_dir ...`,
docs/notebooks.md), on the shared smoke run and on a small sweep made here (in the background,
while the other notebooks run). A probe cell appended to each notebook prints what it computed
as JSON."""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest
from tensorboard.plugins.hparams import api_pb2

from seq2seq.analysis import read_curves
from seq2seq.analysis.params import logs_dir, notebook_param
from seq2seq.runs.hparams import SWEEP_HPARAMS_DIR
from tests.cli_helpers import BIN, ENV
from tests.tensorboard_helpers import domain, hparams_records
from tests.train_helpers import tiny_train_overrides

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
PROBE_MARK = "PROBE "


# --- committed form -------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped_and_matches_its_py_pair(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name}: commit notebooks without outputs"
            )
    assert notebook.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
    pair = path.with_suffix(".py")
    assert pair.is_file(), f"{path.name} has no jupytext pair {pair.name}"
    text = jupytext.read(pair)

    def cells(nb):
        return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]

    assert cells(text) == cells(notebook), (
        f"{path.name} and {pair.name} differ: run `jupytext --sync notebooks/{pair.name}`"
    )


def test_every_notebook_is_executed_below():
    assert {p.stem for p in NOTEBOOKS} == set(PROBES)


# --- executed in a kernel -------------------------------------------------------------------

PROBES = {
    "1.0-runs-overview": """
{"printed": None,
 "curves": {ax.get_title(): [list(l.get_xdata()) for l in ax.get_lines()] for ax in axes},
 "values": {ax.get_title(): [list(l.get_ydata()) for l in ax.get_lines()] for ax in axes}}
""",
    "2.0-sweep-analysis": """
{"jobs": list(table["job"]), "status": list(table["status"]), "varied": varied,
 "metric": metric, "metric_values": [float(v) for v in table[metric]],
 "shown": shown, "metric_panels": [ax.get_title() for ax in metric_fig.axes],
 "points": [len(ax.collections[0].get_offsets()) for ax in metric_fig.axes],
 "curve_panels": [ax.get_title() for ax in curve_fig.axes],
 "curves": {ax.get_title(): {l.get_label(): [list(map(float, l.get_xdata())),
                                             list(map(float, l.get_ydata()))]
                             for l in ax.get_lines()} for ax in curve_fig.axes}}
""",
    "3.0-padding-and-bucketing": """
{"pairs": len(corpus), "table": json.loads(table.to_json(orient="index")),
 "length_panels": [ax.get_title() for ax in lengths_fig.axes],
 "batching_panels": [ax.get_title() for ax in batching_fig.axes]}
""",
    "4.0-error-analysis": """
{"task": run.cfg.task, "rows": len(scored), "sources": list(scored["source"]),
 "wer": 100.0 * (1 - float(scored["correct"].mean())), "evaluation": str(evaluation),
 "worst": json.loads(worst.to_json(orient="records")),
 "heatmaps": [ax.get_title() for ax in attention_fig.axes],
 "confusions": int(sum(counts.values())),
 "phonemes": int(sum(len(h.split()) for h in scored["closest"]))}
""",
}


def execute(name: str, cwd: Path, parameters: dict, monkeypatch) -> dict:
    """Run notebooks/<name>.ipynb by papermill in a fresh kernel (working directory `cwd`,
    `parameters` injected after its `parameters` cell) with its probe cell appended; return the
    probe's JSON and the kernel's Python. Figures use matplotlib's Agg backend."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for key in list(os.environ):  # parameters only: no SEQ2SEQ_* fallback from outside
        if key.startswith("SEQ2SEQ_"):
            monkeypatch.delenv(key)
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    found = f"{{'python': sys.executable, **{PROBES[name].strip()}}}"
    probe = (
        f"import json, sys\nprint({PROBE_MARK!r} + json.dumps({found}, default=lambda v: v.item()))"
    )
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    source, executed = cwd / f"{name}.ipynb", cwd / f"{name}.out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(
        source, executed, parameters, cwd=cwd, kernel_name="python3", progress_bar=False
    )
    notebook = nbformat.read(executed, as_version=4)
    (injected,) = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert all(f"{key} = " in injected.source for key in parameters), injected.source
    printed = "".join(  # papermill streams stdout in chunks that may split a line
        output["text"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stdout"
    ).splitlines()
    (probe_line,) = [line for line in printed if line.startswith(PROBE_MARK)]
    result = json.loads(probe_line[len(PROBE_MARK) :])
    assert Path(result.pop("python")).resolve() == Path(sys.executable).resolve(), (
        "the python3 kernel is not this environment's interpreter"
    )
    result["printed"] = [line for line in printed if not line.startswith(PROBE_MARK)]
    return result


@pytest.fixture(scope="module")
def sweep_process(tmp_path_factory):
    """Start a small sweep by the real `seq2seq-train -m` (two jobs of 4 steps,
    model.dropout=0.0,0.2) in the background: the notebooks on the smoke run request this
    first, so that the sweep trains while they execute."""
    tmp = tmp_path_factory.mktemp("sweep")
    overrides = tiny_train_overrides(
        tmp,
        "train.max_steps=4",
        "train.validate_every=4",
        "train.log_every=1",
        "train.val_decode_examples=10",
    )
    sweep = tmp / "sweep"
    argv = [str(BIN / "seq2seq-train"), "-m", *overrides, "model.dropout=0.0,0.2"]
    log = (tmp / "sweep.log").open("w")
    proc = subprocess.Popen(
        [*argv, f"hydra.sweep.dir={sweep}"], stdout=log, stderr=subprocess.STDOUT, env=ENV
    )
    yield proc, sweep, tmp / "sweep.log"
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    log.close()


@pytest.fixture(scope="module")
def small_sweep(sweep_process) -> Path:
    proc, sweep, log = sweep_process
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    return sweep


def test_runs_overview(sweep_process, smoke_run, tmp_path, monkeypatch):
    logs = tmp_path / "logs" / "train" / "runs"
    shutil.copytree(smoke_run.run_dir, logs / "smoke")
    out = execute("1.0-runs-overview", tmp_path, {"log_root": "logs/train"}, monkeypatch)
    lines = out["printed"]
    assert lines[0] == "1 runs under logs/train"
    header, row = lines[1].split("\t"), lines[2].split("\t")
    assert header[0] == "run" and row[0] == "smoke" and len(lines) == 3, lines
    summary = dict(zip(header, row))
    assert float(summary["best/val/wer"]) == smoke_run.metrics["best/val/wer"]
    assert int(summary["steps"]) == 12
    curves = read_curves(smoke_run.run_dir)
    for tag, (steps,) in out["curves"].items():  # one run, one line per panel
        assert steps == [step for step, _ in curves[tag]], tag
        assert out["values"][tag] == [[value for _, value in curves[tag]]], tag


def test_padding_and_bucketing(sweep_process, smoke_run, tmp_path, monkeypatch):
    params = {
        "run_dir": str(smoke_run.run_dir),
        "max_examples": 0,
        "batch_sizes": [16],
        "batch_tokens": [256],
        "width_ratios": [1.1, 1.5],
        "steps": 1,
        "rounds": 1,
    }
    out = execute("3.0-padding-and-bucketing", tmp_path, params, monkeypatch)
    table, pairs = out["table"], out["pairs"]
    assert list(table) == [
        "random 16",
        "bucketed 256 tok, ratio 1.1",
        "bucketed 256 tok, ratio 1.5",
    ]
    random, narrow, wide = table.values()
    for row in table.values():  # one epoch holds every pair (all fit the length limits here)
        assert round(row["batches"] * row["mean_batch"]) == pairs
        assert row["pipeline_tokens_per_sec"] > 0 and row["step_tokens_per_sec"] > 0
    assert random["batches"] == math.ceil(pairs / 16)
    # Width-1 buckets hold one length each: no padding. Wider buckets and random batches pad.
    assert narrow["source_real_fraction"] == narrow["target_real_fraction"] == 1.0
    assert random["target_real_fraction"] < wide["target_real_fraction"] < 1.0
    assert narrow["shapes"] > wide["shapes"] > 0
    assert out["length_panels"][0].startswith("source lengths (")
    assert out["batching_panels"] == [
        "real-token fraction",
        "pipeline tokens per sec",
        "step tokens per sec",
    ]


def test_error_analysis(sweep_process, smoke_run, tmp_path, monkeypatch):
    params = {"run_dir": str(smoke_run.run_dir), "buckets": 3, "worst": 2, "heatmaps": 2}
    out = execute("4.0-error-analysis", tmp_path, params, monkeypatch)
    assert out["task"] == "g2p" and out["evaluation"] == "None"  # decoded in the notebook
    # The same greedy decoding of the best checkpoint as the run's own final evaluation.
    assert out["wer"] == pytest.approx(smoke_run.metrics["best/test/wer"])
    worst = out["worst"]
    buckets = list(dict.fromkeys(row["length_bucket"] for row in worst))
    assert 1 <= len(buckets) <= 3 and len(worst) <= 6
    for bucket in buckets:
        rows = [row for row in worst if row["length_bucket"] == bucket]
        assert len(rows) <= 2 and [r["per"] for r in rows] == sorted(
            (r["per"] for r in rows), reverse=True
        )
    assert [min(r["length"] for r in worst if r["length_bucket"] == b) for b in buckets] == sorted(
        min(r["length"] for r in worst if r["length_bucket"] == b) for b in buckets
    )
    assert len(out["heatmaps"]) == 2 and set(out["heatmaps"]) <= set(out["sources"])
    # Every reference phoneme is aligned once (matched, substituted or deleted), plus insertions.
    assert out["confusions"] >= out["phonemes"] > 0


def test_sweep_analysis(small_sweep, tmp_path, monkeypatch):
    out = execute("2.0-sweep-analysis", tmp_path, {"sweep_dir": str(small_sweep)}, monkeypatch)
    metrics = {job: json.loads((small_sweep / job / "metrics.json").read_text()) for job in "01"}
    assert out["metric"] == "best/val/loss" and out["varied"] == ["model.dropout"]
    assert out["status"] == ["ok", "ok"] and sorted(out["jobs"]) == ["0", "1"]
    assert out["metric_values"] == sorted(out["metric_values"])  # best (lowest loss) first
    assert out["metric_values"] == [metrics[job]["best/val/loss"] for job in out["jobs"]]
    assert {"job", "status", "model.dropout", "best/val/loss", "steps"} <= set(out["shown"])
    assert out["metric_panels"] == ["best/val/loss vs model.dropout"] and out["points"] == [2]
    tags = ["train/loss", "val/loss", "val/loss", "train/real_tokens_per_sec"]
    assert out["curve_panels"] == tags
    # The TensorBoard curves hold what each job also logged to metrics.jsonl.
    for job, dropout in (("0", "0.0"), ("1", "0.2")):
        label = f"job {job}: model.dropout={dropout}"
        jsonl = read_curves(small_sweep / job)
        for tag in ("train/loss", "val/loss"):
            steps, values = out["curves"][tag][label]
            assert steps == [float(s) for s, _ in jsonl[tag]], (job, tag)
            assert values == pytest.approx([v for _, v in jsonl[tag]], rel=1e-6), (job, tag)
        assert len(out["curves"]["train/loss"][label][0]) == 4


def test_the_sweep_writes_one_hparams_experiment_over_its_jobs(small_sweep):
    """TensorBoard's HParams dashboard on `tensorboard --logdir SWEEP_DIR`: one experiment
    (SWEEP_DIR/hparams/, written at the sweep's end) with both dropouts in its domain; each job
    a trial record that ended successfully, and no experiment of its own."""
    experiment = hparams_records(small_sweep / SWEEP_HPARAMS_DIR)["experiment"]
    infos = {info.name: info for info in experiment.hparam_infos}
    assert domain(infos["model.dropout"]) == pytest.approx([0.0, 0.2])
    metrics = json.loads((small_sweep / "0" / "metrics.json").read_text())
    best = sorted(k for k in metrics if k.startswith(("best/val/", "best/test/")))
    assert sorted(m.name.tag for m in experiment.metric_infos) == best
    for job in "01":
        records = hparams_records(small_sweep / job / "tensorboard")
        assert set(records) == {"session_start_info", "session_end_info"}, job
        assert records["session_end_info"].status == api_pb2.STATUS_SUCCESS


def test_notebook_param_reads_typed_environment_values(monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_X", "[1, 2]")
    assert notebook_param("SEQ2SEQ_X", [0]) == [1, 2]
    monkeypatch.setenv("SEQ2SEQ_X", "3")
    assert notebook_param("SEQ2SEQ_X", 0) == 3 and notebook_param("SEQ2SEQ_X", 0.5) == 3.0
    monkeypatch.setenv("SEQ2SEQ_X", "")
    assert notebook_param("SEQ2SEQ_X", "default") == "default"
    monkeypatch.setenv("SEQ2SEQ_X", "{}")
    with pytest.raises(ValueError, match="SEQ2SEQ_X='{}': expected a JSON list"):
        notebook_param("SEQ2SEQ_X", [])
    monkeypatch.delenv("SEQ2SEQ_X")
    assert notebook_param("SEQ2SEQ_X", True) is True
    assert os.environ.get("SEQ2SEQ_X") is None
    monkeypatch.delenv("PROJECT_ROOT", raising=False)
    assert logs_dir() == NOTEBOOK_DIR.parent / "logs"  # not the kernel's notebooks/ directory
    monkeypatch.setenv("PROJECT_ROOT", "/elsewhere")
    assert logs_dir() == Path("/elsewhere/logs")
