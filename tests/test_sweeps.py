"""Sweeps (issue 11): failed jobs recorded without stopping the sweep, the sweep table
(summary.csv/.md), the Optuna search config. (TensorBoard HParams: test_tensorboard_hparams.py;
progress bars: test_progress.py.)

The fast tests use fake sweep directories, jobs that fail before TensorFlow is imported, and the
shared smoke run; the `slow` ones train real sweeps (local, basic, Optuna, submitit).
"""

import csv
import json
import logging
import os
from pathlib import Path

import pytest
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_class
from omegaconf import OmegaConf, open_dict

from hydra_plugins.seq2seq_launcher.local_launcher import available_cores
from seq2seq.analysis.sweeps import lower_is_better, summarize_sweep, sweep_objective, sweep_rows
from seq2seq.cli.common import run_cli, run_sweep_job
from seq2seq.cli.summarize import main as summarize_main
from seq2seq.cli.sweeps import SweepSummary
from seq2seq.config import TrainRunConfig, validate
from seq2seq.errors import ConfigError
from seq2seq.runs.job_status import FailedJob, read_status, write_status
from tests.cli_helpers import compose_verb, run_verb
from tests.train_helpers import tiny_train_overrides

# --- a fake sweep directory ---------------------------------------------------------------


def make_job(sweep: Path, name: str, overrides: list[str], status=None, metrics=None) -> Path:
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra/overrides.yaml").write_text(yaml.safe_dump(overrides))
    if status:
        (job / "status.json").write_text(json.dumps(status))
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps(metrics))
    return job


def run_metrics(wer: float, steps: int = 20) -> dict:
    return {
        "best/val/wer": wer,
        "best/val/loss": wer / 10,
        "best/test/wer": wer + 1,
        "steps": steps,
        "train_seconds": 12.5,
        "real_tokens_per_sec": 43210.0,
        "best_checkpoint": "ckpt-20",  # not a number: not in the table
        "stop_reason": "max_steps",
    }


