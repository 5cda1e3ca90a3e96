"""`train.monitor_tolerance`: a later validation within the tolerance of the best value so far
becomes the best checkpoint, the best value stays the optimum (also across a resume), and the
rules replayed over a run's validations (`seq2seq.analysis.selection`)."""

import json
import logging
import math
import random
from dataclasses import replace
from types import SimpleNamespace

import pytest
import tensorflow as tf

import seq2seq.training.trainer as trainer_module
from seq2seq.analysis.selection import Choice, replay, replay_run, validation_history
from seq2seq.config import TrainConfig
from seq2seq.data.corpora import Corpus
from seq2seq.errors import ConfigError
from seq2seq.runs.selection import (
    Validated,
    decide,
    is_better,
    select,
    standard_error,
    tolerance_at,
    within_tolerance,
)
from seq2seq.training.loop import fit
from tests.train_helpers import tiny_train_config

NAN = math.nan


def _history(values, losses=None) -> list[Validated]:
    losses = losses or [1.0] * len(values)
    return [Validated(2 * (i + 1), v, loss) for i, (v, loss) in enumerate(zip(values, losses))]


def _step(history, mode, tolerance=0.0) -> int:
    return select(history, mode, tolerance).step


def test_a_later_validation_within_the_tolerance_of_the_optimum_is_selected():
    # min: 30.0 (step 2), 29.0 (4), 29.4 (6), 29.8 (8): 29.4 is within 0.5 of 29.0, 29.8 is
    # not (within 0.5 of 29.4 only: the optimum, not the last selected value, is the reference).
    h = _history([30.0, 29.0, 29.4, 29.8])
    assert _step(h, "min") == 4
    assert _step(h, "min", 0.5) == 6
    assert _step(h, "min", 0.8) == 8  # exactly at the tolerance: selected
    assert _step(h, "min", 0.79) == 6
    # max mirrors min.
    h = _history([30.0, 31.0, 30.6, 30.2])
    assert _step(h, "max") == 4
    assert _step(h, "max", 0.5) == 6
    assert _step(h, "max", 0.8) == 8
    # A new optimum resets the reference: 28.0 at step 10 makes 29.4 out of a 0.5 tolerance.
    h = _history([30.0, 29.0, 29.4, 28.0, 28.4, 29.4])
    assert _step(h, "min", 0.5) == 10
    assert _step(h, "min", 1.5) == 12


def test_ties_and_a_nan_value():
    # A tie with a higher loss does not improve; with a tolerance it is selected (within 0).
    h = _history([30.0, 30.0], [1.0, 2.0])
    assert _step(h, "min") == 2 and _step(h, "min", 0.1) == 4
    assert _step(_history([30.0, 30.0], [2.0, 1.0]), "min") == 4  # the lower loss
    assert _step(_history([30.0, 30.0]), "min") == 4  # equal losses: the later step
    assert _step(_history([30.0, NAN]), "min", 5.0) == 2  # a NaN value is never within
    assert select([], "min", 0.5) is None


def test_improvement_and_saving_are_separate():
    within = decide(29.4, 1.0, 29.0, 1.0, "min", 0.5)
    assert within.saved and not within.improved  # early stopping still counts it
    assert decide(28.9, 9.0, 29.0, 1.0, "min", 0.5) == decide(28.9, 9.0, 29.0, 1.0, "min", 0.0)
    assert not within_tolerance(29.4, NAN, "min", 0.5)  # the first validation: no reference
    assert not within_tolerance(29.0, 29.0, "min", 0.0)


def test_tolerance_zero_is_the_strict_rule():
    rng = random.Random(0)
    for _ in range(500):
        value, best = rng.choice([29.0, 29.5, 30.0]), rng.choice([NAN, 29.0, 29.5, 30.0])
        loss, best_loss = rng.choice([1.0, 2.0, NAN]), rng.choice([1.0, 2.0, NAN])
        mode = rng.choice(["min", "max"])
        strict = is_better(value, loss, best, best_loss, mode)
        decision = decide(value, loss, best, best_loss, mode, 0.0)
        assert decision.improved is strict and decision.saved is strict


