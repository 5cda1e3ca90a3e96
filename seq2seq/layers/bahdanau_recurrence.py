"""The Bahdanau decoder's teacher-forced recurrence with a hand-written gradient (`rnn=fused`).

Same math as `BahdanauDecoder._recur` with additive attention, stepped over a whole target
sequence. Automatic differentiation of that step loop computes every weight gradient inside the
loop: per step, one small (K, B) x (B, N) matmul per weight, summed with AddN, plus a zero-filled
tensor for every slice. Here the backward loop computes only what flows between steps (the
gradients of the states, the fed vector and the memory) and keeps each matmul's output
gradient; after the loop each weight gradient is one large matmul over all T x B rows.

Everything is time-major; L = decoder layers, H = units, E = embedding size, A = attention
units, H_mem = memory size. A padded step (keep = 0) holds every state and the fed vector, as
`BahdanauDecoder.call` does. TensorFlow backend (`tf.while_loop`, `tf.custom_gradient`).
"""

from typing import NamedTuple

import tensorflow as tf

from seq2seq.layers.attention_base import masked_softmax
from seq2seq.layers.bahdanau_attention import additive_scores
from seq2seq.layers.gru_math import gru_gates


class Weights(NamedTuple):
    """The recurrence's weights as tensors of the compute dtype."""

    query: object  # (H, A) attention query projection (no bias)
    energy: object  # (A,) attention energy vector
    kernels: tuple  # L x (In_l, 3H) GRU input kernels; In_0 = E + H_mem [+ H]
    input_biases: tuple  # L x (3H,)
    recurrent_kernels: tuple  # L x (H, 3H)
    recurrent_biases: tuple  # L x (3H,)
    attentional: object  # (H_mem + H, H) h~ = tanh([c; s^L] W)


class _Saved(NamedTuple):
    """What the forward loop keeps for the backward one; every field (T, B, ...)."""

    states: tuple  # L x (T, B, H) held states after each step
    outputs: tuple  # L x (T, B, H) each layer's cell output (unheld)
    gates: tuple  # L x (T, B, 2H) update and reset gates
    candidates: tuple  # L x (T, B, H) candidate states n
    candidate_h: tuple  # L x (T, B, H) s U_n + b_n (before the reset gate)
    h_tilde: object  # (T, B, H) unheld attentional vectors
    fed: object  # (T, B, H) held attentional vectors (what the next step is fed)
    hidden: object  # (T, B, S, A) tanh(q W_q + keys), the attention's hidden layer
    contexts: object  # (T, B, H_mem)
    weights: object  # (T, B, S)


def _stack(arrays):
    return tuple(array.stack() for array in arrays)


def _arrays(count, steps, dtype):
    return [tf.TensorArray(dtype, size=steps) for _ in range(count)]


def _attend(query_state, keys, memory, memory_mask, w):
    """`BahdanauAttention.attend` on weight tensors: query_state (B, H) -> hidden layer
    (B, S, A), context (B, H_mem), weights (B, S), exactly 0 at padded memory positions."""
    hidden, scores = additive_scores(query_state, keys, w.query, w.energy)  # (B, S, A), (B, S)
    weights = masked_softmax(scores, memory_mask)  # (B, S)
    context = tf.linalg.matvec(memory, weights, transpose_a=True)  # (B, H_mem)
    return hidden, context, weights


def _gru(x, state, kernel, input_bias, recurrent_kernel, recurrent_bias):
    """One Keras GRUCell step (reset_after): -> new state, gates (B, 2H), n, s U_n + b_n."""
    gates, candidate, candidate_h = gru_gates(
        state, tf.matmul(x, kernel) + input_bias, recurrent_kernel, recurrent_bias
    )
    update = gates[:, : state.shape[-1]]
    return update * state + (1.0 - update) * candidate, gates, candidate, candidate_h


