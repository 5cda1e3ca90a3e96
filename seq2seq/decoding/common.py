"""Pieces shared by every search strategy: the output length limit, per-step log-probabilities,
the frozen extension of finished hypotheses and output lengths.

Output convention of every search: `ids` exclude BOS and include the EOS that ended a
hypothesis; every position after it is PAD_ID (0). A hypothesis stopped by the length limit has no
EOS. `lengths` count the tokens before EOS. Raw scores (`log_probs`) are the sum of the model's
log-probabilities of every non-pad output token (EOS included): they equal the teacher-forced
log-probability of the output. PAD and BOS are never generated.
"""

import tensorflow as tf

from seq2seq.constants import BOS_ID, EOS_ID, PAD_ID


def check_built(model) -> None:
    """Raise unless `model` (if it is a Keras model) has its weights: the graph-mode search loops
    cannot create variables."""
    if not getattr(model, "built", True):
        raise ValueError("search needs a built model: call it once or restore a checkpoint first")


def max_output_lengths(
    source_padding_mask: tf.Tensor, max_length_a: tf.Tensor, max_length_b: tf.Tensor
) -> tf.Tensor:
    """Per-sentence limit `max(1, floor(a * source_length + b))` on output tokens, EOS included.

    source_padding_mask: bool (B, S); source_length counts its True entries (source EOS included).
    Returns int32 (B,).
    """
    source_lengths = tf.reduce_sum(tf.cast(source_padding_mask, tf.float32), axis=1)  # (B,)
    limit = tf.floor(max_length_a * source_lengths + max_length_b)
    return tf.maximum(tf.cast(limit, tf.int32), 1)


def token_log_probs(logits: tf.Tensor) -> tf.Tensor:
    """Log-softmax of `logits` (R, V) in float32, with PAD and BOS set to -inf.

    The banned ids are not renormalized away, so every finite value is the model's own
    log-probability. Returns float32 (R, V).
    """
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    vocab_ids = tf.range(tf.shape(logits)[-1])
    banned = (vocab_ids == PAD_ID) | (vocab_ids == BOS_ID)  # (V,)
    return tf.where(banned[None, :], float("-inf"), log_probs)


def mask_finished(log_probs: tf.Tensor, finished: tf.Tensor) -> tf.Tensor:
    """Rows of `log_probs` (R, V) whose hypothesis is finished become 0 at PAD, -inf elsewhere:
    a finished hypothesis can only be extended by PAD, at no cost, so its score is frozen."""
    pad_only = tf.where(tf.range(tf.shape(log_probs)[1]) == PAD_ID, 0.0, float("-inf"))  # (V,)
    return tf.where(finished[:, None], pad_only[None, :], log_probs)


def output_lengths(ids: tf.Tensor) -> tf.Tensor:
    """Tokens before EOS of right-padded output `ids` int32 (..., L). Returns int32 (...)."""
    return tf.reduce_sum(tf.cast((ids != PAD_ID) & (ids != EOS_ID), tf.int32), axis=-1)
