"""Seq2Seq: build from the yaml configs, the search interface (encode / decode_step reproduce
teacher forcing), tf.function without retracing, checkpoints and config round trips."""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from seq2seq.config import ModelConfig, validate
from seq2seq.layers.attention_base import Memory
from seq2seq.model import Seq2Seq, build_model, build_variables
from tests.model_helpers import (
    BATCH_SPEC,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    Sequence,
    make_batch,
    random_model,
    tiny_config,
)
from tests.reference_losses import masked_cross_entropy_mean

CONF = Path(__file__).resolve().parents[1] / "conf" / "model"

STEP_CONFIGS = {
    "luong-bi-2layer": dict(bidirectional=True, encoder_layers=2, decoder_layers=2),
    "luong-dot-copy-tied": dict(
        attention="dot", encoder_units=8, bridge="copy", tie_embeddings=True
    ),
    "bahdanau-additive-feed": dict(
        decoder="bahdanau",
        attention="additive",
        input_feeding=True,
        decoder_layers=2,
        bidirectional=True,
    ),
    "bahdanau-general": dict(decoder="bahdanau", bridge="zero"),
}


def sample_batch(seed=0, lengths=((5, 4), (2, 6), (1, 1))):
    rng = np.random.default_rng(seed)
    return make_batch([Sequence.random(rng, s, t) for s, t in lengths], extra_source=1)


@pytest.mark.parametrize("name", ["gru_luong", "gru_bahdanau", "tiny"])
def test_yaml_configs_list_every_field_and_build(name):
    raw = OmegaConf.load(CONF / f"{name}.yaml")
    assert set(raw.keys()) == {f.name for f in dataclasses.fields(ModelConfig)}
    model = build_model(validate(raw, ModelConfig), 32, 45)
    x, _ = sample_batch()
    assert model(x).shape == (3, 6, 45)


@pytest.mark.parametrize("decoder", ["luong", "bahdanau"])
def test_building_the_variables_warns_nothing(decoder, recwarn):
    """build_variables (run at every training start and run load) raised Keras' "softmax over
    an axis of size 1" UserWarning when its batch had one source token."""
    build_variables(build_model(tiny_config(decoder=decoder), SOURCE_VOCAB, TARGET_VOCAB))
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.parametrize("decoder", ["luong", "bahdanau"])
def test_real_token_logits_are_the_logits_at_the_real_positions(decoder):
    model = random_model(tiny_config(decoder=decoder, attention="additive"))
    x, _ = sample_batch()
    logits, positions = model.real_token_logits(x)
    np.testing.assert_array_equal(positions, tf.where(x["target_padding_mask"]))
    np.testing.assert_allclose(logits, tf.gather_nd(model(x), positions), atol=1e-6)


def test_default_config_is_the_documented_model():
    cfg = validate(OmegaConf.load(CONF / "gru_luong.yaml"), ModelConfig)
    assert (
        cfg.encoder_units,
        cfg.encoder_layers,
        cfg.bidirectional,
        cfg.decoder_units,
        cfg.decoder,
        cfg.attention,
        cfg.embedding_dim,
        cfg.dropout,
    ) == (128, 2, True, 256, "luong", "general", 64, 0.1)


def test_call_ignores_extra_keys_and_returns_float_logits():
    model = random_model(tiny_config(bidirectional=True))
    x, _ = sample_batch()
    logits = model(x)
    with_index = model({**x, "example_index": tf.constant([4, 5, 6], tf.int64)})
    assert logits.shape == (3, 6, TARGET_VOCAB) and logits.dtype == tf.float32
    np.testing.assert_array_equal(logits.numpy(), with_index.numpy())


def step_through(model, x, fn=None):
    """Logits (B, T, V) from encode + decode_step over target_in_ids."""
    encode, step = (fn or {}).get("encode", model.encode), (fn or {}).get("step", model.decode_step)
    memory, state = encode(x["source_ids"], x["source_padding_mask"])
    logits = []
    for t in range(x["target_in_ids"].shape[1]):
        step_logits, state, attention = step(
            x["target_in_ids"][:, t], state, memory, x["source_padding_mask"]
        )
        assert attention.shape == x["source_ids"].shape
        logits.append(step_logits)
    return tf.stack(logits, axis=1)


@pytest.mark.parametrize("name", sorted(STEP_CONFIGS))
def test_decode_step_reproduces_teacher_forcing(name):
    model = random_model(tiny_config(**STEP_CONFIGS[name]), seed=3)
    x, _ = sample_batch()
    expected, attention = model.teacher_force(x)
    mask = x["target_padding_mask"].numpy()
    stepped = step_through(model, x)
    np.testing.assert_allclose(stepped.numpy()[mask], expected.numpy()[mask], atol=1e-5)
    weights = attention.numpy()[mask]  # (real steps, S)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)