def test_standard_error_of_a_rate():
    assert standard_error(30.0, 1000) == pytest.approx(math.sqrt(30 * 70 / 1000))  # 1.45
    assert standard_error(0.0, 10) == 0.0
    with pytest.raises(ValueError, match="count > 0"):
        standard_error(30.0, 0)


def test_the_tolerance_must_not_be_negative():
    TrainConfig(monitor_tolerance=0.5)
    with pytest.raises(ConfigError, match=r"^train\.monitor_tolerance must be >= 0"):
        TrainConfig(monitor_tolerance=-0.1)
    TrainConfig(monitor="val/wer", monitor_tolerance_se=1.0)
    with pytest.raises(ConfigError, match=r"^train\.monitor_tolerance_se must be >= 0"):
        TrainConfig(monitor_tolerance_se=-1.0)
    with pytest.raises(ConfigError, match=r"needs train\.monitor=val/wer .* got val/bleu and"):
        TrainConfig(monitor="val/bleu", monitor_tolerance_se=1.0)
    with pytest.raises(ConfigError, match=r"val_decode_examples >= 0, got val/wer and -1;"):
        TrainConfig(monitor="val/wer", monitor_tolerance_se=1.0, val_decode_examples=-1)


def test_replay_gives_each_rule_its_step():
    h = _history([30.0, 29.0, 29.4, 29.8, 30.5])
    assert replay(h, "min", (0.5, 1.0, 0.0)) == [
        Choice("strict", 4, 29.0, 1.0),
        Choice("tolerance 0.5", 6, 29.4, 1.0),
        Choice("tolerance 1", 8, 29.8, 1.0),
        Choice("last", 10, 30.5, 1.0),
    ]
    assert replay([], "min", (0.5,)) == []
    # One standard error of a WER of 29.0 over 400 words: sqrt(29 * 71 / 400) = 2.27.
    se = replay(h, "min", standard_errors=(1.0, 0.3), count=400)
    assert [(c.rule, c.step) for c in se] == [
        ("strict", 4),
        ("se 1", 10),
        ("se 0.3", 6),
        ("last", 10),
    ]
    with pytest.raises(ValueError, match="need count > 0"):
        replay(h, "min", standard_errors=(1.0,))


def test_standard_errors_are_of_the_best_value_so_far():
    # 1 SE of 30.0 over 100 items is 4.58 (the second value is within), of 20.0 it is 4.0.
    h = _history([30.0, 34.0, 20.0, 24.5, 23.9])
    assert _step(h, "min") == 6
    assert select(h, "min", 0.0, 1.0, 100).step == 10
    assert select(h, "min", 0.6, 0.1, 100).step == 6  # the larger of 0.6 and 0.1 SE (0.4-0.46)
    assert tolerance_at(NAN, 0.5, 1.0, 100) == 0.5  # no best yet
    assert tolerance_at(30.0, 0.5, 0.0, 100) == 0.5
    assert tolerance_at(30.0, 0.5, 1.0, 100) == pytest.approx(math.sqrt(30 * 70 / 100))


def _write_run(run_dir, records, monitor="val/wer", mode="min"):
    run_dir.mkdir()
    lines = [json.dumps(r) for r in records]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run_dir / "run_config.yaml").write_text(
        f"train:\n  monitor: {monitor}\n  monitor_mode: {mode}\n"
    )


def test_replay_run_reads_the_validations_of_metrics_jsonl(tmp_path):
    records = [
        {"step": 1, "train/loss": 3.0},
        {"step": 2, "val/loss": 2.0, "val/wer": 30.0},
        {"step": 4, "val/loss": 1.5, "val/wer": 29.0},
        {"step": 6, "val/loss": 1.9, "val/wer": 31.0},  # killed after this validation,
        {"step": 6, "val/loss": 1.4, "val/wer": 29.3},  # repeated by the resume: the last counts
        {"step": 8, "val/loss": 1.3, "val/wer": 30.0},
        {"step": 8, "best/val/wer": 28.0},
    ]
    _write_run(tmp_path / "run", records)
    assert validation_history(tmp_path / "run", "val/wer")[2] == Validated(6, 29.3, 1.4)
    steps = {c.rule: c.step for c in replay_run(tmp_path / "run", (0.5, 1.0))}
    assert steps == {"strict": 4, "tolerance 0.5": 6, "tolerance 1": 8, "last": 8}
    by_loss = {c.rule: c.step for c in replay_run(tmp_path / "run", (), monitor="val/loss")}
    assert by_loss == {"strict": 8, "last": 8}
    assert replay_run(tmp_path / "run", (), mode="max")[0].step == 8  # val/wer 30.0: a tie
    with pytest.raises(ValueError, match=r"no val/bleu records in metrics\.jsonl"):
        replay_run(tmp_path / "run", monitor="val/bleu")


