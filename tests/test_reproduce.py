"""Reproduction: experiments/*/reproduce.yaml, the results table made from runs' figures, the
README markers, the tolerance check, and `seq2seq-reproduce` end to end (smoke runs: slow)."""

import json
from pathlib import Path

import pytest
import yaml

from seq2seq.analysis.reproduction import (
    README_FILE,
    RESULTS_BEGIN,
    RESULTS_END,
    RESULTS_FILE,
    SPEC_FILE,
    Column,
    compare,
    format_cell,
    load_spec,
    read_results,
    render_table,
    replace_table,
    resolve_runs,
    run_figures,
)
from seq2seq.cli.reproduce import main
from seq2seq.errors import ConfigError, Seq2SeqError
from tests.cli_helpers import run_verb
from tests.train_helpers import tiny_train_overrides

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.parent for p in (ROOT / "experiments").glob(f"*/{SPEC_FILE}"))

SPEC = {
    "runs": {
        "a": {"train": ["x=1"], "evaluate": {"beam5": ["decode=beam5"]}},
        "b": {"train": ["x=2"], "evaluate": {"beam5": ["decode=beam5"]}},
    },
    "rows": [{"label": "`both`", "command": "`make train`", "runs": ["a", "b"]}],
    "columns": [
        {"title": "steps", "figure": "train/steps", "format": ",.0f"},
        {
            "title": "time",
            "figure": "train/train_seconds",
            "divide": 60,
            "format": ".1f",
            "unit": " min",
        },
        {"title": "WER", "figure": "train/best/test/wer"},
        {"title": "WER beam 5", "figure": "beam5/wer"},
    ],
    "tolerance": {"train/best/test/wer": 0.5},
}
README = f"# X\n\nbefore\n\n{RESULTS_BEGIN}\nold table\n{RESULTS_END}\n\nafter\n"


def write_experiment(root: Path, spec: dict = SPEC, results: dict | None = None) -> Path:
    directory = root / "experiments" / "toy"
    directory.mkdir(parents=True)
    (directory / SPEC_FILE).write_text(yaml.safe_dump(spec))
    (directory / README_FILE).write_text(README)
    if results is not None:
        payload = {"experiment": "toy", "note": "", "runs": results}
        (directory / RESULTS_FILE).write_text(json.dumps(payload))
    return directory


def write_run(run_dir: Path, steps: int, seconds: float, wer: float, beam: float | None) -> None:
    """A finished run directory as seq2seq-train and seq2seq-evaluate leave it (figures only)."""
    run_dir.mkdir(parents=True)
    metrics = {"steps": steps, "train_seconds": seconds, "best/test/wer": wer}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "run_config.yaml").write_text("data:\n  batch_tokens: 3072\n")
    if beam is not None:
        evaluation = run_dir / "evaluations" / "beam5"
        evaluation.mkdir(parents=True)
        (evaluation / "metrics.json").write_text(json.dumps({"metrics": {"wer": beam}}))


# --- the table ------------------------------------------------------------------------------


def test_cells_show_the_mean_and_each_runs_value():
    column = Column("WER", "train/best/test/wer")
    assert format_cell([29.94, 29.73], column) == "29.84 (29.94 / 29.73)"
    assert format_cell([None, 29.47], column) == "29.47 (— / 29.47)"
    assert format_cell([None, None], column) == "—"
    assert format_cell([35.5], column) == "35.50"
    steps = Column("steps", "train/steps", format=",.0f")
    assert format_cell([2800.0, 2800.0], steps) == "2,800"  # runs that agree: one value
    minutes = Column("time", "train/train_seconds", format=".1f", divide=60, unit=" min")
    assert format_cell([2040, 515], minutes) == "21.3 (34.0 / 8.6) min"


