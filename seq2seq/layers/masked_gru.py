"""A GRU for right-padded, masked batches that is fast on the CPU (`model.rnn=fused`).

Same math and weights as `keras.layers.GRU(reset_after=True)` (it holds a `keras.layers.GRUCell`
as `cell`, so checkpoints load either way and `cell` serves single decoding steps), computed as
Keras' CPU loop cannot: the input projection `x W + b_x` of every step in one matmul, then a
loop over the recurrent part only (`h U + b_h` and the gate math). Keras 3's CPU GRU does the
input matmul inside its per-step loop (`GRUCell.call` in keras/src/layers/rnn/gru.py).

The recurrence runs in a C++ kernel (`kernels/gru_sequence.cc`, built by `make`: the whole
time loop in one op, gate math fused per step) when its library is there, and in plain
TensorFlow ops (`tf.scan`) otherwise; both have hand-written backward passes and give the same
numbers. This is a TensorFlow-backend layer (`tf.scan`, `tf.reverse_sequence`, a custom op).
On a GPU use `model.rnn=keras` (cuDNN).
"""

import logging

import keras
import tensorflow as tf

from seq2seq.layers.kernels.build import LIBRARY

log = logging.getLogger(__name__)


def _load_kernels():
    """The compiled fused-GRU ops, or None (then plain TensorFlow ops are used)."""
    if not LIBRARY.exists():
        return None
    try:
        return tf.load_op_library(str(LIBRARY))
    except (tf.errors.NotFoundError, OSError) as exc:  # built for another TensorFlow
        log.warning("fused GRU kernel %s not loaded (%s); rebuild with `make`", LIBRARY, exc)
        return None


KERNELS = _load_kernels()
# Which recurrence `MaskedGRU` runs: "kernel" (C++) or "tensorflow" (tf.scan); tests set it.
IMPLEMENTATION = "kernel" if KERNELS is not None else "tensorflow"


@keras.saving.register_keras_serializable(package="seq2seq")
class MaskedGRU(keras.layers.Layer):
    """One GRU layer over a right-padded batch; a padded step keeps the state.

    Args:
        units: H.
        parallel: split each step of the kernel over the intra-op threads (best when nothing
            runs beside it); False runs it on one thread without per-step synchronisation
            (best for the two directions of `MaskedBiGRU`, which then run side by side).

    Call args:
        inputs: (B, T, E).
        mask: bool (B, T), True = real step, right padding only.
        initial_state: (B, H) or None (zeros).
        training: unused (no recurrent dropout), kept for the Keras signature.

    Returns:
        outputs: (B, T, H), the state after each real step, exactly 0 at padded steps.
        state: (B, H), the state after the row's last real step.
    """

    def __init__(self, units, parallel=True, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.parallel = parallel
        self.cell = keras.layers.GRUCell(units, name="gru_cell")

    def build(self, inputs_shape, mask_shape=None):
        self.cell.build((None, inputs_shape[-1]))
        self.built = True

    def call(self, inputs, mask, initial_state=None, training=False):
        cell = self.cell
        # (B, T, 3H): all steps in one 2-D matmul. Not tf.matmul on the 3-D inputs: that is a
        # BatchMatMulV2 whose kernel gradient is B small matmuls and a sum over a (B, E, 3H)
        # tensor (it made the layer's backward pass 1.7x slower).
        projected = tf.tensordot(inputs, cell.kernel, axes=1) + cell.bias[0]
        keep = tf.cast(mask, projected.dtype)  # (B, T)
        if initial_state is None:
            initial_state = tf.zeros([tf.shape(inputs)[0], self.units], projected.dtype)
        recurrent_kernel = tf.convert_to_tensor(cell.recurrent_kernel)
        args = (projected, keep, initial_state, recurrent_kernel, cell.bias[1])
        if IMPLEMENTATION != "kernel":
            return _tf_sequence(*args)
        sequence = _kernel_sequence_parallel if self.parallel else _kernel_sequence_serial
        if projected.dtype == tf.float32:
            return sequence(*args)
        # Mixed precision: the kernel runs the recurrence in float32 (the state is not rounded
        # to bfloat16 at every step); the input projection above ran in the policy's dtype.
        outputs, state = sequence(*(tf.cast(a, tf.float32) for a in args))
        return tf.cast(outputs, projected.dtype), tf.cast(state, projected.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "parallel": self.parallel})
        return config


