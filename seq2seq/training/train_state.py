"""`TrainState`: the training progress a checkpoint saves with the model, optimizer, data
position and dropout RNG, one variable per named field (checkpoint keys
`train_state/<field>/.ATTRIBUTES/VARIABLE_VALUE`, `train_state/interval/<sum>/...`), so that a
run resumed at any step continues exactly where it stopped.

Checkpoints written until 2026-12-06 (eaafd7d) held the same figures packed by position in
three vectors (`progress`, `interval`, `counters`); `read_packed` maps them onto the fields,
so those checkpoints still resume. A checkpoint written before a field was added (`best_step`,
2026-12-06) is read field by field (`read_older`); the missing ones keep their defaults.
"""

import math

import tensorflow as tf

from seq2seq.training.schedules import PlateauTracker

# Batch statistics summed over a log interval (outputs of the train step).
SUM_KEYS = ("loss_sum", "correct", "tokens", "positions", "source_tokens", "source_positions")


def _variable(value: float, dtype: tf.DType) -> tf.Variable:
    return tf.Variable(value, dtype=dtype, trainable=False)


class IntervalSums(tf.Module):
    """Sums of the batch statistics since the last log line (applied steps only), float64:
    exact for the Python floats they add up, so a resume mid-interval logs the same means."""

    def __init__(self) -> None:
        super().__init__(name="interval")
        self.steps = _variable(0, tf.int64)
        self.grad_norm_sum = _variable(0.0, tf.float64)
        self.loss_sum = _variable(0.0, tf.float64)
        self.correct = _variable(0.0, tf.float64)
        self.tokens = _variable(0.0, tf.float64)
        self.positions = _variable(0.0, tf.float64)
        self.source_tokens = _variable(0.0, tf.float64)
        self.source_positions = _variable(0.0, tf.float64)

    def add(self, out: dict) -> None:
        """Add one train step's outputs (`SUM_KEYS` and `grad_norm`)."""
        for key in SUM_KEYS:
            getattr(self, key).assign_add(float(out[key]))
        self.grad_norm_sum.assign_add(float(out["grad_norm"]))
        self.steps.assign_add(1)

    def reset(self) -> None:
        for variable in self.variables:
            variable.assign(tf.zeros_like(variable))

    def summary(self, seconds: float) -> dict[str, float]:
        """The interval's means and rates over `seconds`; {} when every step of it was skipped
        (train.on_nonfinite)."""
        steps = int(self.steps.numpy())
        if steps == 0:
            return {}
        s = {key: float(getattr(self, key).numpy()) for key in SUM_KEYS}
        seconds = max(seconds, 1e-9)
        return {
            "train/loss": s["loss_sum"] / max(s["tokens"], 1.0),
            "train/token_accuracy": s["correct"] / max(s["tokens"], 1.0),
            "train/grad_norm": float(self.grad_norm_sum.numpy()) / steps,
            "train/real_tokens_per_sec": s["tokens"] / seconds,
            "train/padded_positions_per_sec": (s["positions"] - s["tokens"]) / seconds,
            "train/real_token_fraction": s["tokens"] / max(s["positions"], 1.0),
            "train/source_real_token_fraction": s["source_tokens"]
            / max(s["source_positions"], 1.0),
        }