def test_table_from_run_directories(tmp_path):
    spec = load_spec(write_experiment(tmp_path))
    write_run(tmp_path / "out" / "a", 2800, 600, 30.0, 29.5)
    write_run(tmp_path / "out" / "b", 2800, 540, 29.0, None)
    figures = run_figures(tmp_path / "out" / "a", spec.figures() + ["config/data.batch_tokens"])
    assert figures == {
        "train/steps": 2800,
        "train/train_seconds": 600,
        "train/best/test/wer": 30.0,
        "beam5/wer": 29.5,
        "config/data.batch_tokens": 3072,
    }
    results = {r: run_figures(tmp_path / "out" / r, spec.figures()) for r in "ab"}
    assert render_table(spec, results).splitlines() == [
        "| experiment | command | runs | steps | time | WER | WER beam 5 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        "| `both` | `make train` | a, b | 2,800 | 9.5 (10.0 / 9.0) min | 29.50 (30.00 / 29.00) "
        "| 29.50 (29.50 / —) |",
    ]


def test_the_table_replaces_only_the_text_between_the_markers():
    out = replace_table(README, "| new |\n", "README.md")
    assert out == f"# X\n\nbefore\n\n{RESULTS_BEGIN}\n| new |\n{RESULTS_END}\n\nafter\n"
    assert replace_table(out, "| new |\n", "README.md") == out
    with pytest.raises(ConfigError, match="README.md: needs the lines <!-- results:begin -->"):
        replace_table("# no markers\n", "| new |\n", "README.md")


def test_tolerance():
    spec_dict = dict(SPEC, tolerance={"train/best/test/wer": 0.5, "beam5/wer": 0.5})
    recorded = {"a": {"train/best/test/wer": 30.0, "beam5/wer": 29.0}, "b": {}}
    new = {"a": {"train/best/test/wer": 30.4, "beam5/wer": 29.6}, "b": {"train/best/test/wer": 1}}
    spec = _spec(spec_dict)
    differences = {(d.run, d.figure): d.ok for d in compare(spec, recorded, new)}
    assert differences == {("a", "train/best/test/wer"): True, ("a", "beam5/wer"): False}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rows": [{"label": "x", "runs": ["c"]}]}, r"rows\[0\].runs: unknown run\(s\) \['c'\]"),
        ({"columns": [{"title": "t", "figure": "wer"}]}, r"columns\[0\].figure: 'wer' must be"),
        ({"columns": [{"title": "t", "figure": "greedy/wer"}]}, "evaluations: \\['beam5'\\]"),
        ({"columns": [{"title": "t", "figure": "train/x", "format": "x"}]}, "not a number format"),
        ({"runs": {"a": {"train": "x=1"}}}, "runs.a.train: expected a list of strings"),
        ({"colums": []}, r"unknown keys \['colums'\]"),
        ({"tolerance": {"beam5/wer": "1"}}, r"tolerance.beam5/wer: expected a number, got '1'"),
        ({"columns": {"title": "t"}}, "expected a list"),
    ],
)
def test_a_bad_spec_names_the_file_and_key(tmp_path, change, message):
    directory = write_experiment(tmp_path, dict(SPEC, **change))
    with pytest.raises(ConfigError, match=f"{SPEC_FILE}: .*{message}"):
        load_spec(directory)


def _spec(spec_dict: dict):
    import tempfile

    return load_spec(write_experiment(Path(tempfile.mkdtemp()), spec_dict))


# --- the committed experiments --------------------------------------------------------------


@pytest.mark.parametrize("directory", EXPERIMENTS, ids=lambda p: p.name)
def test_each_readme_shows_the_table_of_its_recorded_results(directory):
    """README.md's table is the one rendered from results.json (`seq2seq-reproduce NAME
    --render-recorded` rewrites it), and every recorded run is a run of reproduce.yaml."""
    spec = load_spec(directory)
    recorded = read_results(directory / RESULTS_FILE)
    assert set(recorded) <= set(spec.runs)
    readme = (directory / README_FILE).read_text()
    table = render_table(spec, recorded)
    assert replace_table(readme, table, str(directory)) == readme, (
        f"{directory / README_FILE}: run `seq2seq-reproduce {directory.name} --render-recorded`"
    )


