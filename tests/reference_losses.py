"""Reference forms of the training losses and metrics over whole (B, T, V) logits, for tests
only: the package computes both over the real positions alone (`real_token_cross_entropy`,
`real_token_correct`), and the tests check it against these."""

import tensorflow as tf

from seq2seq.training.losses import masked_cross_entropy


def masked_cross_entropy_mean(y_true, logits, mask, label_smoothing=0.0):
    """Mean cross-entropy per real token: sum / max(count, 1), float32 scalar."""
    loss_sum, num_tokens = masked_cross_entropy(y_true, logits, mask, label_smoothing)
    return loss_sum / tf.maximum(num_tokens, 1.0)


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
