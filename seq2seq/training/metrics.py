"""Token-level metrics over real tokens: accuracy, perplexity and an exact running mean."""

import keras
import tensorflow as tf


def token_accuracy(y_true, logits, mask):
    """Argmax accuracy over real tokens.

    Args:
        y_true: int (B, T); logits: float (B, T, V); mask: bool (B, T), True = real token.

    Returns:
        correct_sum, num_tokens: float32 scalars.
    """
    mask = tf.cast(mask, tf.bool)  # (B, T)
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)  # (B, T)
    correct = tf.logical_and(mask, tf.equal(predicted, tf.cast(y_true, tf.int32)))  # (B, T)
    return tf.reduce_sum(tf.cast(correct, tf.float32)), tf.reduce_sum(tf.cast(mask, tf.float32))


def perplexity(loss_sum, num_tokens):
    """exp(mean real-token loss); pass the sums of the *unsmoothed* cross-entropy."""
    return tf.exp(tf.cast(loss_sum, tf.float32) / tf.maximum(tf.cast(num_tokens, tf.float32), 1.0))


@keras.saving.register_keras_serializable(package="seq2seq")
class TokenMean(keras.metrics.Metric):
    """Exact per-token mean over batches: accumulates (sum, count) pairs.

    `update_state(value_sum, num_tokens)` with float scalars (e.g. from `masked_cross_entropy`
    or `token_accuracy`); `result()` is total_sum / total_count (0 before any token).
    """

    def __init__(self, name="token_mean", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, value_sum, num_tokens):
        self.total.assign_add(tf.cast(value_sum, self.dtype))
        self.count.assign_add(tf.cast(num_tokens, self.dtype))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)