class TrainState(tf.Module):
    """Step, epoch position, best validation, early-stopping and plateau counters, skipped
    steps and the log interval in progress. NaN stands for "none yet"."""

    def __init__(self) -> None:
        super().__init__(name="train_state")
        self.step = _variable(0, tf.int64)
        self.examples_seen = _variable(0.0, tf.float64)
        self.best = _variable(math.nan, tf.float64)  # the best monitored value
        self.best_loss = _variable(math.nan, tf.float64)  # its val/loss: breaks ties
        self.best_step = _variable(-1, tf.int64)  # its step (-1: none, or not recorded)
        self.stale_validations = _variable(0, tf.int64)  # since the best (early stopping)
        self.plateau_scale = _variable(1.0, tf.float64)  # of the learning rate
        self.plateau_best = _variable(math.nan, tf.float64)
        self.plateau_stale = _variable(0, tf.int64)  # validations since a plateau change
        self.skipped_steps = _variable(0, tf.int64)  # non-finite updates skipped, in total
        self.skipped_in_a_row = _variable(0, tf.int64)
        self.validated_step = _variable(-1, tf.int64)
        self.interval = IntervalSums()

    def record_validation(self, step: int, value: float, loss: float, better: bool) -> None:
        """A validation at `step` with monitored `value` and `loss`; `better`: a new best."""
        if better:
            self.best.assign(value)
            self.best_loss.assign(loss)
            self.best_step.assign(step)
            self.stale_validations.assign(0)
        else:
            self.stale_validations.assign_add(1)
        self.validated_step.assign(step)

    def update_plateau(self, value: float, factor: float, patience: int, mode: str) -> None:
        """Record a validation in the plateau schedule (`PlateauTracker`)."""
        tracker = PlateauTracker(factor, patience, mode)
        best = float(self.plateau_best.numpy())
        tracker.scale = float(self.plateau_scale.numpy())
        tracker.bad = int(self.plateau_stale.numpy())
        tracker.best = None if math.isnan(best) else best
        tracker.update(value)
        self.plateau_scale.assign(tracker.scale)
        self.plateau_best.assign(math.nan if tracker.best is None else tracker.best)
        self.plateau_stale.assign(tracker.bad)

    def load(self, values: dict) -> None:
        """Assign `{field: value}`; `interval` maps to `{sum: value}`."""
        for name, value in values.items():
            if name == "interval":
                for key, total in value.items():
                    getattr(self.interval, key).assign(total)
            else:
                getattr(self, name).assign(value)


def _key(name: str) -> str:
    return f"{name}/.ATTRIBUTES/VARIABLE_VALUE"


def read_older(path: str) -> dict | None:
    """The training state of checkpoint `path` as `TrainState.load` values when its layout is
    older than `TrainState` (packed by position, or without a field added since); None when it
    holds every field (or cannot be read: restoring it then names the problem)."""
    packed = read_packed(path)
    if packed is not None:
        return packed
    try:
        reader = tf.train.load_checkpoint(path)
    except Exception:  # noqa: BLE001 — unreadable: `Checkpoints.restore_latest` reports it
        return None
    names = _field_names(TrainState())
    if not reader.has_tensor(_key("train_state/step")) or all(
        reader.has_tensor(_key(f"train_state/{name}")) for name in names
    ):
        return None
    values: dict = {}
    for name in names:
        key = _key(f"train_state/{name}")
        if reader.has_tensor(key):
            *parents, field = name.split("/")
            target = values.setdefault(parents[0], {}) if parents else values
            target[field] = reader.get_tensor(key).item()
    return values


def _field_names(state: TrainState) -> list[str]:
    """`step`, ..., `interval/loss_sum`, ...: the checkpoint names of `state`'s variables."""
    names = [n for n, v in vars(state).items() if isinstance(v, tf.Variable)]
    interval = [n for n, v in vars(state.interval).items() if isinstance(v, tf.Variable)]
    return names + [f"interval/{n}" for n in interval]


def read_packed(path: str) -> dict | None:
    """The training state of checkpoint `path` if it was written until 2026-12-06 (eaafd7d),
    packed by position, as `TrainState.load` values; None when it holds a `TrainState` (or
    cannot be read: restoring it then names the problem)."""
    try:
        reader = tf.train.load_checkpoint(path)
        return _unpack(reader) if reader.has_tensor(_key("progress")) else None
    except Exception:  # noqa: BLE001 — unreadable: `Checkpoints.restore_latest` reports it
        return None


def _unpack(reader) -> dict:
    get = reader.get_tensor
    # [best, validations without improvement, plateau scale, plateau best, plateau bad]
    best, stale, scale, plateau_best, plateau_stale = get(_key("progress")).tolist()
    steps, grad_norm_sum, *sums = get(_key("interval")).tolist()
    skipped, in_a_row, validated = get(_key("counters")).tolist()
    has_loss = reader.has_tensor(_key("best_loss"))  # written from 2026-12-06 on
    return {
        "step": int(get(_key("step"))),
        "examples_seen": float(get(_key("examples_seen"))),
        "best": best,
        "best_loss": float(get(_key("best_loss"))) if has_loss else math.nan,
        "stale_validations": int(stale),
        "plateau_scale": scale,
        "plateau_best": plateau_best,
        "plateau_stale": int(plateau_stale),
        "skipped_steps": int(skipped),
        "skipped_in_a_row": int(in_a_row),
        "validated_step": int(validated),
        "interval": {
            "steps": int(steps),
            "grad_norm_sum": grad_norm_sum,
            **dict(zip(SUM_KEYS, sums)),
        },
    }
