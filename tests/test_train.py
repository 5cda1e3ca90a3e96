"""Training: end to end on a tiny corpus, exact resume, stop conditions, the plateau schedule
across a resume, checkpoint pruning, padding-free logged loss, bad input.

The smoke run (conftest) is read-only here; the test that needs op determinism runs in a
subprocess so that it does not leak into later tests.
"""

import json
import math
import shutil
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import seq2seq.training.trainer as trainer_module
from seq2seq.errors import ConfigError, RunDirError
from seq2seq.training.loop import fit
from seq2seq.training.schedules import PlateauTracker
from seq2seq.training.trainer import Trainer
from tests.cli_helpers import run_python
from tests.train_helpers import tiny_train_config, train_losses

EXPECTED_TAGS = {
    "train/loss",
    "val/loss",
    "train/token_accuracy",
    "val/token_accuracy",
    "val/perplexity",
    "train/learning_rate",
    "train/grad_norm",
    "train/real_tokens_per_sec",
    "train/padded_positions_per_sec",
    "train/real_token_fraction",
    "val/wer",
    "val/per",
}


def _records(run_dir, key):
    """{step: value} of `key` in the run's metrics.jsonl."""
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if key in record:
            out[record["step"]] = record[key]
    return out


@pytest.fixture
def no_final_evaluation(monkeypatch):
    """Skip fit()'s decoding of the whole valid and test splits (tests of the loop only)."""
    monkeypatch.setattr(Trainer, "final_evaluation", lambda self: {})


def test_run_directory_contents(smoke_run):
    run_dir = smoke_run.run_dir
    for name in (
        "run_config.yaml",
        "git.txt",
        "metrics.json",
        "metrics.jsonl",
        "tokenizer/source.model",
        "tokenizer/target.model",
    ):
        assert (run_dir / name).exists(), name
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints/last")).endswith("ckpt-12")
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints/best")) is not None
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["steps"] == 12 and saved["stop_reason"] == "max_steps"
    for key in ("best/val/wer", "best/val/per", "best/test/wer", "best/val/loss"):
        assert math.isfinite(saved[key]), key
    assert saved["real_tokens_per_sec"] > 0  # the trainer's own figure (Throughput)


