"""FusedAdam / FusedAdamW: Keras' Adam and AdamW, each variable's update in one kernel."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.training.optimizers import FusedAdam, FusedAdamW, build_optimizer
from tests.cli_helpers import verb_config

SHAPES = [(7, 5), (5,), (3, 4, 2)]


def _variables(seed: int) -> list[tf.Variable]:
    rng = np.random.default_rng(seed)
    return [tf.Variable(rng.normal(size=s).astype(np.float32)) for s in SHAPES]


def _run(optimizer, gradients: list[list]) -> list[np.ndarray]:
    """Apply each list of gradients in turn (in a tf.function, as training does); return the
    variables, then the optimizer's slots."""
    variables = _variables(0)
    apply = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, variables)))
    for grads in gradients:
        apply(grads)
    return [v.numpy() for v in variables] + [v.numpy() for v in optimizer.variables]


def _dense_gradients(steps: int) -> list[list[tf.Tensor]]:
    rng = np.random.default_rng(1)
    return [
        [tf.constant(rng.normal(size=s).astype(np.float32)) for s in SHAPES] for _ in range(steps)
    ]


@pytest.mark.parametrize(
    ("keras_class", "fused_class", "kwargs"),
    [
        (keras.optimizers.Adam, FusedAdam, {}),
        (keras.optimizers.Adam, FusedAdam, {"beta_2": 0.98, "epsilon": 1e-9}),
        (keras.optimizers.AdamW, FusedAdamW, {"weight_decay": 0.1}),
    ],
)
def test_fused_update_equals_keras(keras_class, fused_class, kwargs):
    gradients = _dense_gradients(6)
    expected = _run(keras_class(learning_rate=0.01, **kwargs), gradients)
    actual = _run(fused_class(learning_rate=0.01, **kwargs), gradients)
    for e, a in zip(expected, actual, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-7)


def test_dense_gradients_use_the_fused_kernel():
    """The fused op is in the traced update (not Keras' element-wise ops); sparse gradients
    keep Keras' path."""
    variables = _variables(0)
    optimizer = FusedAdam(learning_rate=0.01)
    optimizer.build(variables)
    apply = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, variables)))
    ops = {
        op.type for op in apply.get_concrete_function(_dense_gradients(1)[0]).graph.get_operations()
    }
    assert "ResourceApplyAdam" in ops
    assert "Sqrt" not in ops  # Keras' update computes sqrt(v) with its own op


def test_repeated_embedding_rows_keep_keras_update():
    """A sparse gradient with a repeated row: Keras squares each slice before summing them
    (v gets g1² + g2², not (g1 + g2)²); recorded runs and the distributed step rely on it."""

    def sparse(step):
        values = tf.constant([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]) * (step + 1)
        return tf.IndexedSlices(values, tf.constant([1, 1, 3]), tf.constant([4, 2]))

    results = []
    for optimizer in (keras.optimizers.Adam(0.01), FusedAdam(0.01)):
        table = tf.Variable(tf.ones([4, 2]))
        for step in range(3):
            optimizer.apply_gradients([(sparse(step), table)])
        results.append([table.numpy()] + [v.numpy() for v in optimizer.variables])
    for e, a in zip(*results, strict=True):
        np.testing.assert_array_equal(a, e)


def test_checkpoints_interchange_with_keras_adam(tmp_path):
    """A checkpoint written with keras.optimizers.Adam resumes in FusedAdam (same slots)."""
    gradients = _dense_gradients(4)
    variables = _variables(0)
    adam = keras.optimizers.Adam(0.01)
    for grads in gradients[:2]:
        adam.apply_gradients(zip(grads, variables))
    path = tf.train.Checkpoint(optimizer=adam, variables=variables).write(str(tmp_path / "ckpt"))
    for grads in gradients[2:]:
        adam.apply_gradients(zip(grads, variables))

    resumed_variables = _variables(5)  # other values: all must come from the checkpoint
    fused = FusedAdam(0.01)
    fused.build(resumed_variables)
    tf.train.Checkpoint(optimizer=fused, variables=resumed_variables).read(path).assert_consumed()
    for grads in gradients[2:]:
        fused.apply_gradients(zip(grads, resumed_variables))
    for e, a in zip(variables + adam.variables, resumed_variables + fused.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], FusedAdam),
        (["train.optimizer.name=adamw"], FusedAdamW),
        (["train.optimizer.fused=false"], keras.optimizers.Adam),
        (["train.optimizer.name=adamw", "train.optimizer.fused=false"], keras.optimizers.AdamW),
        (["train.optimizer.name=sgd"], keras.optimizers.SGD),
    ],
)
def test_build_optimizer_follows_the_config(overrides, expected):
    optimizer = build_optimizer(verb_config("train", *overrides))
    assert type(optimizer) is expected
