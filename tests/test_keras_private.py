"""The Keras privates the project reads (seq2seq/training/keras_private.py): present on the
pinned Keras, and a changed private falls back to Keras' public update with a warning."""

import logging
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.training import keras_private
from seq2seq.training.optimizers import FusedAdam, FusedAdamW
from tests.test_optimizers import _dense_gradients, _run, _variables


@pytest.mark.parametrize("optimizer_class", [FusedAdam, FusedAdamW, keras.optimizers.Adam])
def test_the_pinned_keras_has_the_privates_fused_adam_reads(optimizer_class):
    """Fails on a Keras whose Adam slots moved: update keras_private.py for it."""
    variables = _variables(0)
    optimizer = optimizer_class(learning_rate=0.01)
    optimizer.build(variables)
    assert keras_private.fused_adam_supported(optimizer, variables), keras.__version__
    m, v = keras_private.adam_slot_handles(optimizer, variables[2])
    assert m.dtype == v.dtype == tf.resource


def test_the_pinned_keras_has_the_gradient_all_reduce_the_distributed_step_skips():
    optimizer = keras.optimizers.SGD(0.1)
    assert keras_private.skip_gradient_all_reduce(optimizer), keras.__version__
    pairs = [(tf.ones([2]), tf.Variable(tf.zeros([2])))]
    assert getattr(optimizer, keras_private.ALL_REDUCE)(pairs) == pairs


def test_a_slot_of_another_shape_is_not_handed_to_the_kernel():
    variables = _variables(0)
    optimizer = FusedAdam(learning_rate=0.01)
    optimizer.build(variables[:1])
    other = tf.Variable(tf.zeros([2, 2]))
    assert keras_private.adam_slot_handles(optimizer, other) is None


@pytest.mark.parametrize("renamed", ["VARIABLE_INDEX", "MOMENTUMS", "VELOCITIES"])
@pytest.mark.parametrize(
    ("keras_class", "fused_class"),
    [(keras.optimizers.Adam, FusedAdam), (keras.optimizers.AdamW, FusedAdamW)],
)
def test_a_changed_private_falls_back_to_keras_adam_with_a_warning(
    monkeypatch, caplog, renamed, keras_class, fused_class
):
    """As on a Keras that renamed the private: the adapter finds nothing, FusedAdam runs
    Keras' own update (no fused kernel, the same numbers) and warns once."""
    monkeypatch.setattr(keras_private, renamed, "_renamed_by_a_later_keras")
    monkeypatch.setattr(keras_private, "_warned", set())
    gradients = _dense_gradients(3)
    expected = _run(keras_class(learning_rate=0.01, weight_decay=0.1), gradients)
    with caplog.at_level(logging.WARNING, logger=keras_private.__name__):
        actual = _run(fused_class(learning_rate=0.01, weight_decay=0.1), gradients)
    for e, a in zip(expected, actual, strict=True):
        np.testing.assert_array_equal(a, e)
    warnings = [r for r in caplog.records if "using Keras' own Adam update" in r.message]
    assert len(warnings) == 1


def test_no_other_module_names_the_keras_privates():
    """The adapter is the only place to update when Keras changes them."""
    package = Path(keras_private.__file__).parents[1]
    names = [
        keras_private.VARIABLE_INDEX,
        keras_private.MOMENTUMS,
        keras_private.VELOCITIES,
        keras_private.ALL_REDUCE,
    ]
    users = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        for name in names
        if name in path.read_text()
    }
    assert users == {"training/keras_private.py"}
