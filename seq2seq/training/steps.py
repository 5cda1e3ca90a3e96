"""Compiled training and evaluation steps over one padded batch.

Both return *sums* over real target tokens (and the token count), so means over an interval
or a whole split are exact however the batches are padded or sized.
"""

from collections.abc import Callable

import keras
import tensorflow as tf

from seq2seq.constants import (
    BATCH_KEYS,
    SOURCE_IDS,
    SOURCE_PADDING_MASK,
    TARGET_IN_IDS,
    TARGET_PADDING_MASK,
)
from seq2seq.training.losses import masked_cross_entropy
from seq2seq.training.metrics import token_accuracy

BATCH_SIGNATURE = (
    {
        SOURCE_IDS: tf.TensorSpec((None, None), tf.int32),
        SOURCE_PADDING_MASK: tf.TensorSpec((None, None), tf.bool),
        TARGET_IN_IDS: tf.TensorSpec((None, None), tf.int32),
        TARGET_PADDING_MASK: tf.TensorSpec((None, None), tf.bool),
    },
    tf.TensorSpec((None, None), tf.int32),
    tf.TensorSpec((None, None), tf.bool),
)


def make_train_step(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    label_smoothing: float = 0.0,
    clip_norm: float = 0.0,
    jit_compile: bool = False,
) -> Callable:
    """A tf.function `step(x, y, mask) -> dict` doing one optimizer update.

    The loss minimized is the mean over the batch's real target tokens. Returned (scalars):
    loss_sum (smoothed loss summed over real tokens), nll_sum, correct, tokens, positions
    (B*T target positions, padding included), source_tokens, source_positions, grad_norm.
    """
    variables = model.trainable_variables

    @tf.function(input_signature=BATCH_SIGNATURE, jit_compile=jit_compile)
    def step(x, y, mask):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # (B, T, V)
            loss_sum, tokens = masked_cross_entropy(y, logits, mask, label_smoothing)
            loss = loss_sum / tokens
        grads = tape.gradient(loss, variables)
        grad_norm = tf.linalg.global_norm(grads)
        if clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=grad_norm)
        optimizer.apply_gradients(zip(grads, variables))
        return _batch_stats(x, y, mask, logits, loss_sum, tokens) | {"grad_norm": grad_norm}

    return step


def make_distributed_train_step(
    strategy: tf.distribute.Strategy,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    label_smoothing: float = 0.0,
    clip_norm: float = 0.0,
    skip_nonfinite: bool = False,
) -> Callable:
    """`make_train_step` for a `mirrored`/`multi_worker` strategy: `step(x, y, mask)` takes
    per-replica slices of one global batch (`Distribution.split`) and returns global sums.

    The loss minimized is the mean over the real target tokens of *all* replicas: each replica
    divides its summed token losses by the all-reduced token count, and the replicas' gradients
    are summed (neither the mean of per-replica means nor tf.distribute's per-replica B*T
    mean). The summed gradients are clipped by their global norm, the same on every replica.
    With `skip_nonfinite`, the update is applied only when that norm is finite.
    """
    variables = model.trainable_variables
    sum_ = tf.distribute.ReduceOp.SUM
    # Keras 3 optimizers sum gradients over replicas inside apply_gradients (there is no
    # switch); the step sums them itself, once, to clip by the norm of the sum.
    optimizer._all_reduce_sum_gradients = lambda grads_and_vars: list(grads_and_vars)

    def replica_step(x, y, mask):
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # (B_r, T, V)
            loss_sum, tokens = masked_cross_entropy(y, logits, mask, label_smoothing)
            all_tokens = tf.stop_gradient(context.all_reduce(sum_, tokens))
            loss = loss_sum / all_tokens  # this replica's share of the global mean
        # Dense: replicas' IndexedSlices (embeddings) differ in length, and their all-gather
        # failed with a shape mismatch between replicas (TF 2.21, 2 logical CPUs).
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
        grads = context.all_reduce(sum_, grads)
        grad_norm = tf.linalg.global_norm(grads)
        if clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=grad_norm)
        stats = _batch_stats(x, y, mask, logits, loss_sum, tokens)
        return grads, stats, grad_norm

    def apply(grads):
        optimizer.apply_gradients(zip(grads, variables))

    def apply_all(grads) -> tf.Tensor:
        strategy.run(apply, args=(grads,))
        return tf.constant(True)

    @tf.function(reduce_retracing=True)
    def step(x, y, mask):
        grads, stats, grad_norm = strategy.run(replica_step, args=(x, y, mask))
        grad_norm = strategy.experimental_local_results(grad_norm)[0]  # same on every replica
        if skip_nonfinite:  # a cond around strategy.run: not inside it (a merge_call in a cond)
            tf.cond(
                tf.math.is_finite(grad_norm), lambda: apply_all(grads), lambda: tf.constant(False)
            )
        else:
            apply_all(grads)
        out = {k: strategy.reduce(sum_, v, axis=None) for k, v in stats.items()}
        return out | {"grad_norm": grad_norm}

    return step


def make_eval_step(model: keras.Model) -> Callable:
    """A tf.function `step(x, y, mask) -> dict` of sums (see make_train_step), no update."""

    @tf.function(input_signature=BATCH_SIGNATURE)
    def step(x, y, mask):
        logits = model(x, training=False)
        loss_sum, tokens = masked_cross_entropy(y, logits, mask, 0.0)
        return _batch_stats(x, y, mask, logits, loss_sum, tokens)

    return step


def _batch_stats(x, y, mask, logits, loss_sum, tokens) -> dict:
    correct, _ = token_accuracy(y, logits, mask)
    return {
        "loss_sum": loss_sum,
        "correct": tf.cast(correct, tf.float32),
        "tokens": tf.cast(tokens, tf.float32),
        "positions": tf.cast(tf.size(mask), tf.float32),
        "source_tokens": tf.reduce_sum(tf.cast(x[SOURCE_PADDING_MASK], tf.float32)),
        "source_positions": tf.cast(tf.size(x[SOURCE_PADDING_MASK]), tf.float32),
        "examples": tf.cast(tf.shape(y)[0], tf.float32),
    }


def select_inputs(x: dict) -> dict:
    """The four model inputs of a batch dict (drops e.g. EXAMPLE_INDEX)."""
    return {k: x[k] for k in BATCH_KEYS}