@pytest.fixture
def fake_sweep(tmp_path) -> Path:
    """Jobs 0..3 and 10 (numbered like Hydra's): two ok, one failed, one killed (no files),
    one from before status.json (metrics only); every job shares experiment=g2p."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(
        yaml.safe_dump({"optimized_metric": "best/val/wer", "hydra": {"sweeper": {}}})
    )
    ok = {"status": "ok", "error": None}
    make_job(sweep, "0", ["experiment=g2p", "model.dropout=0.1"], ok, run_metrics(30.0))
    failed = {"status": "failed", "error": "loss is nan at step 3; stopped"}
    make_job(sweep, "1", ["experiment=g2p", "model.dropout=0.9"], failed)
    make_job(sweep, "2", ["experiment=g2p", "model.dropout=0.2"], ok, run_metrics(20.0))
    make_job(sweep, "3", ["experiment=g2p", "model.dropout=0.3"])  # killed
    make_job(sweep, "10", ["experiment=g2p", "model.dropout=0.4"], None, run_metrics(25.0))
    return sweep


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- the sweep table ----------------------------------------------------------------------


def test_summary_sorts_by_the_optimized_metric_failed_last(fake_sweep):
    rows = summarize_sweep(fake_sweep)
    assert [(r.job, r.status) for r in rows] == [
        ("2", "ok"),
        ("10", "ok"),  # no status.json, but metrics.json: a finished job
        ("0", "ok"),
        ("1", "failed"),
        ("3", "failed"),  # neither file: killed
    ]
    table = read_csv(fake_sweep / "summary.csv")
    assert [t["job"] for t in table] == ["2", "10", "0", "1", "3"]
    assert list(table[0])[:4] == ["job", "status", "experiment", "model.dropout"]
    assert list(table[0])[4] == "best/val/wer"  # the optimized metric first
    assert {"best/val/loss", "best/test/wer", "steps", "train_seconds"} <= set(table[0])
    assert "real_tokens_per_sec" in table[0] and "best_checkpoint" not in table[0]
    assert float(table[0]["best/val/wer"]) == 20.0 and table[0]["model.dropout"] == "0.2"
    assert table[3]["error"] == "loss is nan at step 3; stopped"
    assert table[3]["best/val/wer"] == "" and "killed" in table[4]["error"]


def test_summary_markdown_shows_what_the_jobs_changed(fake_sweep):
    summarize_sweep(fake_sweep)
    text = (fake_sweep / "summary.md").read_text()
    assert "5 jobs: 3 ok, 2 failed." in text
    assert "Sorted by `best/val/wer` (lower is better)" in text
    assert "Every job: `experiment=g2p`." in text
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:4] == ["job", "status", "model.dropout", "best/val/wer"]
    assert "experiment" not in header  # the same in every job
    assert header[-1] == "error" and len(lines) == 2 + 5
    first = [c.strip() for c in lines[2].strip("|").split("|")]
    assert first[:4] == ["2", "ok", "0.2", "20"]
    assert first[header.index("real_tokens_per_sec")] == "43210"
    assert lines[5].startswith("| 1 | failed | 0.9 |")


def test_direction_maximize_and_another_metric(fake_sweep):
    rows = summarize_sweep(fake_sweep, metric="best/val/wer", direction="maximize")
    assert [r.job for r in rows][:3] == ["0", "10", "2"]
    rows = summarize_sweep(fake_sweep, metric="best/test/wer")
    assert [r.job for r in rows][:3] == ["2", "10", "0"]
    with pytest.raises(ValueError, match="direction"):
        summarize_sweep(fake_sweep, direction="down")


def test_the_sweepers_direction_wins(fake_sweep):
    (fake_sweep / "multirun.yaml").write_text(
        yaml.safe_dump(
            {"optimized_metric": "best/val/wer", "hydra": {"sweeper": {"direction": "maximize"}}}
        )
    )
    assert [r.job for r in summarize_sweep(fake_sweep)][:3] == ["0", "10", "2"]


@pytest.mark.parametrize(
    "metric, lower",
    [
        ("best/val/wer", True),
        ("best/val/loss", True),
        ("best/test/per", True),
        ("best/val/perplexity", True),
        ("best/val/bleu", False),
        ("best/val/chrf", False),
        ("best/val/token_accuracy", False),
    ],
)
def test_lower_is_better(metric, lower):
    assert lower_is_better(metric) is lower


def test_an_optuna_sweep_without_multirun_yaml_takes_its_objective_from_a_job(tmp_path):
    """hydra-optuna-sweeper writes no multirun.yaml: the first job's .hydra/ holds the
    objective and the direction."""
    for job, loss in (("0", 3.0), ("1", 2.0)):
        directory = make_job(tmp_path, job, [f"model.dropout=0.{job}"], None, run_metrics(loss))
        config = {"optimized_metric": "best/val/loss", "model": {"dropout": 0.1}}
        (directory / ".hydra/config.yaml").write_text(yaml.safe_dump(config))
        sweeper = {"hydra": {"sweeper": {"direction": "minimize"}}}
        (directory / ".hydra/hydra.yaml").write_text(yaml.safe_dump(sweeper))
    assert sweep_objective(tmp_path) == ("best/val/loss", "minimize")
    assert [r.job for r in summarize_sweep(tmp_path)] == ["1", "0"]  # best/val/loss 0.2 first


def test_status_file_round_trip(tmp_path):
    write_status(tmp_path, "failed", "first line\n  second line")
    assert json.loads((tmp_path / "status.json").read_text()) == {
        "status": "failed",
        "error": "first line second line",
    }
    assert read_status(tmp_path) == ("failed", "first line second line")
    write_status(tmp_path, "ok")
    assert read_status(tmp_path) == ("ok", "")
    with pytest.raises(ValueError):
        write_status(tmp_path, "maybe")


def test_summarize_command(fake_sweep, capsys):
    summarize_main([str(fake_sweep)])
    out, err = capsys.readouterr()
    assert out == (fake_sweep / "summary.md").read_text()
    assert "best: job 2 (model.dropout=0.2): best/val/wer 20" in err
    assert "failed: job 1 (model.dropout=0.9): loss is nan at step 3; stopped" in err
    assert (fake_sweep / "summary.csv").exists()


def test_summarize_command_rejects_a_directory_without_jobs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        summarize_main([str(tmp_path)])
    assert exit_info.value.code == 2
    assert "no jobs under" in capsys.readouterr().err


def test_summarize_command_refuses_a_run_directory(smoke_run, capsys):
    """A plain run (its .hydra/ at the top, evaluations/ below) is not a sweep: nothing is
    written into it (the shared smoke run is checked unchanged at the end)."""
    with pytest.raises(SystemExit) as exit_info:
        summarize_main([str(smoke_run.run_dir)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {smoke_run.run_dir} is a run, not a sweep") and "\n" == err[-1]
    assert not (smoke_run.run_dir / "summary.md").exists()


def test_summarize_command_refuses_an_unknown_metric(fake_sweep, capsys):
    with pytest.raises(SystemExit) as exit_info:
        summarize_main([str(fake_sweep), "--metric", "best/val/bleu"])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: --metric best/val/bleu: no job of {fake_sweep} has it; available: "
        "best/val/loss, best/val/wer, best/test/wer, steps, train_seconds, real_tokens_per_sec"
    )
    assert not (fake_sweep / "summary.md").exists()
    summarize_main([str(fake_sweep), "--metric", "best/test/wer"])  # one that exists
    assert (fake_sweep / "summary.md").exists()


def sweep_config(sweep: Path, metric: str | None = "best/val/wer"):
    return OmegaConf.create({"optimized_metric": metric, "hydra": {"sweep": {"dir": str(sweep)}}})


def test_callback_exits_1_when_a_job_failed(fake_sweep, capsys):
    with pytest.raises(SystemExit) as exit_info:
        SweepSummary().on_multirun_end(sweep_config(fake_sweep))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "sweep: 5 jobs, 3 ok, 2 failed" in err
    assert "failed: job 3 (model.dropout=0.3)" in err
    assert len(read_csv(fake_sweep / "summary.csv")) == 5


def test_callback_returns_when_every_job_succeeded(tmp_path, capsys):
    ok = {"status": "ok", "error": None}
    make_job(tmp_path, "0", ["model.dropout=0.1"], ok, run_metrics(30.0))
    make_job(tmp_path, "1", ["model.dropout=0.2"], ok, run_metrics(10.0))
    SweepSummary().on_multirun_end(sweep_config(tmp_path))
    assert "best: job 1 (model.dropout=0.2): best/val/wer 10" in capsys.readouterr().err
    assert [r.job for r in sweep_rows(tmp_path)] == ["0", "1"]


def test_the_table_is_rewritten_after_each_job_of_a_multirun_only(fake_sweep):
    config = sweep_config(fake_sweep)
    SweepSummary().on_job_end(OmegaConf.merge(config, {"hydra": {"mode": RunMode.RUN}}))
    assert not (fake_sweep / "summary.csv").exists()
    SweepSummary().on_job_end(OmegaConf.merge(config, {"hydra": {"mode": RunMode.MULTIRUN}}))
    assert len(read_csv(fake_sweep / "summary.csv")) == 5


def test_a_table_that_cannot_be_written_does_not_fail_the_job(tmp_path, caplog):
    (tmp_path / "sweep").write_text("a file where the sweep directory should be")
    config = OmegaConf.merge(
        sweep_config(tmp_path / "sweep"), {"hydra": {"mode": RunMode.MULTIRUN}}
    )
    SweepSummary().on_job_end(config)
    assert "could not update the sweep table" in caplog.text


# --- failure recording, in-process --------------------------------------------------------


@pytest.fixture
def log_file(tmp_path):
    """A FileHandler on the root logger, as Hydra's job logging has (`<verb>.log`)."""
    path = tmp_path / "train.log"
    handler = logging.FileHandler(path)
    root = logging.getLogger()
    root.addHandler(handler)
    yield path
    root.removeHandler(handler)
    handler.close()