def compiled_search_functions(model):
    state_spec = tuple(
        tf.TensorSpec((None, s.shape[-1]), tf.float32)
        for s in model.encode(tf.ones((1, 1), tf.int32), tf.ones((1, 1), bool))[1]
    )
    encode = tf.function(
        model.encode,
        input_signature=[
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None, None), tf.bool),
        ],
    )
    step = tf.function(
        model.decode_step,
        input_signature=[
            tf.TensorSpec((None,), tf.int32),
            state_spec,
            Memory(  # values, attention keys
                tf.TensorSpec((None, None, model.encoder.output_units), tf.float32),
                tf.TensorSpec((None, None, None), tf.float32),
            ),
            tf.TensorSpec((None, None), tf.bool),
        ],
    )
    return {"encode": encode, "step": step}


@pytest.mark.parametrize("name", ["luong-bi-2layer", "bahdanau-additive-feed"])
def test_search_interface_in_tf_function_without_retracing(name):
    model = random_model(tiny_config(**STEP_CONFIGS[name]), seed=4)
    fns = compiled_search_functions(model)
    for seed, lengths in enumerate([((5, 4), (2, 6), (1, 1)), ((3, 2), (7, 3))]):
        x, _ = sample_batch(seed, lengths)
        mask = x["target_padding_mask"].numpy()
        stepped = step_through(model, x, fns).numpy()
        np.testing.assert_allclose(stepped[mask], model(x).numpy()[mask], atol=1e-5)
    assert fns["encode"].experimental_get_tracing_count() == 1
    assert fns["step"].experimental_get_tracing_count() == 1


def test_state_is_a_flat_tuple_that_beam_search_can_tile():
    model = random_model(tiny_config(**STEP_CONFIGS["bahdanau-additive-feed"]))
    x, _ = sample_batch()
    memory, state = model.encode(x["source_ids"], x["source_padding_mask"])
    assert isinstance(state, tuple) and len(state) == 3  # 2 layers + input feeding
    assert all(s.shape == (3, 8) for s in state)
    tile = lambda t: tf.repeat(t, 2, axis=0)  # noqa: E731
    prev = x["target_in_ids"][:, 0]
    logits, new_state, _ = model.decode_step(prev, state, memory, x["source_padding_mask"])
    tiled_logits, tiled_state, _ = model.decode_step(
        tile(prev),
        tf.nest.map_structure(tile, state),
        tf.nest.map_structure(tile, memory),
        tile(x["source_padding_mask"]),
    )
    np.testing.assert_allclose(tiled_logits.numpy(), tile(logits).numpy(), atol=1e-6)
    assert tf.nest.map_structure(lambda s: s.shape[0], tiled_state) == (6, 6, 6)
    assert isinstance(new_state, tuple) and len(new_state) == 3


@pytest.mark.parametrize("name", ["luong-bi-2layer", "bahdanau-additive-feed"])
def test_checkpoint_saves_every_weight_and_restores(name, tmp_path):
    cfg = tiny_config(**STEP_CONFIGS[name])
    model = random_model(cfg, seed=5)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    saved = [
        n
        for n, _ in tf.train.list_variables(path)
        if n.startswith("model/") and n.endswith("VARIABLE_VALUE")
    ]
    assert len(saved) == len(model.trainable_variables)
    fresh = build_model(cfg, SOURCE_VOCAB, TARGET_VOCAB)
    tf.train.Checkpoint(model=fresh).restore(path).assert_existing_objects_matched()
    x, _ = sample_batch()
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("name", ["luong-dot-copy-tied", "bahdanau-additive-feed"])
def test_get_config_round_trip(name):
    model = random_model(tiny_config(**STEP_CONFIGS[name]), seed=6)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    clone = keras.saving.deserialize_keras_object(config)
    assert isinstance(clone, Seq2Seq) and clone.get_config() == model.get_config()
    clone.build()
    clone.set_weights(model.get_weights())
    x, _ = sample_batch()
    np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())


def test_build_model_accepts_a_mapping_and_validates_it():
    model = build_model(dataclasses.asdict(tiny_config()), SOURCE_VOCAB, TARGET_VOCAB)
    assert model.built and model.name == "tiny_test"
    from seq2seq.errors import ConfigError

    with pytest.raises(ConfigError, match="bridge=copy"):
        build_model({**dataclasses.asdict(tiny_config()), "bridge": "copy"}, 13, 17)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(bidirectional=True, dropout=0.1),
        dict(decoder="bahdanau", decoder_layers=2, input_feeding=True, dropout=0.1),
    ],
)
def test_compiled_training_steps_learn_a_small_batch(overrides):
    keras.utils.set_random_seed(0)
    model = build_model(
        tiny_config(**overrides, encoder_units=16, decoder_units=16), SOURCE_VOCAB, TARGET_VOCAB
    )
    optimizer = keras.optimizers.Adam(0.02)
    optimizer.build(model.trainable_variables)

    @tf.function(input_signature=[BATCH_SPEC, tf.TensorSpec((None, None), tf.int32)])
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = masked_cross_entropy_mean(y, model(x, training=True), x["target_padding_mask"])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    x, y = sample_batch(lengths=((4, 4), (3, 2), (5, 5), (2, 3)))
    first = float(train_step(x, y))
    for _ in range(60):
        last = float(train_step(x, y))
    assert last < 0.3 * first
    assert train_step.experimental_get_tracing_count() == 1
