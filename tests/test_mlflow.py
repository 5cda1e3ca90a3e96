"""logger=mlflow (docs/tracking.md): everything read back with MLflow's own client.

Each test gets a copy of one empty sqlite store made for the module (creating a store runs
MLflow's database migrations: ~6 s). The tracking code alone, a sweep whose jobs fail on their
config, a tiny training run; the `slow` test trains a sweep.
"""

import shutil
import sys
from pathlib import Path

import pytest

from seq2seq.config import TrainRunConfig, validate
from seq2seq.errors import ConfigError
from seq2seq.runs import RunDir
from seq2seq.runs.job_status import read_status
from seq2seq.runs.mlflow_evaluation import log_evaluation
from seq2seq.runs.mlflow_run import flat_params, tracked_run
from seq2seq.runs.mlflow_store import MISSING_EXTRA, absolute_uri, import_mlflow
from seq2seq.runs.mlflow_sweep import PARENT_FILE
from tests.cli_helpers import compose_verb, run_verb, verb_config
from tests.train_helpers import tiny_train_config, tiny_train_overrides

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()  # creates the tables
    return path


@pytest.fixture
def store(empty_store, tmp_path) -> str:
    """The tracking URI of a fresh store in tmp_path."""
    path = tmp_path / "logs" / "mlflow.db"
    path.parent.mkdir()
    shutil.copy(empty_store, path)
    return f"sqlite:///{path}"


def only_run(uri: str, experiment: str):
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return client, runs[0]


def config(uri: str, *overrides: str) -> TrainRunConfig:
    cfg = compose_verb("train", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}", *overrides)
    return validate(cfg, TrainRunConfig)


# --- fast: the tracking code, no TensorFlow ---------------------------------------------------


def test_logger_tensorboard_is_unchanged_and_logger_mlflow_adds_tracking():
    default = validate(compose_verb("train"), TrainRunConfig).logger
    assert default.tensorboard and not default.mlflow.enabled
    tracked = validate(compose_verb("train", "logger=mlflow"), TrainRunConfig).logger
    assert tracked.tensorboard and tracked.mlflow.enabled
    assert tracked.mlflow.tracking_uri.endswith("/logs/mlflow.db")


def test_a_relative_sqlite_store_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_uri("sqlite:///./logs/mlflow.db") == f"sqlite:///{tmp_path}/logs/mlflow.db"
    assert (tmp_path / "logs").is_dir()
    assert absolute_uri("sqlite:////abs/mlflow.db") == "sqlite:////abs/mlflow.db"
    assert absolute_uri("http://localhost:5000") == "http://localhost:5000"


def test_without_the_extra_the_error_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    with pytest.raises(ConfigError) as error:
        import_mlflow()
    assert str(error.value) == MISSING_EXTRA


def test_params_are_the_config_with_dotted_keys():
    params = flat_params({"train": {"max_steps": 20, "optimizer": {"name": "adam"}}, "x": None})
    assert params == {"train.max_steps": "20", "train.optimizer.name": "adam", "x": "null"}