def _forward(inputs, w):
    """The step loop; inputs: embedded (T, B, E), keep (T, B, 1), drops (L-1) x (T, B, H),
    states L x (B, H), feed (B, H) or None, keys, memory, memory_mask -> _Saved."""
    embedded, keep, drops, states, feed, keys, memory, memory_mask = inputs
    layers, steps, dtype = len(states), tf.shape(embedded)[0], embedded.dtype
    feeding = feed is not None
    if not feeding:
        feed = tf.zeros_like(states[-1])
    out = [_arrays(layers, steps, dtype) for _ in range(5)] + _arrays(5, steps, dtype)

    def body(t, states, feed, out):
        hidden, context, weights = _attend(states[-1], keys, memory, memory_mask, w)
        parts = [embedded[t], context] + ([feed] if feeding else [])
        x = tf.concat(parts, axis=-1)
        keep_t = keep[t] > 0.5  # (B, 1)
        new_states, layer_out = [], [[] for _ in range(4)]
        for index in range(layers):
            if index > 0 and drops:
                x = x * drops[index - 1][t]
            x, *rest = _gru(
                x,
                states[index],
                w.kernels[index],
                w.input_biases[index],
                w.recurrent_kernels[index],
                w.recurrent_biases[index],
            )
            for values, value in zip(layer_out, [x, *rest]):
                values.append(value)
            new_states.append(tf.where(keep_t, x, states[index]))
        h_tilde = tf.tanh(tf.matmul(tf.concat([context, x], axis=-1), w.attentional))
        new_feed = tf.where(keep_t, h_tilde, feed)
        per_layer = [new_states, *layer_out]
        out = [
            [array.write(t, value) for array, value in zip(arrays, values)]
            for arrays, values in zip(out[:5], per_layer)
        ] + [
            array.write(t, value)
            for array, value in zip(out[5:], [h_tilde, new_feed, hidden, context, weights])
        ]
        return t + 1, tuple(new_states), new_feed, out

    _, _, _, out = tf.while_loop(
        lambda t, *_: t < steps, body, (0, tuple(states), feed, out), parallel_iterations=1
    )
    return _Saved(*[_stack(arrays) for arrays in out[:5]], *[array.stack() for array in out[5:]])


def _shifted(sequence, first):
    """(T, B, ...) values after each step -> the values before each step."""
    return tf.concat([first[None], sequence[:-1]], axis=0)


def _gru_backward(grad, prev, gates, candidate, candidate_h):
    """Gradients of one GRUCell step's output `grad` (B, H) -> (d x_proj, d h_proj) (B, 3H)
    and the direct part of d prev (B, H)."""
    units = prev.shape[-1]
    update, reset = gates[:, :units], gates[:, units:]
    d_candidate = tf.raw_ops.TanhGrad(y=candidate, dy=grad * (1.0 - update))
    d_gates = tf.raw_ops.SigmoidGrad(
        y=gates, dy=tf.concat([grad * (prev - candidate), d_candidate * candidate_h], axis=-1)
    )
    d_x = tf.concat([d_gates, d_candidate], axis=-1)
    d_h = tf.concat([d_gates, d_candidate * reset], axis=-1)
    return d_x, d_h, grad * update


def _attention_backward(d_context, d_weights, weights, hidden, memory, energy):
    """One step of additive attention backwards: d context (B, H_mem), d weights (B, S) ->
    d scores (B, S), d (q W_q + keys) (B, S, A). Padded positions (weight 0) get 0."""
    d_att = tf.linalg.matvec(memory, d_context) + d_weights  # (B, S)
    d_scores = weights * (d_att - tf.reduce_sum(weights * d_att, axis=-1, keepdims=True))
    return d_scores, tf.raw_ops.TanhGrad(y=hidden, dy=d_scores[:, :, None] * energy)