def test_a_bad_input_error_is_recorded_with_its_traceback_in_the_log(tmp_path, log_file, caplog):
    def job():
        raise ConfigError("model.encoder_units must be >= 1, got 0")

    assert run_sweep_job(job, tmp_path) == FailedJob("model.encoder_units must be >= 1, got 0")
    assert read_status(tmp_path) == ("failed", "model.encoder_units must be >= 1, got 0")
    assert "Traceback" in log_file.read_text() and "ConfigError" in log_file.read_text()
    failed = [r for r in caplog.records if r.getMessage().startswith("job failed")]
    assert failed and failed[0].exc_info is None  # the console gets one line


def test_an_unexpected_exception_is_a_failure_too(tmp_path, log_file, caplog):
    def job():
        raise ZeroDivisionError("division by zero")

    assert run_sweep_job(job, tmp_path) == FailedJob("ZeroDivisionError: division by zero")
    assert read_status(tmp_path) == ("failed", "ZeroDivisionError: division by zero")
    failed = [r for r in caplog.records if r.getMessage().startswith("job failed")]
    assert failed[0].exc_info is not None  # a bug: its traceback on the console as well
    assert "Traceback" in log_file.read_text()


def test_a_job_that_exits_non_zero_fails_and_one_interrupted_stops_the_sweep(tmp_path):
    def exits(code):
        def job():
            raise SystemExit(code)

        return job

    assert run_sweep_job(exits(3), tmp_path) == FailedJob("exit status 3")
    assert read_status(tmp_path) == ("failed", "exit status 3")
    with pytest.raises(SystemExit):
        run_sweep_job(exits(143), tmp_path)  # SIGTERM: record it, then stop
    assert read_status(tmp_path) == ("failed", "interrupted (exit status 143)")
    assert run_sweep_job(exits(0), tmp_path) is None
    assert read_status(tmp_path) == ("ok", "")


