"""`TrainState`: the training progress saved by name, and checkpoints written until 2026-12-06
(eaafd7d), which packed it by position in `progress`, `interval` and `counters`, still resume."""

import math

import pytest
import tensorflow as tf

import seq2seq.training.trainer as trainer_module
from seq2seq.runs.checkpoints import Checkpoints
from seq2seq.training.loop import fit
from seq2seq.training.train_state import SUM_KEYS, TrainState, read_older, read_packed
from tests.train_helpers import tiny_train_config

PACKED_KEYS = ("step", "examples_seen", "progress", "interval", "counters", "best_loss")


def _packed_variables() -> dict:
    """The training-state variables of the layout written until 2026-12-06 (eaafd7d)."""
    return dict(
        step=tf.Variable(0, dtype=tf.int64),
        examples_seen=tf.Variable(0.0, dtype=tf.float64),
        # [best, validations without improvement, plateau scale, plateau best, plateau bad]
        progress=tf.Variable([math.nan, 0.0, 1.0, math.nan, 0.0], dtype=tf.float64),
        # [steps, grad_norm_sum, *SUM_KEYS]
        interval=tf.Variable([0.0] * (2 + len(SUM_KEYS)), dtype=tf.float64),
        # [skipped steps, skipped in a row, last validated step]
        counters=tf.Variable([0, 0, -1], dtype=tf.int64),
        best_loss=tf.Variable(math.nan, dtype=tf.float64),
    )


FIELDS = (
    "step",
    "examples_seen",
    "best",
    "best_loss",
    "stale_validations",
    "plateau_scale",
    "plateau_best",
    "plateau_stale",
    "skipped_steps",
    "skipped_in_a_row",
    "validated_step",
)


def _fields(state: TrainState) -> dict:
    """{field: value} of every variable of `state`, by checkpoint name."""
    out = {name: getattr(state, name).numpy().item() for name in FIELDS}
    for name in ("steps", "grad_norm_sum", *SUM_KEYS):
        out[f"interval/{name}"] = getattr(state.interval, name).numpy().item()
    return out


def _pack(state: TrainState, packed: dict) -> None:
    """Write `state` into the packed variables, by position, as the trainer did until
    2026-12-06 (eaafd7d)."""
    f = _fields(state)
    for name in ("step", "examples_seen", "best_loss"):
        packed[name].assign(f[name])
    progress = ("best", "stale_validations", "plateau_scale", "plateau_best", "plateau_stale")
    packed["progress"].assign([float(f[name]) for name in progress])
    interval = [f"interval/{name}" for name in ("steps", "grad_norm_sum", *SUM_KEYS)]
    packed["interval"].assign([float(f[name]) for name in interval])
    packed["counters"].assign([f["skipped_steps"], f["skipped_in_a_row"], f["validated_step"]])


def test_a_packed_checkpoint_maps_onto_the_named_fields(tmp_path):
    packed = _packed_variables()
    packed["step"].assign(7)
    packed["examples_seen"].assign(123.5)
    packed["progress"].assign([0.5, 2.0, 0.25, 0.4, 1.0])
    packed["interval"].assign([3.0, 4.5, 10.0, 6.0, 12.0, 20.0, 9.0, 15.0])
    packed["counters"].assign([5, 1, 6])
    packed["best_loss"].assign(1.5)
    path = tf.train.Checkpoint(**packed).save(str(tmp_path / "packed" / "ckpt"))
    state = TrainState()
    state.load(read_packed(path))
    assert _fields(state) == {
        "step": 7,
        "examples_seen": 123.5,
        "best": 0.5,
        "best_loss": 1.5,
        "stale_validations": 2,
        "plateau_scale": 0.25,
        "plateau_best": 0.4,
        "plateau_stale": 1,
        "skipped_steps": 5,
        "skipped_in_a_row": 1,
        "validated_step": 6,
        "interval/steps": 3,
        "interval/grad_norm_sum": 4.5,
        "interval/loss_sum": 10.0,
        "interval/correct": 6.0,
        "interval/tokens": 12.0,
        "interval/positions": 20.0,
        "interval/source_tokens": 9.0,
        "interval/source_positions": 15.0,
    }
    # Written before best_loss was saved: NaN ("none"), and a tie then goes to the later one.
    del packed["best_loss"]
    path = tf.train.Checkpoint(**packed).save(str(tmp_path / "older" / "ckpt"))
    assert math.isnan(read_packed(path)["best_loss"])
    # A checkpoint holding a TrainState is restored by name, not read here.
    named = tf.train.Checkpoint(train_state=TrainState()).save(str(tmp_path / "named" / "ckpt"))
    assert read_packed(named) is None
    assert any(n.startswith("train_state/best/") for n, _ in tf.train.list_variables(named))