def _last_real(states, keep):
    """The state after each row's last real step: states (T, B, H), keep (T, B, 1) -> (B, H).

    Every row has at least one real step (no all-padding rows)."""
    lengths = tf.cast(tf.reduce_sum(keep[:, :, 0], axis=0), tf.int32)  # (B,)
    rows = tf.range(tf.shape(lengths)[0])
    return tf.gather_nd(states, tf.stack([tf.maximum(lengths - 1, 0), rows], axis=1))


def _gates(h, x_t, recurrent_kernel, recurrent_bias):
    """One step's gates: h (B, H), x_t (B, 3H) = x W + b_x -> update/reset (B, 2H),
    candidate (B, H), h U_h + b_h (B, H)."""
    units = recurrent_kernel.shape[0]
    h_proj = tf.matmul(h, recurrent_kernel) + recurrent_bias  # (B, 3H)
    zr = tf.sigmoid(x_t[:, : 2 * units] + h_proj[:, : 2 * units])  # (B, 2H)
    candidate_h = h_proj[:, 2 * units :]  # (B, H)
    candidate = tf.tanh(x_t[:, 2 * units :] + zr[:, units:] * candidate_h)  # (B, H)
    return zr, candidate, candidate_h


def _kernel_sequence(parallel: bool):
    """The recurrence in the C++ kernels, as a function with a custom gradient.

    The function's args: projected (B, T, 3H) = x W + b_x; keep (B, T) 1.0 = real step;
    initial_state (B, H); recurrent_kernel U (H, 3H); recurrent_bias b_h (3H,).
    It returns outputs (B, T, H), 0 at padded steps, and the state after the last real step
    (B, H).
    """

    @tf.custom_gradient
    def sequence(projected, keep, initial_state, recurrent_kernel, recurrent_bias):
        outputs, final_state, gates, candidates, candidate_h = KERNELS.seq2seq_gru_sequence(
            projected, keep, initial_state, recurrent_kernel, recurrent_bias, parallel=parallel
        )

        def grad(d_outputs, d_final_state):
            if d_outputs is None:  # an output the loss does not use
                d_outputs = tf.zeros_like(outputs)
            if d_final_state is None:
                d_final_state = tf.zeros_like(final_state)
            d_projected, d_initial, d_kernel, d_bias = KERNELS.seq2seq_gru_sequence_grad(
                d_outputs, d_final_state, outputs, initial_state, gates, candidates,
                candidate_h, keep, recurrent_kernel, parallel=parallel,
            )  # fmt: skip
            return d_projected, None, d_initial, d_kernel, d_bias

        return (outputs, final_state), grad

    return sequence


_kernel_sequence_parallel = _kernel_sequence(parallel=True)
_kernel_sequence_serial = _kernel_sequence(parallel=False)


def _tf_sequence(projected, keep, initial_state, recurrent_kernel, recurrent_bias):
    """`_kernel_sequence`'s function in plain TensorFlow ops (same args, returns, gradients)."""
    time_major = tf.transpose(projected, (1, 0, 2))  # (T, B, 3H)
    keep = tf.transpose(keep, (1, 0))[:, :, None]  # (T, B, 1)
    states = _recurrence(time_major, keep, initial_state, recurrent_kernel, recurrent_bias)
    outputs = tf.transpose(states * keep, (1, 0, 2))  # (B, T, H), 0 at padding
    return outputs, _last_real(states, keep)


def _recurrent_weight_grads(previous, d_h_proj):
    """dL/dU (H, 3H) and dL/db_h (3H,) over all steps: previous (T, B, H), d_h_proj (T, B, 3H)."""
    units = previous.shape[-1]
    flat = tf.reshape(d_h_proj, [-1, 3 * units])  # (T B, 3H)
    d_kernel = tf.matmul(tf.reshape(previous, [-1, units]), flat, transpose_a=True)
    return d_kernel, tf.reduce_sum(flat, axis=0)