def _backward(inputs, w, saved, d_fed, d_weights):
    """The reverse step loop: gradients of the held attentional vectors d_fed (T, B, H) and of
    the attention weights d_weights (T, B, S) -> per-step gradients (d x_proj, d h_proj per
    layer, d embedded, d u, d query, d context, d scores; each (T, B, ...)), the gradients of
    the initial states and feed and of the keys, and the states before each step."""
    embedded, keep, drops, states, feed, keys, memory, memory_mask = inputs
    layers, steps, dtype = len(states), tf.shape(embedded)[0], embedded.dtype
    feeding, emb_dim, mem_dim = feed is not None, embedded.shape[-1], memory.shape[-1]
    if not feeding:
        feed = tf.zeros_like(states[-1])
    prev_states = [_shifted(s, first) for s, first in zip(saved.states, states)]
    prev_fed = _shifted(saved.fed, feed)
    # transposed once here, not at every step
    kernels_t = [tf.transpose(k) for k in w.kernels]
    recurrent_t = [tf.transpose(k) for k in w.recurrent_kernels]
    attentional_t, query_t = tf.transpose(w.attentional), tf.transpose(w.query)
    out = [_arrays(layers, steps, dtype) for _ in range(2)] + _arrays(5, steps, dtype)

    def body(t, d_states, d_feed, d_keys, out):
        keep_t = keep[t]  # (B, 1) 1.0 = real step
        d_feed = d_feed + d_fed[t]
        d_out = [keep_t * d for d in d_states]  # into the cell outputs
        d_prev = [d - kept for d, kept in zip(d_states, d_out)]  # held through a padded step
        kept_feed = keep_t * d_feed
        d_prev_feed = d_feed - kept_feed
        d_u = tf.raw_ops.TanhGrad(y=saved.h_tilde[t], dy=kept_feed)  # (B, H)
        d_cat = tf.matmul(d_u, attentional_t)
        d_context, d_out[-1] = d_cat[:, :mem_dim], d_out[-1] + d_cat[:, mem_dim:]
        d_xs, d_hs = [None] * layers, [None] * layers
        for index in reversed(range(layers)):
            d_xs[index], d_hs[index], direct = _gru_backward(
                d_out[index],
                prev_states[index][t],
                saved.gates[index][t],
                saved.candidates[index][t],
                saved.candidate_h[index][t],
            )
            d_prev[index] += direct + tf.matmul(d_hs[index], recurrent_t[index])
            d_x = tf.matmul(d_xs[index], kernels_t[index])
            if index > 0:
                d_out[index - 1] += d_x * drops[index - 1][t] if drops else d_x
        d_embedded = d_x[:, :emb_dim]
        d_context += d_x[:, emb_dim : emb_dim + mem_dim]
        if feeding:
            d_prev_feed += d_x[:, emb_dim + mem_dim :]
        d_scores, d_pre = _attention_backward(
            d_context, d_weights[t], saved.weights[t], saved.hidden[t], memory, w.energy
        )
        d_keys += d_pre  # (B, S, A)
        d_query = tf.reduce_sum(d_pre, axis=1)  # (B, A)
        d_prev[-1] += tf.matmul(d_query, query_t)
        out = [
            [array.write(t, value) for array, value in zip(out[0], d_xs)],
            [array.write(t, value) for array, value in zip(out[1], d_hs)],
        ] + [
            array.write(t, value)
            for array, value in zip(out[2:], [d_embedded, d_u, d_query, d_context, d_scores])
        ]
        return t - 1, tuple(d_prev), d_prev_feed, d_keys, out

    init = (
        steps - 1,
        tuple(tf.zeros_like(s) for s in states),
        tf.zeros_like(feed),
        tf.zeros_like(keys),
        out,
    )
    _, d_states, d_feed, d_keys, out = tf.while_loop(
        lambda t, *_: t >= 0, body, init, parallel_iterations=1
    )
    per_step = (_stack(out[0]), _stack(out[1]), *[array.stack() for array in out[2:]])
    return per_step, (d_states, d_feed, d_keys), prev_states, prev_fed


def _flat(x):
    return tf.reshape(x, [-1, x.shape[-1]])  # (T, B, N) -> (T * B, N)


def _outer(inputs, grads):
    """Sum over steps and rows of inputs^T grads: (T, B, K), (T, B, N) -> (K, N)."""
    return tf.matmul(_flat(inputs), _flat(grads), transpose_a=True)