class PackedCheckpoints(Checkpoints):
    """Writes the training state in the layout used until 2026-12-06 (eaafd7d)."""

    def __init__(self, directory, state, model, keep):
        self.train_state = state["train_state"]
        self.packed = _packed_variables()
        others = {k: v for k, v in state.items() if k != "train_state"}
        super().__init__(directory, {**others, **self.packed}, model, keep)

    def save(self, step):
        _pack(self.train_state, self.packed)
        return super().save(step)


def test_a_checkpoint_in_the_packed_layout_resumes(tmp_path, monkeypatch):
    """A run saved the old way (plateau, early-stopping counters and a partial log interval
    all non-trivial at step 4) resumes from it with every field restored."""
    monkeypatch.setattr(trainer_module.Trainer, "final_evaluation", lambda self: {})
    settings = [
        "train.schedule.name=plateau",
        "train.schedule.factor=0.5",
        "train.schedule.patience=1",
        "train.monitor=val/loss",
        "train.monitor_mode=max",  # the falling loss never improves: counters move
        "train.validate_every=2",
        "train.log_every=3",  # step 4 is inside an interval
        "train.val_decode_examples=-1",
    ]
    run_dir = tmp_path / "run"
    monkeypatch.setattr(trainer_module, "Checkpoints", PackedCheckpoints)
    fit(tiny_train_config(tmp_path, "train.max_steps=4", *settings), run_dir)
    path = tf.train.latest_checkpoint(str(run_dir / "checkpoints" / "last"))
    reader = tf.train.load_checkpoint(path)
    names = {n.split("/")[0] for n in reader.get_variable_to_shape_map()}
    assert set(PACKED_KEYS) <= names and "train_state" not in names
    progress = reader.get_tensor("progress/.ATTRIBUTES/VARIABLE_VALUE").tolist()
    interval = reader.get_tensor("interval/.ATTRIBUTES/VARIABLE_VALUE").tolist()
    assert progress[1] >= 1 and progress[2] < 1.0 and interval[0] == 1  # non-trivial

    monkeypatch.setattr(trainer_module, "Checkpoints", Checkpoints)
    restored, loop = {}, trainer_module.Trainer._loop

    def record(self, start_time):
        restored.update(_fields(self.state))
        return loop(self, start_time)

    monkeypatch.setattr(trainer_module.Trainer, "_loop", record)
    metrics = fit(tiny_train_config(tmp_path, "train.max_steps=6", *settings), run_dir)
    assert metrics["resumed_from_step"] == 4 and metrics["steps"] == 6
    expected = TrainState()
    expected.load(read_packed(path))
    assert restored == pytest.approx(_fields(expected), nan_ok=True)
    assert restored["step"] == 4 and restored["stale_validations"] == progress[1]
    assert restored["plateau_scale"] == progress[2] and restored["interval/steps"] == 1
    new = tf.train.latest_checkpoint(str(run_dir / "checkpoints" / "last"))
    assert read_packed(new) is None  # the resumed run writes the named layout


class WithoutBestStep(TrainState):
    """The named layout before `best_step` was added (2026-12-06)."""

    def __init__(self) -> None:
        super().__init__()
        del self.best_step


def test_a_checkpoint_without_a_newer_field_is_read_field_by_field(tmp_path):
    old = WithoutBestStep()
    old.step.assign(8)
    old.best.assign(29.0)
    old.stale_validations.assign(2)
    old.interval.tokens.assign(12.0)
    path = tf.train.Checkpoint(train_state=old).save(str(tmp_path / "old" / "ckpt"))
    assert not any("best_step" in n for n, _ in tf.train.list_variables(path))
    with pytest.raises(AssertionError):  # what restoring it by name would do
        tf.train.Checkpoint(train_state=TrainState()).restore(
            path
        ).assert_existing_objects_matched()
    state = TrainState()
    state.load(read_older(path))
    fields = _fields(state)
    assert fields["step"] == 8 and fields["best"] == 29.0 and fields["stale_validations"] == 2
    assert fields["interval/tokens"] == 12.0 and int(state.best_step.numpy()) == -1
    current = tf.train.Checkpoint(train_state=state).save(str(tmp_path / "new" / "ckpt"))
    assert read_older(current) is None  # every field there: restored by name
