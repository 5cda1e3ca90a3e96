"""Token-level metrics over real tokens (validation sums them over a split: validation.py)."""

import tensorflow as tf


def real_token_correct(labels, logits):
    """Argmax hits of labels int (N,) under logits float (N, V) (`real_token_logits`):
    float32 scalar."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)  # (N,)
    return tf.reduce_sum(tf.cast(tf.equal(predicted, tf.cast(labels, tf.int32)), tf.float32))