def test_a_failed_job_is_not_a_number_for_sweepers():
    """The Optuna sweeper calls float() on each return value: a ValueError marks the trial
    failed (see test_optuna_records_failed_trials_and_goes_on)."""
    with pytest.raises(ValueError, match="the job failed: loss is nan"):
        float(FailedJob("loss is nan"))


def test_a_job_that_succeeds_returns_its_result(tmp_path):
    assert run_sweep_job(lambda: {"best/val/wer": 3.0}, tmp_path) == {"best/val/wer": 3.0}
    assert read_status(tmp_path) == ("ok", "")


@pytest.fixture
def hydra_mode(tmp_path):
    """Set Hydra's global config as a job of a given mode (restored afterwards)."""
    instance = HydraConfig.instance()
    saved = instance.cfg

    def set_mode(mode: RunMode) -> None:
        cfg = compose_verb("train", hydra=True)
        with open_dict(cfg):
            cfg.hydra.mode = mode
            cfg.hydra.runtime.output_dir = str(tmp_path)
        instance.set_config(cfg)

    yield set_mode
    instance.cfg = saved


def test_run_cli_in_a_multirun_records_instead_of_exiting(tmp_path, hydra_mode):
    hydra_mode(RunMode.MULTIRUN)
    assert isinstance(run_cli(lambda: 1 / 0), FailedJob)
    assert read_status(tmp_path) == ("failed", "ZeroDivisionError: division by zero")


def test_run_cli_in_a_single_run_exits_2_with_one_line(tmp_path, hydra_mode, capsys):
    hydra_mode(RunMode.RUN)

    def job():
        raise ConfigError("bad key")

    with pytest.raises(SystemExit) as exit_info:
        run_cli(job)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: bad key\n"
    assert not (tmp_path / "status.json").exists()


