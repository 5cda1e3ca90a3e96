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
from seq2seq.training.losses import real_token_cross_entropy
from seq2seq.training.metrics import real_token_correct

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
            logits, labels = real_token_outputs(model, x, y, training=True)  # (N, V), (N,)
            loss_sum, tokens = real_token_cross_entropy(labels, logits, label_smoothing)
            loss = loss_sum / tokens
        grads = tape.gradient(loss, variables)
        grad_norm = tf.linalg.global_norm(grads)
        if clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=grad_norm)
        optimizer.apply_gradients(zip(grads, variables))
        stats = batch_stats(x, y, mask, real_token_correct(labels, logits), loss_sum, tokens)
        return stats | {"grad_norm": grad_norm}

    return step


def make_eval_step(model: keras.Model) -> Callable:
    """A tf.function `step(x, y, mask) -> dict` of sums (see make_train_step), no update."""

    @tf.function(input_signature=BATCH_SIGNATURE)
    def step(x, y, mask):
        logits, labels = real_token_outputs(model, x, y, training=False)
        loss_sum, tokens = real_token_cross_entropy(labels, logits, 0.0)
        return batch_stats(x, y, mask, real_token_correct(labels, logits), loss_sum, tokens)

    return step


def real_token_outputs(model, x, y, training):
    """Logits (N, V) at the batch's N real target positions and their labels int (N,)."""
    logits, positions = model.real_token_logits(x, training=training)
    return logits, tf.gather_nd(y, positions)


def batch_stats(x, y, mask, correct, loss_sum, tokens) -> dict:
    """The step's sums (see make_train_step); correct: argmax hits over real tokens."""
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
