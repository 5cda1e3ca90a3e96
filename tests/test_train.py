"""Training: end to end on a tiny corpus, exact resume, padding-free logged loss, bad input."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from seq2seq.errors import ConfigError, RunDirError
from seq2seq.training.loop import fit
from seq2seq.training.trainer import Trainer
from tests.train_helpers import tiny_train_config

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


def _train_losses(run_dir):
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "train/loss" in record:
            out[record["step"]] = record["train/loss"]
    return out


def test_run_directory_contents(smoke_run):
    cfg, run_dir, metrics = smoke_run
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


def test_tensorboard_tags(smoke_run):
    _, run_dir, _ = smoke_run
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert EXPECTED_TAGS <= tags, EXPECTED_TAGS - tags
    losses = [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("train/loss")]
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)


class Killed(Exception):
    """Stands in for a crash or a kill in the middle of training."""


def test_resume_reproduces_uninterrupted_losses(smoke_run, tmp_path, monkeypatch):
    cfg, full_dir, _ = smoke_run
    full = _train_losses(full_dir)
    run_dir = tmp_path / "interrupted"
    original = Trainer._one_step

    def crash_at_step_9(self, interval):
        if int(self.step.numpy()) == 8:  # after the step-6 checkpoint and the step-8 log line
            raise Killed()
        original(self, interval)

    monkeypatch.setattr(Trainer, "_one_step", crash_at_step_9)
    with pytest.raises(Killed):
        fit(cfg, run_dir)
    assert 8 in _train_losses(run_dir)
    monkeypatch.setattr(Trainer, "_one_step", original)
    fit(cfg, run_dir)
    resumed = _train_losses(run_dir)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert sum('"train/loss"' in line for line in lines) == len(full)  # no step logged twice
    assert sorted(resumed) == sorted(full)
    np.testing.assert_allclose(
        [resumed[s] for s in sorted(full)], [full[s] for s in sorted(full)], rtol=0, atol=1e-6
    )


def test_resume_with_a_different_model_is_refused(smoke_run):
    _, run_dir, _ = smoke_run
    cfg = tiny_train_config(run_dir.parent, "model.decoder_units=24")
    with pytest.raises(RunDirError, match="model.decoder_units"):
        fit(cfg, run_dir)


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


def test_early_stopping_on_the_monitored_metric(tmp_path):
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