@pytest.mark.parametrize("directory", EXPERIMENTS, ids=lambda p: p.name)
def test_each_experiments_commands_compose_to_their_recorded_settings(directory):
    """Every training and evaluation command of experiments/NAME composes and validates, and a
    recorded run's command, composed today, trains the steps and batch tokens it recorded: a
    recipe that changes under its recorded runs (a default inherited by an older experiment)
    fails here until the runs pin what they were trained with. No run leaves model.rnn or
    train.precision to `auto`, which would choose by the machine it runs on."""
    from tests.cli_helpers import verb_config

    task = {"g2p_cmudict": "g2p", "mt_spa_eng": "translation"}[directory.name]
    recorded = read_results(directory / RESULTS_FILE)
    for name, run in load_spec(directory).runs.items():
        cfg = verb_config("train", *run.train)
        assert cfg.task == task
        assert "auto" not in (cfg.model.rnn, cfg.train.precision), f"{name}: pin them"
        figures = recorded.get(name, {})
        if "train/steps" in figures:
            assert cfg.train.max_steps == figures["train/steps"], name
        if "config/data.batch_tokens" in figures:
            assert cfg.data.batch_tokens == figures["config/data.batch_tokens"], name
        for evaluation in run.evaluate.values():
            verb_config("evaluate", "run_dir=x", *resolve_runs(evaluation, "out"))
        for distillation in run.distill.values():
            verb_config("distill", "run_dir=x", *resolve_runs(distillation, "out"), "output=y")


# --- the command ----------------------------------------------------------------------------


def test_table_only_within_tolerance_rewrites_readme_and_results(tmp_path, capsys):
    directory = write_experiment(tmp_path, results={"a": {"train/best/test/wer": 30.2}})
    write_run(tmp_path / "out" / "a", 2800, 600, 30.0, 29.5)
    write_run(tmp_path / "out" / "b", 2800, 540, 29.0, None)
    exit_info = table_only(tmp_path, directory)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "ok   a train/best/test/wer: 30.2 -> 30 (-0.2, tolerance 0.5)" in out
    readme = (directory / README_FILE).read_text()
    assert "| `both` | `make train` | a, b | 2,800 |" in readme and "old table" not in readme
    assert (tmp_path / "out" / "table.md").read_text() in readme
    results = json.loads((directory / RESULTS_FILE).read_text())
    assert results["runs"]["b"]["train/best/test/wer"] == 29.0
    assert results["note"].startswith("seq2seq-reproduce toy: runs in ")


def test_out_of_tolerance_exits_1_and_keeps_the_recorded_files(tmp_path, capsys):
    directory = write_experiment(tmp_path, results={"a": {"train/best/test/wer": 25.0}})
    write_run(tmp_path / "out" / "a", 2800, 600, 30.0, 29.5)
    write_run(tmp_path / "out" / "b", 2800, 540, 29.0, None)
    before = (directory / RESULTS_FILE).read_text()
    exit_info = table_only(tmp_path, directory)
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "OVER a train/best/test/wer: 25 -> 30 (+5, tolerance 0.5)" in captured.out
    assert "figures out of tolerance" in captured.err
    assert (directory / README_FILE).read_text() == README
    assert (directory / RESULTS_FILE).read_text() == before


def test_render_recorded_and_errors(tmp_path, capsys):
    directory = write_experiment(tmp_path, results={"a": {"train/best/test/wer": 30.0}})
    args = ["--experiments-dir", str(directory.parent)]
    with pytest.raises(SystemExit) as exit_info:
        main(["toy", "--render-recorded", *args])
    assert exit_info.value.code == 0
    assert (
        "| `both` | `make train` | a, b | — | — | 30.00 (30.00 / —) | — |"
        in (directory / README_FILE).read_text()
    )
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["toy", "--only", "a,c", "--table-only", *args])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: --only: unknown run(s) ['c']; runs: ['a', 'b']\n"
    with pytest.raises(SystemExit) as exit_info:
        main(["nothing", *args])
    assert "nothing/reproduce.yaml not found" in capsys.readouterr().err


def test_a_run_trained_by_another_command_is_not_reused(tmp_path, capsys):
    directory = write_experiment(tmp_path)
    write_run(tmp_path / "out" / "a", 2800, 600, 30.0, 29.5)
    (tmp_path / "out" / "a" / ".hydra").mkdir()
    (tmp_path / "out" / "a" / ".hydra" / "overrides.yaml").write_text("- x=3\n")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "toy",
                "--only",
                "a",
                "--out",
                str(tmp_path / "out"),
                "--experiments-dir",
                str(directory.parent),
            ]
        )
    assert exit_info.value.code == 2
    assert (
        "was trained with ['x=3'], not ['x=1']: remove it or choose --out"
        in capsys.readouterr().err
    )