@pytest.mark.parametrize("launcher", ["basic", "local"])
def test_a_sweep_of_failing_jobs_runs_every_job_and_exits_1(tmp_path, launcher):
    """Both jobs fail on their config (before TensorFlow is imported): both are recorded,
    the table has both, the command exits 1 naming them."""
    sweep = tmp_path / "sweep"
    launch = [] if launcher == "basic" else ["hydra/launcher=local"]
    proc = run_verb("train", "-m", "model.encoder_units=0,-1", *launch, f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 1, proc.stderr[-2000:]
    for job, units in (("0", 0), ("1", -1)):
        assert read_status(sweep / job) == (
            "failed",
            f"model.encoder_units must be >= 1, got {units}",
        )
        assert "Traceback" in (sweep / job / "train.log").read_text()
        assert f"failed: job {job} (model.encoder_units={units})" in proc.stderr
    assert [r["status"] for r in read_csv(sweep / "summary.csv")] == ["failed", "failed"]


def kill_job(job: int, signal: str = "SIGKILL") -> list[str]:
    """Overrides that make job number `job` send itself `signal` as it starts."""
    callback = "+hydra.callbacks.kill"
    return [f"{callback}._target_=tests.sweep_helpers.KillJob", f"{callback}.job={job}",
            f"{callback}.signal={signal}"]  # fmt: skip


def test_a_job_killed_outright_is_recorded_and_the_local_sweep_goes_on(tmp_path):
    """hydra/launcher=local: job 1 is SIGKILLed (as by the out-of-memory killer); job 0 still
    runs (it fails on its config), both are in the table, the command exits 1 naming them.
    (joblib's pool stopped the sweep with TerminatedWorkerError and no table.)"""
    sweep = tmp_path / "sweep"
    proc = run_verb(
        "train", "-m", "model.encoder_units=0,-1", "hydra/launcher=local",
        f"hydra.sweep.dir={sweep}", *kill_job(1),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    killed = "killed by SIGKILL (out of memory?) before it finished"
    assert read_status(sweep / "1") == ("failed", killed)
    assert read_status(sweep / "0") == ("failed", "model.encoder_units must be >= 1, got 0")
    assert [r["status"] for r in read_csv(sweep / "summary.csv")] == ["failed", "failed"]
    assert f"failed: job 1 (model.encoder_units=-1): {killed}" in proc.stderr


def test_a_job_stopped_by_sigterm_stops_the_local_sweep(tmp_path):
    """SIGTERM (a scheduler, `kill`) is an interruption: recorded, and the sweep stops."""
    sweep = tmp_path / "sweep"
    proc = run_verb(
        "train", "-m", "model.encoder_units=0,-1", "hydra/launcher=local",
        "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={sweep}", *kill_job(0, "SIGTERM"),
    )  # fmt: skip
    assert proc.returncode != 0
    assert read_status(sweep / "0") == ("failed", "killed by SIGTERM before it finished")
    assert "the sweep stops" in proc.stderr
    assert not (sweep / "1").exists()  # never started


@pytest.mark.parametrize("threads", [0, 3])
def test_the_local_launcher_gives_each_job_its_share_of_the_cores(tmp_path, threads):
    """threads_per_job=0: cores // n_jobs TensorFlow threads per job (two jobs on two cores
    with TensorFlow's defaults oversubscribe them); a set value or the environment wins."""
    sweep = tmp_path / "sweep"
    proc = run_verb(
        "train", "-m", "model.encoder_units=0,-1", "hydra/launcher=local",
        f"hydra.launcher.threads_per_job={threads}", f"hydra.sweep.dir={sweep}",
        "+hydra.callbacks.env._target_=tests.sweep_helpers.RecordEnv",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    share = str(threads or max(1, available_cores() // 2))
    for job in ("0", "1"):
        env = json.loads((sweep / job / "env.json").read_text())
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            assert env[name] == os.environ.get(name, share)


def test_an_optuna_study_whose_every_trial_failed_still_leaves_its_table(tmp_path):
    """hydra-optuna-sweeper raises "No trials are completed yet" before the sweep's end
    (`on_multirun_end`); the table written after each job is there, both trials failed."""
    sweep = tmp_path / "sweep"
    proc = run_verb(
        "train",
        "-m",
        "hparams_search=g2p_optuna",
        "hydra.sweeper.n_trials=2",
        "model.encoder_units=choice(0, -1)",
        f"hydra.sweep.dir={sweep}",
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "No trials are completed yet" in proc.stderr
    assert "A new study created" not in proc.stderr + proc.stdout  # Optuna's own chatter
    table = read_csv(sweep / "summary.csv")
    assert [t["status"] for t in table] == ["failed", "failed"]
    assert "model.encoder_units must be >= 1" in table[0]["error"]


# --- configs: Optuna search, SLURM ---------------------------------------------------------


def test_the_optuna_search_config():
    cfg = compose_verb("train", "hparams_search=g2p_optuna", hydra=True)
    sweeper = cfg.hydra.sweeper
    assert get_class(sweeper._target_).__name__ == "OptunaSweeper"
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler"
    assert sweeper.sampler.seed is not None
    metric = cfg.optimized_metric
    assert metric == "best/val/wer" and cfg.train.monitor == "val/wer"
    assert sweeper.direction == ("minimize" if lower_is_better(metric) else "maximize")
    assert sweeper.max_failure_rate == 1.0  # a failed trial does not stop the study
    assert set(sweeper.params) == {
        "train.optimizer.learning_rate",
        "model.dropout",
        "model.encoder_units",
        "model.decoder_units",
        "train.label_smoothing",
        "data.batch_tokens",
    }
    typed = OmegaConf.structured(validate(cfg, TrainRunConfig))
    for key in sweeper.params:  # every searched key exists in the schema
        assert OmegaConf.select(typed, key) is not None, key


def test_the_optuna_search_at_debug_smoke_searches_smoke_sizes():
    """hparams_search=g2p_optuna debug=smoke: the same keys, sizes around the smoke model's
    (the full search starts at 64 units), and the validation loss as objective (after the
    smoke run's 20 steps every trial's WER is 100: a tie). debug=smoke alone sweeps nothing."""
    full = compose_verb("train", "hparams_search=g2p_optuna", hydra=True)
    cfg = compose_verb("train", "hparams_search=g2p_optuna", "debug=smoke", hydra=True)
    params = cfg.hydra.sweeper.params
    assert set(params) == set(full.hydra.sweeper.params)
    for key in ("model.encoder_units", "model.decoder_units"):
        sizes = [int(v) for v in params[key].removeprefix("choice(").rstrip(")").split(",")]
        assert max(sizes) <= 2 * cfg.model.decoder_units and cfg.model[key.split(".")[1]] in sizes
    assert cfg.optimized_metric == "best/val/loss" and cfg.train.monitor == "val/loss"
    assert cfg.hydra.sweeper.direction == "minimize" and cfg.train.max_steps == 20
    validate(cfg, TrainRunConfig)
    assert not compose_verb("train", "debug=smoke", hydra=True).hydra.sweeper.get("params")


@pytest.mark.parametrize("verb", ["prepare", "train", "evaluate", "translate", "export"])
def test_the_sweep_callback_is_registered_for_every_verb(verb):
    needs_run = verb in ("evaluate", "translate", "export")
    cfg = compose_verb(verb, *(["run_dir=/runs/r"] if needs_run else []), hydra=True)
    assert get_class(cfg.hydra.callbacks.sweep_summary._target_) is SweepSummary


def test_the_slurm_launcher_is_submitit_with_time_limit_requeues_allowed():
    """The config only: that submitit requeues a preempted job, and that the requeued job
    resumes, is not driven here (no cluster; submitit_local's timeout signal was not tried)."""
    cfg = compose_verb("train", "hydra/launcher=slurm", hydra=True)
    assert get_class(cfg.hydra.launcher._target_).__name__ == "SlurmLauncher"
    assert cfg.hydra.launcher.max_num_timeout > 0  # a job stopped at its time limit requeues


# --- real sweeps (slow) ---------------------------------------------------------------------


def tiny_sweep(tmp_path: Path, *overrides: str):
    sweep = tmp_path / "sweep"
    proc = run_verb(
        "train",
        "-m",
        *tiny_train_overrides(tmp_path, "train.num_threads=1"),
        *overrides,
        f"hydra.sweep.dir={sweep}",
    )
    return proc, sweep


@pytest.mark.slow
def test_issue_check_one_job_fails_on_its_config_the_other_completes(tmp_path):
    """Issue 11: `-m ... model.encoder_units=16,0 hydra/launcher=local`."""
    proc, sweep = tiny_sweep(tmp_path, "model.encoder_units=16,0", "hydra/launcher=local")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert read_status(sweep / "0") == ("ok", "")
    assert (sweep / "0/metrics.json").exists()
    assert read_status(sweep / "1")[0] == "failed"
    table = read_csv(sweep / "summary.csv")
    assert [(t["job"], t["status"]) for t in table] == [("0", "ok"), ("1", "failed")]
    assert float(table[0]["steps"]) == 12 and table[0]["best/val/loss"]
    assert "| 1 | failed | 0 |" in (sweep / "summary.md").read_text()
    assert "failed: job 1 (model.encoder_units=0): model.encoder_units must be >= 1" in proc.stderr


@pytest.mark.slow
def test_a_killed_job_leaves_the_other_job_of_a_local_sweep_training(tmp_path):
    """Job 1 is SIGKILLed as it starts; job 0 trains to the end beside it."""
    proc, sweep = tiny_sweep(tmp_path, "model.encoder_units=16,8", "hydra/launcher=local",
                             *kill_job(1))  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert read_status(sweep / "0") == ("ok", "")
    assert (sweep / "0/metrics.json").exists()
    assert read_status(sweep / "1")[1].startswith("killed by SIGKILL")
    table = read_csv(sweep / "summary.csv")
    assert [(t["job"], t["status"]) for t in table] == [("0", "ok"), ("1", "failed")]
    assert float(table[0]["steps"]) == 12


@pytest.mark.slow
def test_a_nan_loss_fails_its_job_and_the_sweep_goes_on(tmp_path):
    """A run-time failure: a learning rate that overflows the weights in one step."""
    proc, sweep = tiny_sweep(
        tmp_path, "train.optimizer.name=sgd", "train.optimizer.learning_rate=1e38,0.5"
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    status, error = read_status(sweep / "0")
    assert status == "failed" and error.startswith("loss is ") and "at step" in error
    assert "NonFiniteLossError" in (sweep / "0/train.log").read_text()  # the traceback
    assert read_status(sweep / "1") == ("ok", "")
    table = read_csv(sweep / "summary.csv")
    assert [(t["job"], t["status"]) for t in table] == [("1", "ok"), ("0", "failed")]


@pytest.mark.slow
def test_optuna_records_failed_trials_and_goes_on(tmp_path):
    """Three trials, the encoder size searched over {0 (a config error), 8}: failed trials
    are told to Optuna as failed, the others complete, the best is written."""
    proc, sweep = tiny_sweep(
        tmp_path,
        "hparams_search=g2p_optuna",
        "hydra.sweeper.n_trials=3",
        "model.encoder_units=choice(0, 8)",
        "model.decoder_units=choice(16)",
        "data.batch_tokens=choice(256)",
    )
    table = read_csv(sweep / "summary.csv")
    statuses = sorted(t["status"] for t in table)
    assert len(table) == 3 and "ok" in statuses and "failed" in statuses, proc.stderr[-3000:]
    assert proc.returncode == 1  # a trial failed
    hydra_log = proc.stdout  # Hydra's own log lines
    assert "Failed experiment: Return value must be float-castable" in hydra_log
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_params"]["model.encoder_units"] == 8
    ok = [t for t in table if t["status"] == "ok"]
    assert best["best_value"] == pytest.approx(min(float(t["best/val/wer"]) for t in ok))
    assert "Best parameters" in hydra_log


@pytest.mark.slow
def test_a_job_through_submitit(tmp_path):
    """hydra-submitit-launcher's local executor (the SLURM launcher's code path, without a
    cluster): the job runs in its own process, records its status; the table is written."""
    proc, sweep = tiny_sweep(
        tmp_path,
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        "model.dropout=0.0",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_status(sweep / "0") == ("ok", "")
    assert (sweep / ".submitit").is_dir()
    assert [t["status"] for t in read_csv(sweep / "summary.csv")] == ["ok"]
