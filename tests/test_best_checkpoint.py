"""Best-checkpoint selection: a tie on the monitored metric goes to the lower validation loss,
then to the later step; loading a best checkpoint that is the first of several warns."""

import json
import logging
import math

import pytest
import tensorflow as tf

from seq2seq.runs import RunDir
from seq2seq.runs.first_best import first_best_warning
from seq2seq.runs.load import load_run
from seq2seq.runs.selection import is_better
from seq2seq.training.loop import fit
from seq2seq.training.trainer import Trainer
from tests.train_helpers import tiny_train_config

NAN = math.nan


@pytest.mark.parametrize(
    "value, loss, best, best_loss, mode, better",
    [
        (100.0, 2.0, NAN, NAN, "min", True),  # the first validation
        (90.0, 9.0, 100.0, 2.0, "min", True),  # the metric decides when it differs
        (100.0, 1.0, 90.0, 2.0, "min", False),
        (40.0, 9.0, 30.0, 2.0, "max", True),
        (100.0, 1.5, 100.0, 2.0, "min", True),  # a tie: the lower loss
        (100.0, 2.5, 100.0, 2.0, "min", False),
        (100.0, 2.0, 100.0, 2.0, "min", True),  # a tie on both: the later step
        (100.0, 2.5, 100.0, NAN, "min", True),  # no stored loss (an older checkpoint)
    ],
)
def test_is_better(value, loss, best, best_loss, mode, better):
    assert is_better(value, loss, best, best_loss, mode) is better


def _val_records(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in records if "val/loss" in r}


def test_tied_metric_keeps_the_checkpoint_with_the_lowest_loss(tmp_path, monkeypatch):
    """A learning rate too small to get a word right in 8 steps: val/wer is 100.0 at steps 4
    and 8 while val/loss falls; the best checkpoint is the last, not the first."""
    monkeypatch.setattr(Trainer, "final_evaluation", lambda self: {})
    cfg = tiny_train_config(
        tmp_path,
        "train.optimizer.learning_rate=0.002",
        "train.validate_every=4",
        "train.max_steps=8",
    )
    fit(cfg, tmp_path / "run")
    val = _val_records(tmp_path / "run")
    assert sorted(val) == [4, 8]
    assert {r["val/wer"] for r in val.values()} == {100.0}
    lowest = min(val, key=lambda step: val[step]["val/loss"])
    assert lowest != 4
    best = tf.train.latest_checkpoint(str(tmp_path / "run/checkpoints/best"))
    assert best.endswith(f"ckpt-{lowest}")


def test_warning_when_the_best_checkpoint_is_the_first(tmp_path):
    run = RunDir(tmp_path)
    lines = [{"step": 6, "val/loss": 2.0}, {"step": 7, "train/loss": 1.0}]
    run.metrics_log.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert first_best_warning(run, f"{tmp_path}/checkpoints/best/ckpt-6", "val/wer") is None
    with run.metrics_log.open("a") as f:
        f.write(json.dumps({"step": 12, "val/loss": 1.0}) + "\n")
    assert first_best_warning(run, f"{tmp_path}/checkpoints/best/ckpt-12", "val/wer") is None
    assert first_best_warning(run, f"{tmp_path}/checkpoints/best/ckpt-6", "val/wer") == (
        "the best checkpoint (ckpt-6) is from the run's first validation, at step 6, though it "
        "validated up to step 12: val/wer never improved after it, so this model may be barely "
        "trained (empty or repeated outputs). Compare checkpoint=last, and the val/* records of "
        "metrics.jsonl"
    )


def test_evaluate_and_translate_warn_about_a_first_best_checkpoint(smoke_run_copy, caplog):
    """The smoke run validated at steps 6 and 12; its best/ index pointed at ckpt-6 of last/."""
    best = smoke_run_copy / "checkpoints/best/checkpoint"
    first = smoke_run_copy / "checkpoints/last/ckpt-6"
    best.write_text(f'model_checkpoint_path: "{first}"\n')
    with caplog.at_level(logging.WARNING):
        loaded = load_run(smoke_run_copy)
    assert loaded.checkpoint == str(first)
    assert "is from the run's first validation, at step 6" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_run(smoke_run_copy, "last")
    assert "first validation" not in caplog.text
