"""`BahdanauDecoder(rnn="fused")` (`seq2seq.layers.bahdanau_recurrence`): the same logits,
attention and gradients as the Keras step loop on random padded batches (<= 1e-5,
property-based), with and without input feeding, one to three layers; the hand-written
gradient equals automatic differentiation of the same forward loop with dropout masks."""

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seq2seq.layers import bahdanau_recurrence as recurrence
from seq2seq.layers.bahdanau_decoder import BahdanauDecoder

TOLERANCE = 1e-5
PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VOCAB, EMBED, UNITS, MEMORY, ATTENTION = 11, 5, 6, 7, 4


@st.composite
def cases(draw):
    """(seed, target lengths, source lengths, layers, input_feeding); right padding, no
    empty row, sometimes extra all-padding columns."""
    seed = draw(st.integers(0, 2**31 - 1))
    batch = draw(st.integers(1, 4))
    targets = draw(st.lists(st.integers(1, 6), min_size=batch, max_size=batch))
    sources = draw(st.lists(st.integers(1, 5), min_size=batch, max_size=batch))
    return seed, targets, sources, draw(st.integers(1, 3)), draw(st.booleans())


def _mask(lengths, extra):
    return np.arange(max(lengths) + extra)[None, :] < np.array(lengths)[:, None]


def _decoders(layers, input_feeding, seed):
    """A Keras-loop and a fused decoder with the same random weights (biases included)."""
    pair = [
        BahdanauDecoder(
            VOCAB,
            EMBED,
            UNITS,
            num_layers=layers,
            attention="additive",
            attention_units=ATTENTION,
            input_feeding=input_feeding,
            dropout=0.0,
            rnn=rnn,
        )
        for rnn in ("keras", "fused")
    ]
    for decoder in pair:
        decoder.build((None, None), None, (None, None, MEMORY))
    rng = np.random.default_rng(seed)
    for source, target in zip(pair[0].weights, pair[1].weights, strict=True):
        source.assign(rng.uniform(-0.6, 0.6, source.shape).astype("float32"))
        target.assign(source)
    return pair


def _run(decoder, inputs):
    """Logits, attention and the gradients of a random projection of both w.r.t. the
    weights, the memory and the initial states."""
    ids, target_mask, memory, memory_mask, states = inputs
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([memory, *states])
        initial = decoder.initial_state(states)
        logits, attention = decoder(ids, target_mask, initial, memory, memory_mask)
        real = tf.cast(target_mask, tf.float32)[:, :, None]
        probe = tf.random.stateless_normal(tf.shape(logits), seed=[3, 4])
        probe_attention = tf.random.stateless_normal(tf.shape(attention), seed=[5, 6])
        loss = tf.reduce_sum(logits * probe * real) + tf.reduce_sum(
            attention * probe_attention * real
        )
    grads = tape.gradient(loss, [*decoder.trainable_weights, memory, *states])
    return [logits * real, attention * real] + [
        tf.convert_to_tensor(g) if g is not None else tf.zeros(()) for g in grads
    ]


@PROPERTY
@given(case=cases())
def test_fused_decoder_matches_the_keras_step_loop(case):
    seed, targets, sources, layers, input_feeding = case
    rng = np.random.default_rng(seed)
    target_mask = _mask(targets, seed % 2)
    memory_mask = _mask(sources, seed % 3 == 0)
    ids = np.where(target_mask, rng.integers(1, VOCAB, target_mask.shape), 0)
    memory = rng.normal(size=(*memory_mask.shape, MEMORY)) * memory_mask[:, :, None]
    states = [
        tf.constant(rng.normal(size=(len(targets), UNITS)), tf.float32) for _ in range(layers)
    ]
    inputs = (
        tf.constant(ids, tf.int32),
        tf.constant(target_mask),
        tf.constant(memory, tf.float32),
        tf.constant(memory_mask),
        states,
    )
    keras_loop, fused = (_run(d, inputs) for d in _decoders(layers, input_feeding, seed))
    for expected, actual in zip(keras_loop, fused, strict=True):
        np.testing.assert_allclose(actual, expected, atol=TOLERANCE, rtol=TOLERANCE)


def _random_inputs(rng, layers, feeding, steps=5, batch=3, sources=4):
    """bahdanau_recurrence's arguments with dropout masks (1/keep or 0) and padding."""
    keep = (np.arange(steps)[:, None] < rng.integers(1, steps + 1, batch)[None, :]).astype(
        "float32"
    )[:, :, None]
    memory_mask = np.arange(sources)[None, :] < rng.integers(1, sources + 1, batch)[:, None]
    normal = lambda *shape: tf.constant(rng.normal(size=shape), tf.float32)  # noqa: E731
    drops = tuple(
        tf.constant((rng.random((steps, batch, UNITS)) > 0.3) / 0.7, tf.float32)
        for _ in range(layers - 1)
    )
    first = EMBED + MEMORY + (UNITS if feeding else 0)
    weights = recurrence.Weights(
        query=normal(UNITS, ATTENTION),
        energy=normal(ATTENTION),
        kernels=tuple(normal(first if i == 0 else UNITS, 3 * UNITS) for i in range(layers)),
        input_biases=tuple(normal(3 * UNITS) for _ in range(layers)),
        recurrent_kernels=tuple(normal(UNITS, 3 * UNITS) for _ in range(layers)),
        recurrent_biases=tuple(normal(3 * UNITS) for _ in range(layers)),
        attentional=normal(MEMORY + UNITS, UNITS),
    )
    return (
        normal(steps, batch, EMBED),
        tf.constant(keep),
        drops,
        tuple(normal(batch, UNITS) for _ in range(layers)),
        normal(batch, UNITS) if feeding else None,
        normal(batch, sources, ATTENTION),
        normal(batch, sources, MEMORY) * memory_mask[:, :, None],
        tf.constant(memory_mask),
        weights,
    )


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), layers=st.integers(1, 3), feeding=st.booleans())
def test_hand_written_gradient_equals_autodiff_with_dropout_masks(seed, layers, feeding):
    args = _random_inputs(np.random.default_rng(seed), layers, feeding)
    embedded, keep, drops, states, feed, keys, memory, memory_mask, weights = args
    sources = [embedded, *states, keys, memory, *tf.nest.flatten(weights)]
    sources += [feed] if feeding else []

    def loss_of(fed, attention):
        probe = tf.random.stateless_normal(tf.shape(fed), seed=[1, 2])
        return tf.reduce_sum(fed * probe) + tf.reduce_sum(attention * attention)

    with tf.GradientTape() as tape:
        tape.watch(sources)
        fused = recurrence.bahdanau_recurrence(*args)
        fused_loss = loss_of(*fused)
    with tf.GradientTape() as tape_reference:
        tape_reference.watch(sources)
        inputs = (embedded, keep, drops, states, feed, keys, memory, memory_mask)
        saved = recurrence._forward(inputs, weights)
        reference_loss = loss_of(saved.fed, saved.weights)
    np.testing.assert_allclose(fused_loss, reference_loss, rtol=1e-6)
    for actual, expected in zip(
        tape.gradient(fused_loss, sources),
        tape_reference.gradient(reference_loss, sources),
        strict=True,
    ):
        np.testing.assert_allclose(actual, expected, atol=TOLERANCE, rtol=TOLERANCE)