def test_the_trainer_counts_the_decoded_validation_sources(tmp_path):
    """monitor_tolerance_se: n is train.val_decode_examples, or the distinct valid sources."""
    cfg = tiny_train_config(tmp_path, "train.monitor=val/wer", "train.monitor_tolerance_se=2")
    valid = Corpus(sources=[f"w{i % 10}" for i in range(30)], targets=["T"] * 30)  # 10 distinct
    trainer = SimpleNamespace(cfg=cfg, corpora={"valid": valid})

    def tolerance(decode: int, best: float, absolute: float = 0.0) -> float:
        train = replace(cfg.train, val_decode_examples=decode, monitor_tolerance=absolute)
        trainer.cfg = replace(cfg, train=train)
        return trainer_module.Trainer._tolerance(trainer, best)

    assert tolerance(4, 20.0) == pytest.approx(2 * math.sqrt(20 * 80 / 4))
    assert tolerance(0, 20.0) == pytest.approx(2 * math.sqrt(20 * 80 / 10))
    assert tolerance(1000, 20.0) == tolerance(0, 20.0)
    assert tolerance(4, 20.0, absolute=50.0) == 50.0  # the larger
    assert tolerance(4, NAN, absolute=0.5) == 0.5


# Scripted val/wer of the validations at steps 2, 4, ... (val/loss constant): with a tolerance
# of 0.5, step 6 is within it of the optimum at step 4, step 8 is not (only of step 6's value).
SCRIPTED_WER = {2: 30.0, 4: 29.0, 6: 29.4, 8: 29.8, 10: 29.7}


def _scripted_validate(self, split="valid", decode_limit=None):
    prefix = trainer_module.split_prefix(split)
    wer = SCRIPTED_WER[int(self.step.numpy())]
    return trainer_module.Validation({f"{prefix}/loss": 1.0, f"{prefix}/wer": wer}, [], {})


def test_a_within_tolerance_checkpoint_becomes_best_and_survives_a_resume(
    tmp_path, monkeypatch, caplog
):
    """Trained to step 6 (best: ckpt-6, within 0.5 of step 4's 29.0), then resumed: step 8
    (29.8) is compared with the optimum 29.0 restored from the training state, so ckpt-6 stays
    best; steps 6 and 8 did not improve, so early stopping (patience 2) stops at step 8."""
    monkeypatch.setattr(trainer_module.Trainer, "validate", _scripted_validate)
    settings = [
        "train.validate_every=2",
        "train.monitor=val/wer",
        "train.monitor_tolerance=0.5",
        "train.early_stopping_patience=2",
    ]
    run_dir = tmp_path / "run"
    best_dir = str(run_dir / "checkpoints" / "best")
    with caplog.at_level(logging.INFO, logger="seq2seq.train"):
        metrics = fit(tiny_train_config(tmp_path, "train.max_steps=6", *settings), run_dir)
    assert tf.train.latest_checkpoint(best_dir).endswith("best/ckpt-6")
    assert metrics["best_step"] == 6 and metrics["best_checkpoint"].endswith("best/ckpt-6")
    assert "(best: val/wer 29.4, within 0.5 of 29 at step 4)" in caplog.text
    state = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run_dir / "checkpoints/last")))
    assert state.get_tensor("train_state/best/.ATTRIBUTES/VARIABLE_VALUE") == 29.0
    assert state.get_tensor("train_state/best_step/.ATTRIBUTES/VARIABLE_VALUE") == 4

    metrics = fit(tiny_train_config(tmp_path, "train.max_steps=10", *settings), run_dir)
    assert metrics["resumed_from_step"] == 6
    assert metrics["stop_reason"] == "early_stopping" and metrics["steps"] == 8
    assert tf.train.latest_checkpoint(best_dir).endswith("best/ckpt-6")
    assert metrics["best_step"] == 6
