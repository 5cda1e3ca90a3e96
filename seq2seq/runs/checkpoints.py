"""Checkpoints: the last N training states and the best model, written so a kill never leaves
a checkpoint that cannot be loaded.

TensorFlow writes each checkpoint under temporary names and updates the `checkpoint` index
file atomically after the data is complete, so a crash mid-save leaves the previous checkpoint
as the latest. A checkpoint that fails to load is reported with the intact earlier ones, and
one that cannot be written (disk full, permissions) is a RunDirError naming the intact one.
"""

import logging
import re
import shutil
from pathlib import Path

import tensorflow as tf

from seq2seq.errors import RunDirError

log = logging.getLogger(__name__)


class Checkpoints:
    """`last/` keeps the newest `keep` full training states; `best/` keeps the best model.

    Args:
        directory: the run's `checkpoints/` directory.
        state: trackables of the full training state (model, optimizer, iterator, counters).
        model: the model alone, saved as the best checkpoint.
        keep: how many full training states to keep.

    The caller must be the run directory's only writer (`RunLock`): partial saves left by a
    killed process (`ckpt-N_temp/`) are deleted here.
    """

    def __init__(
        self,
        directory: Path,
        state: dict,
        model: tf.Module,
        keep: int,
    ) -> None:
        self.directory = directory
        for partial in directory.glob("*/ckpt-*_temp"):
            shutil.rmtree(partial, ignore_errors=True)
        self.objects = state
        self.state = tf.train.Checkpoint(**state)
        self.last = tf.train.CheckpointManager(self.state, str(directory / "last"), keep)
        self.best_ckpt = tf.train.Checkpoint(model=model)
        self.best = tf.train.CheckpointManager(self.best_ckpt, str(directory / "best"), 1)

    def save(self, step: int) -> str:
        """Write the full training state as `last/ckpt-<step>`; prune to `keep`."""
        return _save(self.last, step)

    def save_best(self, step: int) -> str:
        """Write the model as `best/ckpt-<step>`, replacing the previous best."""
        return _save(self.best, step)

    def restore_latest(self, path: str | None = None, without: tuple[str, ...] = ()) -> str | None:
        """Restore the newest training state (or `path`); None when there is none. `without`:
        names of `state` to leave as they are (which the caller fills from an older layout)."""
        path = path or self.last.latest_checkpoint
        if path is None:
            return None
        kept = {name: obj for name, obj in self.objects.items() if name not in without}
        try:
            tf.train.Checkpoint(**kept).restore(
                path
            ).expect_partial().assert_existing_objects_matched()
        except Exception as exc:  # noqa: BLE001 — any failure means "cannot be loaded"
            earlier = [p for p in self.last.checkpoints if p != path]
            hint = (
                (
                    f"; earlier checkpoints are intact: {', '.join(earlier)} "
                    "(resume from one with train.resume_from=PATH)"
                )
                if earlier
                else ""
            )
            reason = str(exc).strip().splitlines()[0][:200]
            raise RunDirError(f"checkpoint {path} cannot be loaded ({reason}){hint}") from None
        log.info("resumed from %s", path)
        return path


def _save(manager: tf.train.CheckpointManager, step: int) -> str:
    """`manager.save(step)`; a failed write leaves the previous checkpoint as the latest (the
    index file is replaced only after the data is complete) and raises RunDirError."""
    try:
        return manager.save(checkpoint_number=step)
    except (tf.errors.OpError, OSError) as exc:
        prefix = Path(manager.directory) / f"ckpt-{step}"
        if str(prefix) not in manager.checkpoints:  # never delete a checkpoint still listed
            shutil.rmtree(f"{prefix}_temp", ignore_errors=True)
            for partial in prefix.parent.glob(f"{prefix.name}.*"):
                partial.unlink(missing_ok=True)
        previous = manager.latest_checkpoint
        kept = f"the previous one, {previous}, is intact" if previous else "there is no earlier one"
        raise RunDirError(
            f"cannot write checkpoint {prefix} ({_reason(exc)}); {kept}. Free disk space or "
            "fix the permissions, then run the same command again to resume"
        ) from None


