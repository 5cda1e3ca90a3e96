"""Length normalization of hypothesis scores: `score = log_prob / penalty(num_tokens)`.

num_tokens counts the scored output tokens, EOS included.
- gnmt:    penalty = ((5 + num_tokens) / 6) ** alpha   (Wu et al. 2016; alpha=0 disables it)
- average: penalty = num_tokens                          (mean log-probability per token)
- none:    penalty = 1
"""

import tensorflow as tf

LENGTH_PENALTIES = ("gnmt", "average", "none")


def length_penalty(num_tokens: tf.Tensor, kind: str, alpha: float | tf.Tensor) -> tf.Tensor:
    """Penalty for int `num_tokens` of any shape. Returns float32 of the same shape."""
    lengths = tf.cast(num_tokens, tf.float32)
    if kind == "gnmt":
        return ((5.0 + lengths) / 6.0) ** tf.cast(alpha, tf.float32)
    if kind == "average":
        return lengths
    if kind == "none":
        return tf.ones_like(lengths)
    raise ValueError(f"length penalty must be one of {LENGTH_PENALTIES}, got {kind!r}")


def penalized_scores(
    log_probs: tf.Tensor, num_tokens: tf.Tensor, kind: str, alpha: float | tf.Tensor
) -> tf.Tensor:
    """`log_probs / length_penalty(num_tokens)`; float32, shapes broadcast."""
    return log_probs / length_penalty(num_tokens, kind, alpha)