ENSEMBLE_SPEC = dict(
    SPEC,
    runs={
        "a": {"train": ["x=1"]},
        "b": {"train": ["x=2"], "evaluate": {"ens": ["ensemble=[{run:a}]", "plot_attention=0"]}},
    },
    columns=[{"title": "ensemble WER", "figure": "ens/wer"}],
)


def test_an_evaluation_names_an_earlier_runs_directory(tmp_path, monkeypatch):
    """`{run:NAME}` in an evaluation becomes <out>/NAME; a run it names must be listed before
    it, and trained before it is evaluated."""
    import seq2seq.cli.reproduce as reproduce

    assert _spec(ENSEMBLE_SPEC).runs["b"].references() == ["a"]
    assert resolve_runs(["ensemble=[{run:a}]", "x=1"], "out") == ["ensemble=[out/a]", "x=1"]
    later = dict(ENSEMBLE_SPEC, runs={"a": {"train": [], "evaluate": {"e": ["x={run:b}"]}}})
    later["runs"]["b"] = {"train": []}
    with pytest.raises(ConfigError, match=r"runs.a: \{run:b\} must name a run listed"):
        _spec(later)
    calls = []
    monkeypatch.setattr(reproduce, "command", lambda *argv: calls.append(argv))
    spec, out = _spec(ENSEMBLE_SPEC), tmp_path / "out"
    assert reproduce.select_runs(spec, "b,a") == ["a", "b"]  # reproduce.yaml's order
    reproduce.check_references(spec, ["a", "b"], out)  # a is trained first
    with pytest.raises(Seq2SeqError, match=r"not trained in .*: reproduce it first \(--only a,b"):
        reproduce.check_references(spec, ["b"], out)
    directory = write_experiment(tmp_path, ENSEMBLE_SPEC)
    with pytest.raises(SystemExit):  # before training b
        main(["toy", "--only", "b", "--out", str(out), "--experiments-dir", str(directory.parent)])
    assert calls == []
    write_run(tmp_path / "out" / "b", 4, 1, 30.0, None)
    write_run(tmp_path / "out" / "a", 4, 1, 30.0, None)
    reproduce.run_commands(_spec(ENSEMBLE_SPEC).runs["b"], tmp_path / "out" / "b", [])
    out = tmp_path / "out"
    assert calls == [
        (
            "evaluate",
            f"run_dir={out / 'b'}",
            f"ensemble=[{out / 'a'}]",
            "plot_attention=0",
            f"hydra.run.dir={out / 'b' / 'evaluations' / 'ens'}",
        )
    ]


def test_a_distillation_step_writes_its_corpus_under_the_run(tmp_path, monkeypatch):
    """`distill: {NAME: [overrides]}`: seq2seq-distill into <run>/distilled/NAME after the
    evaluations, `{run:NAME}` resolved; skipped once its distill.json exists."""
    import seq2seq.cli.reproduce as reproduce

    spec = dict(SPEC, runs={"a": {"train": ["x=1"]}})
    spec["runs"]["b"] = {"train": [], "distill": {"corpus": ["ensemble=[{run:a}]"]}}
    spec["columns"] = [{"title": "steps", "figure": "train/steps"}]
    run = _spec(spec).runs["b"]
    assert run.references() == ["a"] and run.evaluate == {}
    calls = []
    monkeypatch.setattr(reproduce, "command", lambda *argv: calls.append(argv))
    out = tmp_path / "out"
    write_run(out / "b", 4, 1, 30.0, None)
    reproduce.run_commands(run, out / "b", [])
    corpus = out / "b" / "distilled" / "corpus"
    assert calls == [
        ("distill", f"run_dir={out / 'b'}", f"ensemble=[{out / 'a'}]", f"output={corpus}")
    ]
    corpus.mkdir(parents=True)
    (corpus / "distill.json").write_text("{}")
    reproduce.run_commands(run, out / "b", [])
    assert len(calls) == 1
    bad = dict(spec, runs={"a": {"train": [], "distill": {"c": "not a list"}}})
    with pytest.raises(ConfigError, match=r"runs.a.distill.c"):
        _spec(bad)


