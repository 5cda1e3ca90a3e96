"""Adam and AdamW whose per-variable update is one fused TensorFlow kernel.

Keras 3's Adam updates each variable with ~12 separate element-wise ops (m, v, the step), each a
pass over memory and a scheduled op. `tf.raw_ops.ResourceApplyAdam` does the same update in one
multi-threaded pass:

    lr_t = lr · sqrt(1 − β2^t) / (1 − β1^t),   t = iterations + 1
    m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²,   θ ← θ − lr_t · m / (sqrt(v) + ε)

which is Keras' `Adam.update_step` term for term (the same slots, so checkpoints are
interchangeable with `keras.optimizers.Adam`). AdamW's decoupled weight decay is applied by Keras
before the update, as in `keras.optimizers.AdamW`. Sparse gradients (`tf.IndexedSlices`, the
embeddings') take Keras' own update: it squares each slice before summing the slices of a
repeated row (v gets Σ g_i², not (Σ g_i)²), which the recorded runs and the distributed step
(`all_reduce_gradients`) rely on. So do amsgrad and variables that are not float32 resource
variables, and every variable when Keras' private slot attributes are not as expected
(`keras_private.adam_slot_handles`; a warning says so once).
"""

import keras
import tensorflow as tf

from seq2seq.config import TrainRunConfig
from seq2seq.training.keras_private import adam_slot_handles, warn_once


class _FusedAdamUpdate:
    """Mixin over `keras.optimizers.Adam` / `AdamW`: `update_step` as one fused kernel."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices) or not _fusable(variable):
            return super().update_step(gradient, variable, learning_rate)
        slots = adam_slot_handles(self, variable)
        if slots is None:
            warn_once(
                "fused_adam",
                f"FusedAdam: Keras {keras.__version__} keeps Adam's slots differently than "
                "seq2seq/training/keras_private.py expects; using Keras' own Adam update "
                "(same result, slower)",
            )
            return super().update_step(gradient, variable, learning_rate)
        local_step = tf.cast(self.iterations + 1, variable.dtype)
        beta_1 = tf.cast(self.beta_1, variable.dtype)
        beta_2 = tf.cast(self.beta_2, variable.dtype)
        return tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=slots[0],
            v=slots[1],
            beta1_power=tf.pow(beta_1, local_step),
            beta2_power=tf.pow(beta_2, local_step),
            lr=tf.cast(learning_rate, variable.dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, variable.dtype),
            grad=tf.cast(gradient, variable.dtype),
        )


def _fusable(variable) -> bool:
    """A float32 resource variable (Keras passes the backend's tf.Variable to update_step)."""
    return hasattr(variable, "handle") and variable.dtype == tf.float32


@keras.saving.register_keras_serializable(package="seq2seq")
class FusedAdam(_FusedAdamUpdate, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with the update in one kernel per variable (same arguments)."""


@keras.saving.register_keras_serializable(package="seq2seq")
class FusedAdamW(_FusedAdamUpdate, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with the Adam update in one kernel per variable."""


def build_optimizer(cfg: TrainRunConfig) -> keras.optimizers.Optimizer:
    """The optimizer of `cfg.train.optimizer`; its learning rate is set by the trainer."""
    o = cfg.train.optimizer
    if o.name == "sgd":
        return keras.optimizers.SGD(learning_rate=o.learning_rate)
    kwargs = dict(
        learning_rate=o.learning_rate, beta_1=o.beta_1, beta_2=o.beta_2, epsilon=o.epsilon
    )
    if o.name == "adamw":
        adamw = FusedAdamW if o.fused else keras.optimizers.AdamW
        return adamw(weight_decay=o.weight_decay, **kwargs)
    return (FusedAdam if o.fused else keras.optimizers.Adam)(**kwargs)
