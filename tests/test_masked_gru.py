"""`model.rnn=fused` (`seq2seq.layers.masked_gru`): the same outputs, final states and gradients
as `keras.layers.GRU(reset_after=True)` on random padded batches (<= 1e-5, property-based),
in both implementations (the C++ kernel and the plain TensorFlow fallback), uni- and
bidirectional; NaN/Inf propagate as in Keras; checkpoints load across `rnn=keras` /
`rnn=fused`; the kernel is built for the CPU's x86-64 level, once per machine type."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seq2seq.layers.masked_gru as masked_gru
from seq2seq.layers.kernels import build
from seq2seq.layers.masked_gru import MaskedBiGRU, MaskedGRU
from tests.model_helpers import Sequence, make_batch, random_model, tiny_config

TOLERANCE = 1e-5
IMPLEMENTATIONS = ["tensorflow"] + (["kernel"] if masked_gru.KERNELS is not None else [])
PROPERTY = settings(
    max_examples=15,
    deadline=None,
    # `implementation` only sets a module switch; it is the same for every example.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request, monkeypatch):
    monkeypatch.setattr(masked_gru, "IMPLEMENTATION", request.param)
    return request.param


@st.composite
def padded_batches(draw):
    """(inputs (B, T, E), mask (B, T) right-padded with no empty row, seed)."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    lengths = draw(st.lists(st.integers(1, 7), min_size=1, max_size=5))
    steps = max(lengths) + draw(st.integers(0, 2))
    mask = np.arange(steps)[None, :] < np.array(lengths)[:, None]
    inputs = rng.normal(size=(len(lengths), steps, 5)).astype("float32")
    return inputs, mask, seed


def _pair(keras_layer, fused_layer, features, seed):
    """Build both, give them the same random weights (scale 0.5, biases included)."""
    keras_layer.build((None, None, features))
    fused_layer.build((None, None, features))
    rng = np.random.default_rng(seed)
    for target, source in zip(fused_layer.weights, keras_layer.weights, strict=True):
        source.assign(rng.uniform(-0.5, 0.5, source.shape).astype("float32"))
        target.assign(source)