def test_tensorboard_tags(smoke_run):
    acc = EventAccumulator(str(smoke_run.run_dir / "tensorboard"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert EXPECTED_TAGS <= tags, EXPECTED_TAGS - tags
    losses = [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("train/loss")]
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)


def test_resume_from_a_checkpoint_reproduces_the_uninterrupted_run(smoke_run, tmp_path):
    # The copy's newest checkpoint is ckpt-12; train.resume_from=.../ckpt-6 goes back to the
    # state after step 6 (model, optimizer, data iterator, dropout RNG) and trains on. In a
    # subprocess: the run has train.deterministic=true, which switches on op determinism for
    # the whole process (and its data-iterator checkpoints only load with it on).
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run.run_dir, run_dir)
    proc = run_python(
        "import sys; from tests.train_helpers import resume_from_checkpoint; "
        "resume_from_checkpoint(*sys.argv[1:])",
        str(run_dir),
        str(run_dir / "checkpoints" / "last" / "ckpt-6"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["metrics"]["resumed_from_step"] == 6 and out["metrics"]["steps"] == 12
    full, resumed = train_losses(smoke_run.run_dir), {int(k): v for k, v in out["losses"].items()}
    assert sorted(resumed) == sorted(full) == [2, 4, 6, 8, 10, 12]
    assert out["loss_records"] == 6  # steps 8-12 replaced, not logged twice
    np.testing.assert_allclose(
        [resumed[s] for s in sorted(full)], [full[s] for s in sorted(full)], atol=1e-6
    )


def test_resume_with_a_different_model_is_refused(smoke_run, smoke_run_copy):
    cfg = smoke_run.cfg
    cfg = replace(cfg, model=replace(cfg.model, decoder_units=24))
    with pytest.raises(RunDirError, match="model.decoder_units: 16 there, 24 now"):
        fit(cfg, smoke_run_copy)


def test_resume_with_the_other_determinism_is_refused(smoke_run, smoke_run_copy):
    """The smoke run is deterministic; its data-iterator checkpoint does not restore without."""
    cfg = smoke_run.cfg
    assert cfg.train.deterministic
    cfg = replace(cfg, train=replace(cfg.train, deterministic=False))
    with pytest.raises(RunDirError, match="train.deterministic: True there, False now"):
        fit(cfg, smoke_run_copy)


def test_a_run_stopped_before_its_first_step_ends_cleanly(tmp_path, caplog):
    cfg = tiny_train_config(tmp_path, "train.max_minutes=1e-9")
    metrics = fit(cfg, tmp_path / "run")
    assert metrics["steps"] == 0 and "best_checkpoint" not in metrics
    assert "no training step was run" in caplog.text


def test_stops_after_max_epochs(tmp_path, no_final_evaluation):
    cfg = tiny_train_config(
        tmp_path,
        "train.max_steps=1000",
        "train.max_epochs=1",
        "train.log_every=1",
        "train.validate_every=1000",
        "train.val_decode_examples=-1",
    )
    metrics = fit(cfg, tmp_path / "run")
    epochs = _records(tmp_path / "run", "train/epoch")
    last = metrics["steps"]
    assert metrics["stop_reason"] == "max_epochs" and 1 < last < 1000
    assert epochs[last - 1] < 1.0 <= epochs[last]  # stopped at the first step past one epoch


def test_time_budget_stop_then_resume_keeps_plateau_state_and_pruning(
    tmp_path, monkeypatch, no_final_evaluation
):
    """A run stopped by train.max_minutes resumes with its plateau-reduced learning rate and
    goes on pruning its checkpoints to train.keep_checkpoints."""
    # A clock that advances 15 s per training step: the 1-minute budget ends after step 4.
    clock = {"offset": 0.0, "per_step": 15.0}
    monkeypatch.setattr(
        trainer_module,
        "time",
        SimpleNamespace(time=lambda: time.time() + clock["offset"], perf_counter=time.perf_counter),
    )
    one_step = trainer_module.Trainer._one_step

    def timed_step(self, interval):
        one_step(self, interval)
        clock["offset"] += clock["per_step"]

    monkeypatch.setattr(trainer_module.Trainer, "_one_step", timed_step)
    # monitor_mode=max on the falling val/loss: validations rarely "improve", so the plateau
    # schedule halves the rate.
    settings = [
        "train.schedule.name=plateau",
        "train.schedule.factor=0.5",
        "train.schedule.patience=1",
        "train.monitor=val/loss",
        "train.monitor_mode=max",
        "train.log_every=1",
        "train.validate_every=1",
        "train.val_decode_examples=-1",
        "train.keep_checkpoints=2",
    ]
    run_dir = tmp_path / "run"
    first = tiny_train_config(tmp_path, "train.max_steps=1000", "train.max_minutes=1", *settings)
    metrics = fit(first, run_dir)
    assert metrics["stop_reason"] == "max_minutes" and metrics["steps"] == 4
    assert _checkpoint_steps(run_dir) == [3, 4]
    # The rate logged at step k was set before step k: scaled by validations 1 .. k-1.
    scales, tracker = [], PlateauTracker(0.5, 1, "max")
    for _, value in sorted(_records(run_dir, "val/loss").items()):  # steps 1-4
        tracker.update(value)
        scales.append(tracker.scale)
    assert scales[-1] < 1.0, "no plateau in the first run: the test would prove nothing"

    clock["per_step"] = 0.0
    metrics = fit(tiny_train_config(tmp_path, "train.max_steps=6", *settings), run_dir)
    assert metrics["resumed_from_step"] == 4 and metrics["stop_reason"] == "max_steps"
    rates = _records(run_dir, "train/learning_rate")
    peak = first.train.optimizer.learning_rate
    assert rates[4] == pytest.approx(peak * scales[2])  # before the resume
    assert rates[5] == pytest.approx(peak * scales[3])  # restored, not reset to the peak
    assert _checkpoint_steps(run_dir) == [5, 6]  # pruning continues across the resume


def _checkpoint_steps(run_dir) -> list[int]:
    """Steps of the training-state checkpoints on disk in checkpoints/last."""
    files = (run_dir / "checkpoints" / "last").glob("ckpt-*.index")
    return sorted(int(p.name.split(".")[0].split("-")[1]) for p in files)


def test_unwritable_run_dir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    cfg = tiny_train_config(tmp_path)
    with pytest.raises(RunDirError, match="not writable"):
        fit(cfg, blocker / "run")


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.max_stepz"):
        tiny_train_config(tmp_path, "+train.max_stepz=3")


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    import seq2seq.training.trainer as trainer_module

    real_make = trainer_module.make_train_step

    def make_poisoned(*args, **kwargs):
        step, calls = real_make(*args, **kwargs), []

        def poisoned(x, y, mask):
            out = step(x, y, mask)
            calls.append(1)
            if len(calls) == 8:
                out = dict(out, loss_sum=tf.constant(float("nan")))
            return out

        return poisoned

    monkeypatch.setattr(trainer_module, "make_train_step", make_poisoned)
    cfg = tiny_train_config(tmp_path)
    with pytest.raises(trainer_module.NonFiniteLossError, match=r"loss is nan at step 8.*ckpt-6"):
        fit(cfg, tmp_path / "run")
    assert tf.train.latest_checkpoint(str(tmp_path / "run/checkpoints/last")).endswith("ckpt-6")
    # TensorBoard's HParams dashboard shows the run as failed.
    from tensorboard.plugins.hparams import api_pb2

    from tests.tensorboard_helpers import hparams_records

    records = hparams_records(tmp_path / "run/tensorboard")
    assert records["session_end_info"].status == api_pb2.STATUS_FAILURE
    assert records["session_start_info"].hparams["train.max_steps"].number_value == 12


def test_early_stopping_on_the_monitored_metric(tmp_path, no_final_evaluation):
    # mode=max on val/loss: the falling loss never "improves", so patience 1 stops training
    # after the second validation.
    cfg = tiny_train_config(
        tmp_path,
        "train.max_steps=60",
        "train.monitor=val/loss",
        "train.monitor_mode=max",
        "train.early_stopping_patience=1",
        "train.val_decode_examples=-1",
    )
    metrics = fit(cfg, tmp_path / "run")
    assert metrics["stop_reason"] == "early_stopping" and metrics["steps"] == 12
    assert tf.train.latest_checkpoint(str(tmp_path / "run/checkpoints/best")).endswith("ckpt-6")