@tf.custom_gradient
def _recurrence(projected, keep, initial_state, recurrent_kernel, recurrent_bias):
    """The GRU recurrence over precomputed input projections, with a hand-written backward pass.

    Args: projected (T, B, 3H) = x W + b_x; keep (T, B, 1) 1.0 = real step; initial_state
    (B, H); recurrent_kernel U (H, 3H); recurrent_bias b_h (3H,).
    Returns the state after every step (T, B, H); a padded step repeats the previous state.

    Autodiff through the loop would compute the weight gradients step by step (a small
    matmul and an accumulation per step) and keep every intermediate in TensorArrays; here the
    backward loop only carries dL/dh, and dL/dU, dL/db_h come from one matmul over all steps.
    """
    units = recurrent_kernel.shape[0]

    def step(carry, elems):
        h = carry[0]
        x_t, keep_t = elems
        zr, candidate, candidate_h = _gates(h, x_t, recurrent_kernel, recurrent_bias)
        new = candidate + zr[:, :units] * (h - candidate)  # z h + (1 - z) candidate
        return h + keep_t * (new - h), zr, candidate, candidate_h

    batch = tf.shape(initial_state)[0]
    dtype = projected.dtype
    init = (
        initial_state,
        tf.zeros([batch, 2 * units], dtype),
        tf.zeros([batch, units], dtype),
        tf.zeros([batch, units], dtype),
    )
    states, zrs, candidates, candidate_hs = tf.scan(step, (projected, keep), initializer=init)

    def grad(d_states):
        previous = tf.concat([initial_state[None], states[:-1]], axis=0)  # (T, B, H)
        recurrent_kernel_t = tf.transpose(recurrent_kernel)  # (3H, H)

        def back(carry, elems):
            d_h_next = carry[0]
            d_state, zr, candidate, candidate_h, h, keep_t = elems
            d_out = d_state + d_h_next  # dL/d(state_t)
            d_new = keep_t * d_out
            z, r = zr[:, :units], zr[:, units:]
            d_a_h = d_new * (1.0 - z) * (1.0 - candidate * candidate)  # candidate pre-tanh
            d_zr = tf.concat([d_new * (h - candidate), d_a_h * candidate_h], axis=1)
            d_a_zr = d_zr * zr * (1.0 - zr)  # update/reset pre-sigmoid (B, 2H)
            d_h_proj = tf.concat([d_a_zr, d_a_h * r], axis=1)  # (B, 3H)
            d_h = d_out - d_new + d_new * z + tf.matmul(d_h_proj, recurrent_kernel_t)
            return d_h, d_h_proj, d_a_h

        init = (
            tf.zeros_like(initial_state),
            tf.zeros([batch, 3 * units], dtype),
            tf.zeros([batch, units], dtype),
        )
        d_h, d_h_proj, d_a_h = tf.scan(
            back, (d_states, zrs, candidates, candidate_hs, previous, keep), init, reverse=True
        )
        d_projected = tf.concat([d_h_proj[:, :, : 2 * units], d_a_h], axis=2)  # (T, B, 3H)
        return (d_projected, None, d_h[0]) + _recurrent_weight_grads(previous, d_h_proj)

    return states, grad


@keras.saving.register_keras_serializable(package="seq2seq")
class MaskedBiGRU(keras.layers.Layer):
    """Both directions of a `MaskedGRU` layer; the backward one reads each row's *real* tokens
    in reverse (`tf.reverse_sequence`), so right padding never reaches it.

    Weights sit where `keras.layers.Bidirectional(GRU)` keeps them (`forward_layer.cell`,
    `backward_layer.cell`), so checkpoints load either way.

    Args:
        units: H per direction.
        merge_mode: "concat" (outputs 2H) or "sum" (outputs H).

    Call args: as `MaskedGRU` (no initial state).

    Returns:
        outputs: (B, T, H_out), 0 at padded steps; forward state (B, H); backward state (B, H)
        (after the row's first token), like `Bidirectional(GRU(return_state=True))`.
    """

    def __init__(self, units, merge_mode="concat", **kwargs):
        super().__init__(**kwargs)
        if merge_mode not in ("concat", "sum"):
            raise ValueError(f"merge_mode must be concat or sum, got {merge_mode!r}")
        self.units = units
        self.merge_mode = merge_mode
        # One thread each: the two directions are independent ops that run side by side.
        self.forward_layer = MaskedGRU(units, parallel=False, name="forward_gru")
        self.backward_layer = MaskedGRU(units, parallel=False, name="backward_gru")

    def build(self, inputs_shape, mask_shape=None):
        self.forward_layer.build(inputs_shape)
        self.backward_layer.build(inputs_shape)
        self.built = True

    def call(self, inputs, mask, training=False):
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # (B,)
        forward, forward_state = self.forward_layer(inputs, mask)

        def reverse(x):  # reverse each row's first `lengths` steps, padding stays in place
            return tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)

        backward, backward_state = self.backward_layer(reverse(inputs), mask)
        backward = reverse(backward)  # (B, T, H), aligned with the input again
        if self.merge_mode == "concat":
            outputs = tf.concat([forward, backward], axis=-1)
        else:
            outputs = forward + backward
        return outputs, forward_state, backward_state

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "merge_mode": self.merge_mode})
        return config