def _compare(run_keras, run_fused, variables_keras, variables_fused, inputs, mask):
    """Max abs difference of real-step outputs, final states and all gradients."""
    x = tf.constant(inputs)
    real = tf.constant(mask)[:, :, None]
    results = []
    for run, variables in ((run_keras, variables_keras), (run_fused, variables_fused)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs, *states = run(x)
            outputs = tf.where(real, outputs, 0.0)  # Keras repeats the last output there
            weights = tf.random.stateless_normal(tf.shape(outputs), seed=[1, 2])
            loss = tf.reduce_sum(outputs * weights) + sum(tf.reduce_sum(s * s) for s in states)
        results.append([outputs, *states, *tape.gradient(loss, [x, *variables])])
    return max(float(np.abs(a - b).max()) for a, b in zip(*results, strict=True))


@PROPERTY
@given(batch=padded_batches())
def test_unidirectional_matches_keras_gru(implementation, batch):
    inputs, mask, seed = batch
    keras_gru = keras.layers.GRU(4, return_sequences=True, return_state=True)
    fused = MaskedGRU(4)
    _pair(keras_gru, fused, inputs.shape[-1], seed)
    initial = tf.constant(np.random.default_rng(seed).normal(size=(len(mask), 4)), tf.float32)
    error = _compare(
        lambda x: keras_gru(x, mask=tf.constant(mask), initial_state=[initial]),
        lambda x: fused(x, tf.constant(mask), initial_state=initial),
        keras_gru.weights,
        fused.weights,
        inputs,
        mask,
    )
    assert error <= TOLERANCE


@PROPERTY
@given(batch=padded_batches(), merge=st.sampled_from(["concat", "sum"]))
def test_bidirectional_matches_keras_bidirectional(implementation, batch, merge):
    inputs, mask, seed = batch
    keras_bi = keras.layers.Bidirectional(
        keras.layers.GRU(3, return_sequences=True, return_state=True), merge_mode=merge
    )
    fused = MaskedBiGRU(3, merge)
    _pair(keras_bi, fused, inputs.shape[-1], seed)
    error = _compare(
        lambda x: keras_bi(x, mask=tf.constant(mask)),
        lambda x: fused(x, tf.constant(mask)),
        keras_bi.weights,
        fused.weights,
        inputs,
        mask,
    )
    assert error <= TOLERANCE


def test_padded_steps_output_zero_and_hold_the_state(implementation):
    fused = MaskedGRU(3)
    fused.build((None, None, 2))
    x = tf.random.stateless_normal([2, 4, 2], seed=[3, 4])
    mask = tf.constant([[True, True, False, False], [True, True, True, True]])
    outputs, state = fused(x, mask)
    np.testing.assert_array_equal(outputs[0, 2:].numpy(), 0.0)
    np.testing.assert_allclose(state[0].numpy(), outputs[0, 1].numpy(), atol=1e-7)
    np.testing.assert_allclose(state[1].numpy(), outputs[1, 3].numpy(), atol=1e-7)
    assert np.abs(outputs[1, 3].numpy()).max() > 0  # a real step has a real output


def test_nonfinite_inputs_propagate_as_in_keras_gru(implementation):
    """NaN and +-Inf inputs, at real and padded steps, give NaN and +-Inf exactly where Keras'
    GRU gives them and the same finite values elsewhere (tanh(+-Inf) = +-1, a padded step's NaN
    stays out of the state): the kernel is built without -ffast-math, so `train.on_nonfinite`
    sees what the plain layer would produce."""
    rng = np.random.default_rng(7)
    inputs = rng.normal(size=(6, 5, 3)).astype("float32")
    mask = np.arange(5)[None, :] < np.array([5, 3, 2, 5, 4, 2])[:, None]
    inputs[0, 1, 0] = np.nan  # a real step
    inputs[1, 0, 2] = np.inf  # one feature: pre-activations +-Inf, finite states
    inputs[2, 3, 1] = np.nan  # a padded step
    inputs[3, 2, :] = -np.inf  # Inf - Inf = NaN in the input projection
    inputs[4, 3, 1] = -np.inf
    keras_gru = keras.layers.GRU(4, return_sequences=True, return_state=True)
    fused = MaskedGRU(4)
    _pair(keras_gru, fused, 3, seed=3)
    real = tf.constant(mask)[:, :, None]
    keras_outputs, keras_state = keras_gru(tf.constant(inputs), mask=tf.constant(mask))
    keras_outputs = tf.where(real, keras_outputs, 0.0)  # Keras repeats the last output there
    fused_outputs, fused_state = fused(tf.constant(inputs), tf.constant(mask))
    for expected, got in ((keras_outputs, fused_outputs), (keras_state, fused_state)):
        expected, got = expected.numpy(), got.numpy()
        for kind in (np.isnan, np.isposinf, np.isneginf):
            np.testing.assert_array_equal(kind(got), kind(expected))
        finite = np.isfinite(expected)
        np.testing.assert_allclose(got[finite], expected[finite], atol=TOLERANCE)
    state = fused_state.numpy()
    assert np.isnan(state[0]).all() and np.isnan(state[3]).all()  # the test can fail
    assert np.isfinite(state[[1, 2, 4, 5]]).all()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_checkpoints_load_across_rnn_implementations(tmp_path, bidirectional):
    """Same variables under the same checkpoint keys: a keras-trained model restores into a
    fused one (and back) and gives the same logits."""
    cfg = dict(bidirectional=bidirectional, encoder_layers=2, decoder_layers=2)
    keras_model = random_model(tiny_config(**cfg, rnn="keras"), seed=5)
    path = tf.train.Checkpoint(model=keras_model).write(str(tmp_path / "ckpt"))
    fused_model = random_model(tiny_config(**cfg, rnn="fused"), seed=6)
    rng = np.random.default_rng(0)
    x, _ = make_batch([Sequence.random(rng, s, t) for s, t in ((5, 4), (2, 6), (1, 1))], 1)
    real = x["target_padding_mask"]  # logits at padded steps are unspecified

    def logits(model):
        return model(x).numpy()[real]

    assert np.abs(logits(fused_model) - logits(keras_model)).max() > 1e-3  # differ at first
    tf.train.Checkpoint(model=fused_model).read(path).assert_consumed()
    np.testing.assert_allclose(logits(fused_model), logits(keras_model), atol=1e-5)


def test_the_kernel_is_built_for_this_cpu_and_the_layer_uses_it():
    """On x86-64 with a compiler the kernel is built (on first import, into the cache) for the
    CPU's level, never -march=native or -ffast-math; elsewhere only speed is lost."""
    level = build.cpu_level()
    if level is None or shutil.which(os.environ.get("CXX", "g++")) is None:
        pytest.skip("not x86-64, or no compiler: the TensorFlow fallback is used")
    if os.environ.get("SEQ2SEQ_KERNEL_LIBRARY"):
        pytest.skip("SEQ2SEQ_KERNEL_LIBRARY chooses a prebuilt library")
    library, reason = build.ensure_built()
    assert library is not None and library.exists(), reason
    assert level in library.name and library.parent == build.cache_dir()
    command = " ".join(build.compile_command(level, library))
    assert f"-march={level}" in command
    assert "native" not in command and "fast-math" not in command
    assert masked_gru.KERNELS is not None
    assert masked_gru.IMPLEMENTATION == "kernel"


@pytest.mark.parametrize(
    ("flags", "machine", "level"),
    [
        (set(), "x86_64", "x86-64"),
        (build.LEVELS["x86-64-v2"], "x86_64", "x86-64-v2"),
        (build.LEVELS["x86-64-v2"] | build.LEVELS["x86-64-v3"], "x86_64", "x86-64-v3"),
        (set().union(*build.LEVELS.values()), "x86_64", "x86-64-v4"),
        (build.LEVELS["x86-64-v2"] | build.LEVELS["x86-64-v4"], "x86_64", "x86-64-v2"),  # no AVX2
        (set().union(*build.LEVELS.values()), "aarch64", None),
    ],
)
def test_cpu_level_from_flags(flags, machine, level):
    assert build.cpu_level(flags, machine) == level


def test_a_failed_build_is_not_retried_at_every_import(tmp_path, monkeypatch):
    """A compile that fails (here a stand-in compiler) is remembered in `<library>.failed`:
    the next imports get its reason at once; a retry (the build script) compiles again and a
    success removes the record."""
    monkeypatch.setenv("SEQ2SEQ_KERNEL_CACHE", str(tmp_path))
    monkeypatch.delenv("SEQ2SEQ_KERNEL_LIBRARY", raising=False)
    monkeypatch.setattr(build, "cpu_level", lambda: "x86-64-v2")
    calls, works = tmp_path / "calls", tmp_path / "compiler-works"
    script = (
        f'echo x >> {calls}; test -e {works} && touch "$1" && exit 0; echo "error: no" >&2; exit 1'
    )
    command = lambda level, out: ["sh", "-c", script, "cc", str(out)]  # noqa: E731
    monkeypatch.setattr(build, "compile_command", command)
    first = build.ensure_built()
    assert first[0] is None and "(error: no)" in first[1]
    library, reason = build.ensure_built()
    assert library is None and "(error: no)" in reason and "to try again" in reason
    assert calls.read_text().count("x") == 1  # two imports, one compile
    works.touch()
    library, reason = build.ensure_built(retry=True)
    assert library is not None and library.exists(), reason
    assert calls.read_text().count("x") == 2 and not build.failure_path(library).exists()


@pytest.mark.slow  # a real compile: 20 s to minutes
def test_concurrent_builds_compile_once(tmp_path, monkeypatch):
    """Jobs starting together on a new machine type: one compiles, the others wait and load
    its library (the lock), and none sees a partial file."""
    if build.cpu_level() is None or shutil.which(os.environ.get("CXX", "g++")) is None:
        pytest.skip("not x86-64, or no compiler")
    monkeypatch.setenv("SEQ2SEQ_KERNEL_CACHE", str(tmp_path))
    code = "from seq2seq.layers.kernels import build; print(build.ensure_built()[0])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=900) for p in procs]
    paths = {out.strip() for out, _ in results}
    assert len(paths) == 1 and Path(paths.pop()).exists()
    assert sum("building the fused GRU kernel" in err for _, err in results) == 1
