"""The gate math of one Keras GRUCell step (reset_after=True), shared by the fused loops."""

import tensorflow as tf


def gru_gates(h, x_t, recurrent_kernel, recurrent_bias):
    """One step's gates: h (B, H), x_t (B, 3H) = x W + b_x, recurrent_kernel U (H, 3H),
    recurrent_bias b_h (3H,) -> update/reset (B, 2H), candidate (B, H), h U_h + b_h (B, H).

    The new state is update * h + (1 - update) * candidate, as in `keras.layers.GRUCell`."""
    units = recurrent_kernel.shape[0]
    h_proj = tf.matmul(h, recurrent_kernel) + recurrent_bias  # (B, 3H)
    zr = tf.sigmoid(x_t[:, : 2 * units] + h_proj[:, : 2 * units])  # (B, 2H)
    candidate_h = h_proj[:, 2 * units :]  # (B, H)
    candidate = tf.tanh(x_t[:, 2 * units :] + zr[:, units:] * candidate_h)  # (B, H)
    return zr, candidate, candidate_h
