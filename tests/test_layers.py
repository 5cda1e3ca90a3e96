"""Layer tests: encoder, attention, bridge and decoders — masking, shapes, cuDNN-eligible GRU
settings, clear errors, and get_config/from_config round trips."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.config.model import ModelConfig
from seq2seq.errors import ConfigError
from seq2seq.layers import (
    BahdanauAttention,
    BahdanauDecoder,
    Bridge,
    LuongAttention,
    LuongDecoder,
    MaskedGRUEncoder,
    make_attention,
)
from tests.model_helpers import randomize_weights, tiny_config

LENGTHS = [5, 2, 1]  # batch of 3, right padded to S = 5


def padding_mask(lengths, total):
    return tf.constant(np.arange(total)[None, :] < np.array(lengths)[:, None])


def random_ids(rng, shape, vocab=13):
    return tf.constant(rng.integers(0, vocab, shape).astype(np.int32))


def assert_round_trip(layer, run):
    """from_config(get_config()) (via JSON and the registered name) + same weights -> same
    outputs; `run(layer)` calls the layer."""
    expected = run(layer)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    assert config["registered_name"].startswith("seq2seq>")
    clone = keras.saving.deserialize_keras_object(config)
    run(clone)  # builds
    clone.set_weights(layer.get_weights())
    for a, b in zip(tf.nest.flatten(expected), tf.nest.flatten(run(clone))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --- Encoder ------------------------------------------------------------------------------


def encoder_and_inputs(seed=0, **kwargs):
    layer = MaskedGRUEncoder(13, 6, 4, **kwargs)
    rng = np.random.default_rng(seed)
    ids, mask = random_ids(rng, (3, 5)), padding_mask(LENGTHS, 5)
    layer(ids, mask)
    randomize_weights(layer, seed)
    return layer, ids, mask


@pytest.mark.parametrize(
    "kwargs, units",
    [
        (dict(), 4),
        (dict(bidirectional=True, num_layers=2), 8),
        (dict(bidirectional=True, merge_mode="sum"), 4),
    ],
)
def test_encoder_shapes_and_zero_memory_at_padding(kwargs, units):
    layer, ids, mask = encoder_and_inputs(**kwargs)
    memory, states = layer(ids, mask)
    assert layer.output_units == units
    assert memory.shape == (3, 5, units)
    assert len(states) == kwargs.get("num_layers", 1)
    assert all(s.shape == (3, units) for s in states)
    assert np.all(memory.numpy()[~mask.numpy()] == 0.0)


def test_encoder_final_states_are_the_last_real_outputs():
    layer, ids, mask = encoder_and_inputs(bidirectional=True)
    memory, (state,) = layer(ids, mask)
    memory, state = memory.numpy(), state.numpy()
    for row, length in enumerate(LENGTHS):
        np.testing.assert_allclose(state[row, :4], memory[row, length - 1, :4], atol=1e-6)
        np.testing.assert_allclose(state[row, 4:], memory[row, 0, 4:], atol=1e-6)


def test_encoder_ignores_padding_content_and_amount():
    layer, ids, mask = encoder_and_inputs(bidirectional=True, num_layers=2)
    memory, states = layer(ids, mask)
    garbage = np.random.default_rng(1).integers(0, 13, (3, 8)).astype(np.int32)
    garbage[:, :5] = np.where(mask.numpy(), ids.numpy(), garbage[:, :5])
    memory2, states2 = layer(tf.constant(garbage), padding_mask(LENGTHS, 8))
    real = mask.numpy()
    np.testing.assert_allclose(memory2.numpy()[:, :5][real], memory.numpy()[real], atol=1e-6)
    for a, b in zip(states, states2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def all_grus(layer):
    return [sub for sub in layer._flatten_layers() if isinstance(sub, keras.layers.GRU)]


def test_grus_keep_the_cudnn_eligible_settings():
    encoder, _, _ = encoder_and_inputs(bidirectional=True, num_layers=2)
    decoder = LuongDecoder(17, 6, 8, num_layers=2)
    grus = all_grus(encoder) + decoder.grus
    assert len(grus) == 6
    for gru in grus:
        cell = gru.cell
        assert cell.activation is keras.activations.tanh
        assert cell.recurrent_activation is keras.activations.sigmoid
        assert (cell.recurrent_dropout, cell.use_bias, cell.reset_after) == (0, True, True)
        assert gru.unroll is False and gru.use_cudnn in ("auto", True)


def test_encoder_round_trip():
    layer, ids, mask = encoder_and_inputs(bidirectional=True, num_layers=2, dropout=0.2)
    assert_round_trip(layer, lambda layer_: layer_(ids, mask))


# --- Attention ----------------------------------------------------------------------------


def attention_layer(kind, seed=0):
    layer = make_attention(kind, units=5)
    layer.build((None, 8), (None, None, 8))
    randomize_weights(layer, seed)
    return layer


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")  # S = 1 is fine
@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4),
    steps=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_attention_zero_on_padding_rows_sum_to_one(kind, lengths, steps, seed):
    layer = attention_layer(kind)
    rng = np.random.default_rng(seed)
    total = max(lengths) + int(rng.integers(0, 3))
    memory = tf.constant(rng.normal(0, 3, (len(lengths), total, 8)).astype(np.float32))
    query = tf.constant(rng.normal(0, 3, (len(lengths), steps, 8)).astype(np.float32))
    mask = padding_mask(lengths, total)
    context, weights = layer(query, memory, mask)
    assert context.shape == (len(lengths), steps, 8)
    assert weights.shape == (len(lengths), steps, total)
    weights = weights.numpy()
    assert np.all(weights[np.broadcast_to(~mask.numpy()[:, None, :], weights.shape)] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    # Changing padded memory vectors changes nothing.
    noise = rng.normal(0, 100, memory.shape).astype(np.float32)
    memory2 = tf.where(mask[:, :, None], memory, noise)
    context2, weights2 = layer(query, memory2, mask)
    np.testing.assert_allclose(context2.numpy(), context.numpy(), atol=1e-5)
    np.testing.assert_array_equal(weights2.numpy(), weights)


@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_attention_single_step_matches_sequence(kind):
    layer = attention_layer(kind)
    rng = np.random.default_rng(0)
    memory = tf.constant(rng.normal(size=(3, 5, 8)).astype(np.float32))
    query = tf.constant(rng.normal(size=(3, 4, 8)).astype(np.float32))
    mask = padding_mask(LENGTHS, 5)
    context, weights = layer(query, memory, mask)
    for t in range(4):
        step_context, step_weights = layer(query[:, t], memory, mask)
        assert step_context.shape == (3, 8) and step_weights.shape == (3, 5)
        np.testing.assert_allclose(step_context.numpy(), context.numpy()[:, t], atol=1e-6)
        np.testing.assert_allclose(step_weights.numpy(), weights.numpy()[:, t], atol=1e-6)


def test_single_real_position_gets_all_the_weight():
    layer = attention_layer("general")
    memory = tf.random.normal((3, 5, 8))
    _, weights = layer(tf.random.normal((3, 8)), memory, padding_mask(LENGTHS, 5))
    np.testing.assert_array_equal(weights.numpy()[2], [1.0, 0, 0, 0, 0])


def test_general_attention_handles_different_sizes_and_dot_refuses_them():
    layer = LuongAttention("general")
    context, _ = layer(tf.ones((2, 6)), tf.ones((2, 3, 10)), tf.ones((2, 3), tf.bool))
    assert context.shape == (2, 10)
    with pytest.raises(ConfigError, match="dot attention needs"):
        LuongAttention("dot")(tf.ones((2, 6)), tf.ones((2, 3, 10)), tf.ones((2, 3), tf.bool))


@pytest.mark.parametrize(
    "layer", [LuongAttention("dot"), LuongAttention("general"), BahdanauAttention(5)]
)
def test_attention_round_trip(layer):
    rng = np.random.default_rng(0)
    query = tf.constant(rng.normal(size=(3, 4, 8)).astype(np.float32))
    memory = tf.constant(rng.normal(size=(3, 5, 8)).astype(np.float32))
    assert_round_trip(layer, lambda layer_: layer_(query, memory, padding_mask(LENGTHS, 5)))


# --- Bridge -------------------------------------------------------------------------------


def encoder_states(num_layers=2, units=8):
    return tuple(tf.random.normal((3, units), seed=i) for i in range(num_layers))


def test_bridge_modes():
    states = encoder_states()
    copied = Bridge("copy", 1, 8)(states)
    assert len(copied) == 1 and copied[0] is states[-1]
    zeros = Bridge("zero", 2, 6)(states)
    assert len(zeros) == 2 and all(np.all(z.numpy() == 0) and z.shape == (3, 6) for z in zeros)
    dense = Bridge("dense", 3, 6)(states)
    assert len(dense) == 3 and all(d.shape == (3, 6) for d in dense)
    assert np.all(np.abs(np.concatenate([d.numpy() for d in dense])) < 1)


def test_copy_bridge_needs_matching_sizes():
    with pytest.raises(ConfigError, match="bridge=copy needs encoder state size"):
        Bridge("copy", 1, 6)(encoder_states())
    with pytest.raises(ConfigError, match="bridge=copy needs encoder layers"):
        Bridge("copy", 3, 8)(encoder_states())


def test_bridge_round_trip():
    states = encoder_states()
    assert_round_trip(Bridge("dense", 2, 6), lambda layer_: layer_(states))


# --- Decoders -----------------------------------------------------------------------------


def decoder_inputs(num_layers, units=8, input_feeding=False):
    rng = np.random.default_rng(0)
    state = tuple(
        tf.constant(rng.normal(size=(3, units)).astype(np.float32))
        for _ in range(num_layers + int(input_feeding))
    )
    memory = tf.constant(rng.normal(size=(3, 5, 10)).astype(np.float32))
    return (
        random_ids(rng, (3, 4), 17),
        padding_mask([4, 2, 1], 4),
        state,
        memory,
        padding_mask(LENGTHS, 5),
    )


@pytest.mark.parametrize(
    "layer, feed",
    [
        (LuongDecoder(17, 6, 8, num_layers=2, attention="general", dropout=0.1), False),
        (
            LuongDecoder(17, 6, 8, attention="additive", attention_units=5, tie_embeddings=True),
            False,
        ),
        (
            BahdanauDecoder(
                17,
                8,
                8,
                num_layers=2,
                attention="additive",
                attention_units=5,
                input_feeding=True,
                tie_embeddings=True,
            ),
            True,
        ),
        (BahdanauDecoder(17, 6, 8, attention="general"), False),
    ],
)
def test_decoder_shapes_and_round_trip(layer, feed):
    inputs = decoder_inputs(layer.num_layers, input_feeding=feed)
    logits, weights = layer(*inputs)
    assert logits.shape == (3, 4, 17) and weights.shape == (3, 4, 5)
    assert_round_trip(layer, lambda layer_: layer_(*inputs))


def test_tied_output_uses_the_target_embedding():
    layer = LuongDecoder(17, 8, 8, tie_embeddings=True)
    layer(*decoder_inputs(1))
    assert layer.output_dense is None and layer.pre_output is None
    h = tf.random.normal((2, 8))
    expected = h.numpy() @ layer.embedding.embeddings.numpy().T + layer.output_bias.numpy()
    np.testing.assert_allclose(layer.output_logits(h).numpy(), expected, atol=1e-6)
    projected = LuongDecoder(17, 6, 8, tie_embeddings=True)
    projected(*decoder_inputs(1))
    assert projected.pre_output.kernel.shape == (8, 6)


def test_decoder_dropout_is_active_only_in_training():
    layer = LuongDecoder(17, 6, 8, dropout=0.5)
    inputs = decoder_inputs(1)
    eval_a, eval_b = layer(*inputs)[0], layer(*inputs)[0]
    np.testing.assert_array_equal(eval_a.numpy(), eval_b.numpy())
    assert not np.allclose(layer(*inputs, training=True)[0].numpy(), eval_a.numpy())


# --- Config cross-checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(bridge="copy", decoder_units=100), "bridge=copy needs"),
        (dict(bridge="copy", decoder_units=4, decoder_layers=3), "decoder_layers"),
        (dict(attention="dot", decoder_units=100), "attention=dot needs"),
        (dict(input_feeding=True), "input_feeding needs"),
        (dict(attention="cosine"), "model.attention must be dot, general or additive"),
        (dict(encoder_units=0), "encoder_units must be >= 1"),
    ],
)
def test_model_config_rejects_inconsistent_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(**overrides)


def test_model_config_memory_units():
    assert tiny_config(encoder_units=128, bidirectional=True).memory_units == 256
    bi_sum = tiny_config(encoder_units=128, bidirectional=True, bidirectional_merge="sum")
    assert bi_sum.memory_units == 128
    assert tiny_config(encoder_units=128, bidirectional=False).memory_units == 128


def test_model_config_has_no_defaults():
    """conf/model/*.yaml are the only place a model's values live."""
    fields = len(dataclasses.fields(ModelConfig))
    with pytest.raises(TypeError, match=f"missing {fields} required positional arguments"):
        ModelConfig()