def _weight_gradients(inputs, saved, per_step, prev_states, prev_fed):
    """Every weight's gradient in one matmul (or sum) over all T x B rows -> `Weights`."""
    embedded, _, drops, _, feed, _, _, _ = inputs
    d_xs, d_hs, _, d_u, d_query, _, d_scores = per_step
    first_input = [embedded, saved.contexts] + ([prev_fed] if feed is not None else [])
    layer_inputs = [tf.concat(first_input, axis=-1)] + [
        output * drops[index] if drops else output
        for index, output in enumerate(saved.outputs[:-1])
    ]
    hidden = saved.hidden
    return Weights(
        query=_outer(prev_states[-1], d_query),
        energy=tf.tensordot(
            tf.reshape(d_scores, [-1]), tf.reshape(hidden, [-1, hidden.shape[-1]]), 1
        ),
        kernels=tuple(_outer(x, d) for x, d in zip(layer_inputs, d_xs)),
        input_biases=tuple(tf.reduce_sum(d, axis=[0, 1]) for d in d_xs),
        recurrent_kernels=tuple(_outer(p, d) for p, d in zip(prev_states, d_hs)),
        recurrent_biases=tuple(tf.reduce_sum(d, axis=[0, 1]) for d in d_hs),
        attentional=_outer(tf.concat([saved.contexts, saved.outputs[-1]], axis=-1), d_u),
    )


def _memory_gradient(saved, d_contexts):
    """Sum over steps of weights^T d_context: (T, B, S), (T, B, H_mem) -> (B, S, H_mem)."""
    weights = tf.transpose(saved.weights, (1, 2, 0))  # (B, S, T)
    return tf.matmul(weights, tf.transpose(d_contexts, (1, 0, 2)))  # (B, S, H_mem)


def bahdanau_recurrence(embedded, keep, drops, states, feed, keys, memory, memory_mask, weights):
    """Teacher-forced Bahdanau decoder steps with additive attention.

    Args:
        embedded: (T, B, E) target input embeddings.
        keep: (T, B, 1) 1.0 at real steps, 0.0 at padded ones (the states are held there).
        drops: L-1 tensors (T, B, H), dropout masks between the GRU layers, or () for none.
        states: L tensors (B, H), the initial layer states.
        feed: (B, H) the initial fed attentional vector, or None without input feeding.
        keys: (B, S, A) projected memory; memory: (B, S, H_mem) encoder outputs.
        memory_mask: bool (B, S), True = real position (no gradient).
        weights: `Weights` of the same dtype as embedded.

    Returns:
        fed: (T, B, H) the attentional vector after each step (held at padded steps).
        attention: (T, B, S) the attention weights of each step.
    """
    layers, dropped, feeding = len(states), len(drops), feed is not None
    flat_weights = tf.nest.flatten(weights)

    @tf.custom_gradient
    def run(*tensors):
        tensors = list(tensors)
        take = lambda count: [tensors.pop(0) for _ in range(count)]  # noqa: E731
        embedded, keep = take(2)
        drops, states = tuple(take(dropped)), tuple(take(layers))
        feed = take(1)[0] if feeding else None
        keys, memory = take(2)
        w = tf.nest.pack_sequence_as(weights, tensors)
        inputs = (embedded, keep, drops, states, feed, keys, memory, memory_mask)
        saved = _forward(inputs, w)

        def grad(d_fed, d_attention):
            d_fed = tf.zeros_like(saved.fed) if d_fed is None else d_fed
            if d_attention is None:
                d_attention = tf.zeros_like(saved.weights)
            per_step, totals, prev_states, prev_fed = _backward(
                inputs, w, saved, d_fed, d_attention
            )
            d_states, d_feed, d_keys = totals
            d_weights = _weight_gradients(inputs, saved, per_step, prev_states, prev_fed)
            d_memory = _memory_gradient(saved, per_step[5])
            return (
                [per_step[2], None]
                + [None] * dropped
                + list(d_states)
                + ([d_feed] if feeding else [])
                + [d_keys, d_memory]
                + tf.nest.flatten(d_weights)
            )

        return (saved.fed, saved.weights), grad

    flat_inputs = [embedded, keep, *drops, *states] + ([feed] if feeding else []) + [keys, memory]
    return run(*flat_inputs, *flat_weights)
