"""Token-level metrics over real tokens (validation sums them over a split: validation.py)."""

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


def real_token_correct(labels, logits):
    """Argmax hits of labels int (N,) under logits float (N, V) (`real_token_logits`):
    float32 scalar."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)  # (N,)
    return tf.reduce_sum(tf.cast(tf.equal(predicted, tf.cast(labels, tf.int32)), tf.float32))