# --- end to end: real training and evaluation -------------------------------------------------


@pytest.mark.slow
def test_smoke_reproduction_of_a_tiny_experiment(tmp_path):
    """Two tiny runs trained and beam-evaluated by the real verbs; the table made from them.
    A quick check (overrides given): README.md and results.json stay as they are."""
    train = tiny_train_overrides(tmp_path, "train.max_steps=4", "train.validate_every=4")
    spec = dict(SPEC)
    spec["runs"] = {
        "a": {"train": train, "evaluate": {"beam5": ["decode=beam5", "plot_attention=0"]}},
        "b": {
            "train": [*train, "train.seed=2"],
            "evaluate": {"ens": ["ensemble=[{run:a}]", "plot_attention=0"]},
        },
    }
    directory = write_experiment(tmp_path, spec, results={"a": {"train/best/test/wer": 0.0}})
    out = tmp_path / "out"
    argv = ["toy", "model.dropout=0.1", "--out", str(out)]
    argv += ["--experiments-dir", str(directory.parent)]
    proc = run_verb("reproduce", *argv, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "quick check (model.dropout=0.1): not compared" in proc.stdout
    (row,) = [line for line in proc.stdout.splitlines() if line.startswith("| `both`")]
    wers = [json.loads((out / r / "metrics.json").read_text())["best/test/wer"] for r in "ab"]
    beam = json.loads((out / "a" / "evaluations" / "beam5" / "metrics.json").read_text())
    assert beam["decode"]["beam_size"] == 5
    ensemble = json.loads((out / "b" / "evaluations" / "ens" / "metrics.json").read_text())
    assert ensemble["metrics"]["wer"] >= 0  # b decoded with a as one ensemble
    cells = row.split(" | ")
    assert cells[3] == "4"  # steps: both runs agree
    wer_cell = f"{(wers[0] + wers[1]) / 2:.2f} ({wers[0]:.2f} / {wers[1]:.2f})"
    assert cells[5] == (f"{wers[0]:.2f}" if wers[0] == wers[1] else wer_cell)
    assert cells[6] == f"{beam['metrics']['wer']:.2f} ({beam['metrics']['wer']:.2f} / —) |"
    overrides = yaml.safe_load((out / "a" / ".hydra" / "overrides.yaml").read_text())
    assert overrides == [*train, "model.dropout=0.1"]
    assert (directory / README_FILE).read_text() == README
    assert (out / "table.md").read_text() in proc.stdout
    # A second call reuses both runs and the evaluation.
    again = run_verb("reproduce", *argv, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr.count("already") == 4, again.stderr[-2000:]


@pytest.mark.slow
def test_smoke_reproduction_of_g2p_cmudict(tmp_path):
    """`make reproduce EXP=g2p_cmudict ARGS="--smoke --only seed2"`: the recorded commands at
    debug=smoke size on CMUdict; the table is printed, the experiment's files stay."""
    readme = (ROOT / "experiments" / "g2p_cmudict" / README_FILE).read_text()
    argv = ["g2p_cmudict", "--smoke", "--only", "seed2", "--out", str(tmp_path / "out")]
    proc = run_verb("reproduce", *argv, "--experiments-dir", str(ROOT / "experiments"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "seed2" / "metrics.json").read_text())
    assert metrics["steps"] == 20  # debug=smoke
    row = next(line for line in proc.stdout.splitlines() if "current" in line)
    assert f"{metrics['best/test/wer']:.2f} (— / {metrics['best/test/wer']:.2f})" in row
    assert "quick check (debug=smoke): not compared" in proc.stdout
    assert (ROOT / "experiments" / "g2p_cmudict" / README_FILE).read_text() == readme


def table_only(tmp_path, directory):
    """`seq2seq-reproduce toy --table-only` over tmp_path/out; the SystemExit it ends with."""
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "toy",
                "--table-only",
                "--out",
                str(tmp_path / "out"),
                "--experiments-dir",
                str(directory.parent),
            ]
        )
    return exit_info
