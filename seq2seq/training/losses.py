"""Cross-entropy over real target tokens only.

Returns (sum, count) so per-token means can be accumulated exactly across batches: Keras'
default `sample_weight` reduction divides by all B*T positions, padding included.
"""

import tensorflow as tf


def _per_token_cross_entropy(y_true, logits, label_smoothing):
    """y_true int (...) (in range), logits float32 (..., V) -> (...) float32."""
    if label_smoothing == 0.0:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=logits)
    log_probs = tf.nn.log_softmax(logits, axis=-1)  # (..., V)
    nll = -tf.gather(log_probs, y_true, axis=-1, batch_dims=y_true.shape.rank)  # (...)
    uniform = -tf.reduce_mean(log_probs, axis=-1)  # (...): cross-entropy with uniform q
    return (1.0 - label_smoothing) * nll + label_smoothing * uniform


def _check_smoothing(label_smoothing):
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")


def _sum(per_token):
    # Summed in float64: the float32 result then hardly depends on the batch's shape (the
    # summation order), so a sequence's loss is the same alone or padded into any batch.
    return tf.cast(tf.reduce_sum(tf.cast(per_token, tf.float64)), tf.float32)


def real_token_cross_entropy(labels, logits, label_smoothing=0.0):
    """`masked_cross_entropy` of the real tokens alone (`Seq2Seq.real_token_logits`): labels
    int (N,), logits float (N, V) (computed in float32) -> loss_sum, num_tokens (float32
    scalars). What training uses: nothing is computed at padded positions."""
    _check_smoothing(label_smoothing)
    logits = tf.cast(logits, tf.float32)  # (N, V)
    per_token = _per_token_cross_entropy(tf.cast(labels, tf.int32), logits, label_smoothing)
    return _sum(per_token), tf.cast(tf.shape(labels)[0], tf.float32)


def masked_cross_entropy(y_true, logits, mask, label_smoothing=0.0):
    """Summed token cross-entropy over real positions.

    The target distribution is (1 - eps) * one_hot(y) + eps / V (Keras' label smoothing).
    Padded positions contribute nothing to the value or the gradient, whatever their labels
    (even out-of-range ids) or logits hold.

    Args:
        y_true: int (B, T) target ids.
        logits: float (B, T, V) (any float dtype; computed in float32).
        mask: bool (B, T), True = real token.
        label_smoothing: eps in [0, 1).

    Returns:
        loss_sum: float32 scalar, sum of per-token losses over real tokens.
        num_tokens: float32 scalar, number of real tokens.
    """
    _check_smoothing(label_smoothing)
    mask = tf.cast(mask, tf.bool)  # (B, T)
    logits = tf.cast(logits, tf.float32)  # (B, T, V)
    labels = tf.where(mask, tf.cast(y_true, tf.int32), 0)  # (B, T), padding -> a valid id
    per_token = _per_token_cross_entropy(labels, logits, label_smoothing)  # (B, T)
    per_token = tf.where(mask, per_token, 0.0)  # (B, T); zero value and zero gradient
    return _sum(per_token), tf.reduce_sum(tf.cast(mask, tf.float32))