def test_a_failed_run_is_failed_and_its_resume_continues_it(store, tmp_path):
    cfg = config(store, "train.max_steps=7", "tags=[a,b]")
    run_dir = RunDir(tmp_path / "run")
    run_dir.path.mkdir()
    with pytest.raises(ZeroDivisionError), tracked_run(cfg, run_dir, "abc123") as run:
        run.log_metrics(2, {"train/loss": 3.0})
        raise ZeroDivisionError("division by zero")
    client, failed = only_run(store, "g2p")
    assert failed.info.status == "FAILED"
    assert failed.data.tags["error"] == "ZeroDivisionError: division by zero"
    assert failed.data.params["train.max_steps"] == "7"
    assert failed.data.tags["git_commit"] == "abc123"
    assert failed.data.tags["run_dir"] == str(run_dir.path)
    assert failed.data.tags["tags"] == "a, b"
    run_dir.config.write_text("stand-in\n")
    with tracked_run(cfg, run_dir, "abc123") as run:  # the resume repeats step 2 exactly
        assert client.get_run(run.run_id).info.status == "RUNNING"
        run.log_metrics(2, {"train/loss": 3.0, "val/wer": 20.0})
        run.log_metrics(4, {"train/loss": 2.0})
        run.finish({"steps": 4, "best/val/wer": 12.5, "git": "abc123"}, run_dir)
    _, resumed = only_run(store, "g2p")
    assert resumed.info.run_id == failed.info.run_id
    assert resumed.info.status == "FINISHED"
    assert resumed.data.metrics["best/val/wer"] == 12.5
    history = client.get_metric_history(resumed.info.run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == [(2, 3.0), (4, 2.0)]  # step 2 once
    assert [m.step for m in client.get_metric_history(resumed.info.run_id, "val/wer")] == [2]
    assert [a.path for a in client.list_artifacts(resumed.info.run_id)] == ["run_config.yaml"]


def test_an_interrupted_run_is_killed(store, tmp_path):
    run_dir = RunDir(tmp_path / "run")
    run_dir.path.mkdir()
    with pytest.raises(SystemExit), tracked_run(config(store), run_dir, "abc"):
        raise SystemExit(143)
    assert only_run(store, "g2p")[1].info.status == "KILLED"


def test_an_optuna_study_whose_every_trial_failed_ends_its_parent_failed(store, tmp_path):
    """Both trials fail on their config before training, so hydra-optuna-sweeper raises "No
    trials are completed yet" before the sweep's end: one parent run, FAILED at the process's
    exit, both trials FAILED children under it with their error. (A sweep that reaches its end
    ends its parent there: the slow test below.)"""
    sweep = tmp_path / "sweep"
    proc = run_verb(
        "train", "-m", "hparams_search=g2p_optuna", "hydra.sweeper.n_trials=2",
        "model.encoder_units=choice(0, -1)", "logger=mlflow", f"logger.mlflow.tracking_uri={store}",
        "logger.mlflow.experiment_name=sweeps", f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "No trials are completed yet" in proc.stderr
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("sweeps").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2, proc.stderr[-2000:]
    parent = parents[0]
    assert parent.info.status == "FAILED"
    assert parent.data.tags["sweep_dir"] == str(sweep)
    assert (sweep / PARENT_FILE).exists()
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"summary.md"}
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FAILED"
        job = Path(child.data.tags["run_dir"])
        assert child.data.tags["error"] == read_status(job)[1]
        assert "model.encoder_units must be >= 1" in child.data.tags["error"]


def test_an_evaluation_is_added_to_a_tracked_run_only(store, tmp_path, monkeypatch, caplog):
    """An untracked run is left alone; without the extra (or its store) the evaluation costs
    a warning; the evaluation of a tracked run is in its MLflow run."""
    run_dir = RunDir(tmp_path / "run")
    out = run_dir.evaluations / "beam5"
    out.mkdir(parents=True)
    (out / "metrics.json").write_text("{}")
    report = {"metrics": {"wer": 25.0, "per": 6.0, "sentences": 3}, "split": "test"}
    assert log_evaluation(run_dir, out, report) is None  # no mlflow_run.json
    client = MlflowClient(store)
    experiment = client.create_experiment("e", (tmp_path / "artifacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    run_dir.mlflow_run.write_text(f'{{"tracking_uri": "{store}", "run_id": "{run_id}"}}')
    run_dir.metrics.write_text('{"steps": 40}')
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "mlflow", None)
        assert log_evaluation(run_dir, out, report) is None
    assert "MLflow: the evaluation was not added" in caplog.text
    assert log_evaluation(run_dir, out, report) == run_id
    run = client.get_run(run_id)
    assert run.data.metrics["evaluations/beam5/wer"] == 25.0
    assert run.data.metrics["evaluations/beam5/sentences"] == 3
    history = client.get_metric_history(run_id, "evaluations/beam5/per")
    assert [(m.step, m.value) for m in history] == [(40, 6.0)]
    files = [a.path for a in client.list_artifacts(run_id, "evaluations/beam5")]
    assert files == ["evaluations/beam5/metrics.json"]


# --- real training ---------------------------------------------------------------------------


def test_a_smoke_run_is_tracked(store, tmp_path):
    """A tiny training run (in-process, as tests/test_train.py trains) with logger=mlflow."""
    from seq2seq.cli.evaluate import evaluate
    from seq2seq.training.loop import fit

    cfg = tiny_train_config(
        tmp_path, "logger=mlflow", f"logger.mlflow.tracking_uri={store}", "train.max_steps=6"
    )
    run_dir = tmp_path / "run"
    metrics = fit(cfg, run_dir)
    client, run = only_run(store, "g2p")
    assert run.info.status == "FINISHED"
    assert run.data.metrics["best/test/wer"] == metrics["best/test/wer"]
    assert run.data.params["train.max_steps"] == "6"
    assert run.data.params["model.rnn"] == "keras"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")]
    assert steps == [2, 4, 6]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val/loss")] == [6]
    assert run.data.tags["git_commit"] == metrics["git"]
    assert run.data.tags["run_dir"] == str(run_dir)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"run_config.yaml", "metrics.json"}
    assert (run_dir / "tensorboard").is_dir()  # TensorBoard as with logger=tensorboard
    evaluation = verb_config("evaluate", f"run_dir={run_dir}", "plot_attention=0", "progress=false")
    report = evaluate(evaluation, run_dir / "evaluations" / "greedy")  # as seq2seq-evaluate
    run = client.get_run(run.info.run_id)
    assert run.data.metrics["evaluations/greedy/wer"] == report["metrics"]["wer"]
    assert "evaluations/greedy/hypotheses.txt" in {
        a.path for a in client.list_artifacts(run.info.run_id, "evaluations/greedy")
    }


SWEEPS = {
    # job 0 trains, job 1 fails on its config; two jobs at once
    "local": ["model.encoder_units=16,0", "hydra/launcher=local"],
    # three trials over {0 (a config error), 8}, as in tests/test_sweeps.py
    "optuna": [
        "hparams_search=g2p_optuna", "hydra.sweeper.n_trials=3", "model.encoder_units=choice(0, 8)",
        "model.decoder_units=choice(16)", "data.batch_tokens=choice(256)",
    ],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("sweep_kind", sorted(SWEEPS))
def test_a_sweep_is_a_parent_run_with_a_child_per_job(store, tmp_path, sweep_kind):
    """A job failing on its config and jobs that train: one parent (FAILED, as the command
    exits 1), a child per job, the failed one FAILED, the others FINISHED with metrics."""
    sweep = tmp_path / "sweep"
    proc = run_verb(
        "train", "-m", *tiny_train_overrides(tmp_path, "train.num_threads=1"),
        *SWEEPS[sweep_kind], "logger=mlflow", f"logger.mlflow.tracking_uri={store}",
        f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("g2p").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FAILED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == len(runs) - 1 == len(list(sweep.glob("*/status.json")))
    for child in children:
        status = read_status(Path(child.data.tags["run_dir"]))[0]
        assert child.info.status == {"ok": "FINISHED", "failed": "FAILED"}[status]
        if status == "ok":
            assert "best/test/wer" in child.data.metrics
            assert int(child.data.params["model.encoder_units"]) > 0
    assert {c.info.status for c in children} == {"FAILED", "FINISHED"}