def _reason(exc: Exception) -> str:
    """The OS-level reason of a TensorFlow or Python I/O error, e.g. `No space left on device`."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()[0]
    text = re.sub(r"\s*\[Op:\w+\]$", "", text)  # TensorFlow's trailing op name
    return text.rsplit("; ", 1)[-1][:200]


def random_states(model: tf.Module) -> tf.train.Checkpoint:
    """The states of the model's random seed generators (dropout), as one trackable.

    Keras 3 does not put `SeedGenerator` states into TensorFlow checkpoints; without them a
    resumed run would draw other dropout masks than an uninterrupted one. Keys are positions
    in the model's layer order, which is the same for the same config in any process.
    """
    states = [
        g.state.value
        for layer in model._flatten_layers()
        for g in getattr(layer, "_seed_generators", [])
    ]
    return tf.train.Checkpoint(**{f"seed_{i}": v for i, v in enumerate(states)})


def restore_model(model: tf.Module, checkpoints_dir: Path, which: str = "best") -> str:
    """Load model weights from `checkpoints/best`, `last`, `average:N` (the mean of the last
    N checkpoints in `last/`) or `step:N` (the checkpoint of step N, in `last/` or `best/`);
    raise RunDirError if absent. Returns what was loaded."""
    if which.startswith("average:"):
        return average_model(model, checkpoints_dir / "last", int(which.removeprefix("average:")))
    if which.startswith("step:"):
        path = step_checkpoint(checkpoints_dir, int(which.removeprefix("step:")))
        _load_weights(model, path)
        return path
    path = tf.train.latest_checkpoint(str(checkpoints_dir / which))
    if path is None and which == "best":
        path = tf.train.latest_checkpoint(str(checkpoints_dir / "last"))
    if path is None:
        raise RunDirError(f"no checkpoint in {checkpoints_dir} (was the run trained?)")
    _load_weights(model, path)
    return path


def step_checkpoint(checkpoints_dir: Path, step: int) -> str:
    """The path of the checkpoint of `step` (`last/ckpt-N`, else `best/ckpt-N`); RunDirError
    listing the steps there are when neither exists."""
    for which in ("last", "best"):
        path = checkpoints_dir / which / f"ckpt-{step}"
        if path.with_name(f"{path.name}.index").exists():
            return str(path)
    indexes = checkpoints_dir.glob("*/ckpt-*.index")
    steps = sorted({checkpoint_step(p.stem) for p in indexes} - {None})
    there = ", ".join(map(str, steps)) if steps else "none"
    raise RunDirError(
        f"checkpoint=step:{step}: no checkpoints/last/ckpt-{step} or checkpoints/best/ckpt-{step} "
        f"in {checkpoints_dir.parent}; the steps saved there: {there} (train.keep_checkpoints "
        "sets how many are kept)"
    )


def checkpoint_step(path: str | Path) -> int | None:
    """N of a checkpoint path `.../ckpt-N`; None for another name (e.g. `average:2 of ...`)."""
    match = re.search(r"ckpt-(\d+)$", str(path))
    return int(match.group(1)) if match else None


def average_model(model: tf.Module, last_dir: Path, count: int) -> str:
    """Set the model's weights to the mean of the newest `count` checkpoints in `last_dir`
    (checkpoint averaging: a cheap ensemble of the end of training). Returns a description
    `average:N of ckpt-a, ckpt-b, ...`."""
    state = tf.train.get_checkpoint_state(str(last_dir))
    paths = list(state.all_model_checkpoint_paths)[-count:] if state else []
    if len(paths) < count:
        raise RunDirError(
            f"checkpoint=average:{count} needs {count} checkpoints in {last_dir}, found "
            f"{len(paths)} (train with train.keep_checkpoints>={count} and train.save_every)"
        )
    total = None
    for path in paths:
        _load_weights(model, path)
        values = [w.numpy() for w in model.weights]
        dtypes = [v.dtype for v in values]
        values = [v.astype("float64") for v in values]
        total = values if total is None else [t + v for t, v in zip(total, values)]
    for weight, value, dtype in zip(model.weights, total, dtypes):
        weight.assign((value / count).astype(dtype))
    names = ", ".join(Path(p).name for p in paths)
    log.info("averaged %d checkpoints: %s", count, names)
    return f"average:{count} of {names}"


def _load_weights(model: tf.Module, path: str) -> None:
    """Restore the model part of checkpoint `path`; RunDirError if it does not match."""
    try:
        tf.train.Checkpoint(model=model).restore(
            path
        ).expect_partial().assert_existing_objects_matched()
    except Exception as exc:  # noqa: BLE001
        reason = str(exc).strip().splitlines()[0][:200]
        raise RunDirError(f"checkpoint {path} does not match this model ({reason})") from None
