"""Checkpoints: the last N training states and the best model, written so a kill never leaves
a checkpoint that cannot be loaded.

TensorFlow writes each checkpoint under temporary names and updates the `checkpoint` index
file atomically after the data is complete, so a crash mid-save leaves the previous checkpoint
as the latest. A checkpoint that fails to load is reported with the intact earlier ones.
"""

import logging
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
    """

    def __init__(self, directory: Path, state: dict, model: tf.Module, keep: int) -> None:
        self.directory = directory
        self.state = tf.train.Checkpoint(**state)
        self.last = tf.train.CheckpointManager(self.state, str(directory / "last"), keep)
        self.best_ckpt = tf.train.Checkpoint(model=model)
        self.best = tf.train.CheckpointManager(self.best_ckpt, str(directory / "best"), 1)

    def save(self, step: int) -> str:
        return self.last.save(checkpoint_number=step)

    def save_best(self, step: int) -> str:
        return self.best.save(checkpoint_number=step)

    def restore_latest(self, path: str | None = None) -> str | None:
        """Restore the newest training state (or `path`); None when there is none."""
        path = path or self.last.latest_checkpoint
        if path is None:
            return None
        try:
            self.state.restore(path).assert_existing_objects_matched()
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
    """Load model weights from `checkpoints/best` (or `last`); raise RunDirError if absent."""
    path = tf.train.latest_checkpoint(str(checkpoints_dir / which))
    if path is None and which == "best":
        path = tf.train.latest_checkpoint(str(checkpoints_dir / "last"))
    if path is None:
        raise RunDirError(f"no checkpoint in {checkpoints_dir} (was the run trained?)")
    try:
        tf.train.Checkpoint(model=model).restore(
            path
        ).expect_partial().assert_existing_objects_matched()
    except Exception as exc:  # noqa: BLE001
        reason = str(exc).strip().splitlines()[0][:200]
        raise RunDirError(f"checkpoint {path} does not match this model ({reason})") from None
    return path
