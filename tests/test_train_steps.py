"""The train step and its logged figures: the loss is the mean over real target tokens,
padding excluded; schedules; corrupt checkpoints and NaN losses give clear errors."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.config import TrainConfig
from seq2seq.errors import RunDirError
from seq2seq.runs.checkpoints import Checkpoints
from seq2seq.training.schedules import PlateauTracker, learning_rate
from seq2seq.training.steps import make_train_step
from seq2seq.training.train_state import IntervalSums
from tests.model_helpers import Sequence, make_batch, random_model, tiny_config


def _numpy_mean_loss(model, x, y):
    """sum(-log p(y) * mask) / sum(mask), computed by hand from the model's logits."""
    logits = model(x, training=False).numpy().astype(np.float64)
    logp = (
        logits
        - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )
    nll = -np.take_along_axis(logp, y.numpy()[..., None], -1)[..., 0]
    mask = x["target_padding_mask"].numpy()
    return (nll * mask).sum() / mask.sum()


@pytest.fixture
def batch():
    seqs = [
        Sequence([5, 6, 7, 8, 3], [4, 5, 6, 7, 8]),
        Sequence([9, 3], [10]),
        Sequence([4, 5, 3], [11, 12]),
    ]
    return seqs


def test_logged_train_loss_is_the_real_token_mean(batch):
    model = random_model(tiny_config(dropout=0.0), seed=3)
    x, y = make_batch(batch)
    expected = _numpy_mean_loss(model, x, y)
    step = make_train_step(model, tf.keras.optimizers.SGD(0.0))
    interval = IntervalSums()
    interval.add(step(x, y, x["target_padding_mask"]))
    assert interval.summary(seconds=1.0)["train/loss"] == pytest.approx(expected, abs=1e-5)
    # Extra padding on both sides changes neither the loss nor the token count.
    x_pad, y_pad = make_batch(batch, extra_source=4, extra_target=6)
    padded = step(x_pad, y_pad, x_pad["target_padding_mask"])
    assert float(padded["loss_sum"]) / float(padded["tokens"]) == pytest.approx(expected, abs=1e-5)
    assert float(padded["tokens"]) == sum(len(s.target) + 1 for s in batch)
    # The naive mean over all B*T positions would differ: the test can tell them apart.
    naive = float(padded["loss_sum"]) / float(padded["positions"])
    assert abs(naive - expected) > 0.1


def test_interval_mean_weights_batches_by_tokens(batch):
    model = random_model(tiny_config(dropout=0.0), seed=4)
    step = make_train_step(model, tf.keras.optimizers.SGD(0.0))
    interval, outs = IntervalSums(), []
    for seqs in (batch[:1], batch[1:]):
        x, y = make_batch(seqs)
        outs.append(step(x, y, x["target_padding_mask"]))
        interval.add(outs[-1])
    total = sum(float(o["loss_sum"]) for o in outs) / sum(float(o["tokens"]) for o in outs)
    assert interval.summary(seconds=1.0)["train/loss"] == pytest.approx(total, rel=1e-6)
    fraction = sum(float(o["tokens"]) for o in outs) / sum(float(o["positions"]) for o in outs)
    assert interval.summary(seconds=1.0)["train/real_token_fraction"] == pytest.approx(fraction)


def test_cosine_schedule_warms_up_then_decays():
    cfg = TrainConfig(max_steps=100)
    cfg.schedule.warmup_steps, cfg.schedule.min_ratio = 10, 0.1
    peak = cfg.optimizer.learning_rate
    assert learning_rate(0, cfg) == pytest.approx(peak / 10)
    assert learning_rate(9, cfg) == pytest.approx(peak)
    assert learning_rate(55, cfg) == pytest.approx(peak * 0.55, rel=1e-6)
    assert learning_rate(100, cfg) == pytest.approx(peak * 0.1)


def test_plateau_halves_after_patience():
    tracker = PlateauTracker(factor=0.5, patience=2, mode="min")
    for value in (1.0, 0.9, 0.95, 0.92):
        tracker.update(value)
    assert tracker.scale == 0.5
    restored = PlateauTracker(0.5, 2)
    restored.load_state(tracker.state())
    assert (restored.scale, restored.best, restored.bad) == (0.5, 0.9, 0)


def test_corrupt_checkpoint_names_file_and_keeps_earlier(tmp_path):
    model = random_model(tiny_config(), seed=0)
    counter = tf.Variable(0)
    ckpts = Checkpoints(tmp_path, {"model": model, "counter": counter}, model, keep=3)
    ckpts.save(1)
    counter.assign(2)
    ckpts.save(2)
    latest = ckpts.last.latest_checkpoint
    data = next(tmp_path.glob("last/ckpt-2.data-*"))
    data.write_bytes(b"garbage")
    fresh = Checkpoints(tmp_path, {"model": model, "counter": counter}, model, keep=3)
    with pytest.raises(RunDirError, match=r"ckpt-2 cannot be loaded.*ckpt-1"):
        fresh.restore_latest()
    assert fresh.restore_latest(str(tmp_path / "last" / "ckpt-1")) is not None
    assert int(counter.numpy()) == 0 and latest.endswith("ckpt-2")
