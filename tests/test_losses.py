"""Loss and metrics over real tokens only, against hand-computed numpy references."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.constants import (
    EXAMPLE_INDEX,
    SOURCE_IDS,
    SOURCE_PADDING_MASK,
    TARGET_IN_IDS,
    TARGET_PADDING_MASK,
)
from seq2seq.training.losses import masked_cross_entropy, real_token_cross_entropy
from seq2seq.training.metrics import real_token_correct
from seq2seq.training.steps import make_eval_step
from seq2seq.training.validation import evaluate_loss
from tests.reference_losses import masked_cross_entropy_mean, token_accuracy

V = 5
Y = np.array([[1, 4, 2, 0], [3, 3, 0, 0]], np.int32)
MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
LOGITS = np.random.default_rng(0).normal(0, 2, (2, 4, V)).astype(np.float32)


def numpy_token_losses(logits, y, label_smoothing):
    """Per-position cross-entropy with q = (1 - eps) one_hot + eps / V, float64."""
    z = logits.astype(np.float64)
    log_p = z - z.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    q = (1 - label_smoothing) * np.eye(V)[y] + label_smoothing / V
    return -(q * log_p).sum(-1)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_loss_matches_hand_computed_masked_mean(label_smoothing):
    losses = numpy_token_losses(LOGITS, Y, label_smoothing)
    expected_sum = (losses * MASK).sum()
    loss_sum, tokens = masked_cross_entropy(Y, LOGITS, MASK, label_smoothing)
    assert loss_sum.dtype == tf.float32 and tokens.dtype == tf.float32
    assert float(tokens) == 5.0
    np.testing.assert_allclose(float(loss_sum), expected_sum, rtol=1e-6)
    mean = masked_cross_entropy_mean(Y, LOGITS, MASK, label_smoothing)
    np.testing.assert_allclose(float(mean), expected_sum / MASK.sum(), rtol=1e-6)
    # Not the B*T mean that Keras' default sample_weight reduction gives.
    assert abs(float(mean) - expected_sum / MASK.size) > 0.1


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_loss_agrees_with_keras_summed_losses(label_smoothing):
    keras_loss = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=label_smoothing, reduction="sum"
    )
    expected = keras_loss(np.eye(V)[Y], LOGITS, sample_weight=MASK.astype(np.float32))
    loss_sum, _ = masked_cross_entropy(Y, LOGITS, MASK, label_smoothing)
    np.testing.assert_allclose(float(loss_sum), float(expected), rtol=1e-5)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_padding_gets_exactly_zero_gradient_and_any_label(label_smoothing):
    labels = np.where(MASK, Y, 99)  # out-of-range ids at padded positions are never read
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        loss_sum, _ = masked_cross_entropy(labels, logits, MASK, label_smoothing)
    grad = tape.gradient(loss_sum, logits).numpy()
    assert np.all(grad[~MASK] == 0.0)
    assert np.all(np.abs(grad[MASK]).sum(-1) > 0)
    reference, _ = masked_cross_entropy(Y, LOGITS, MASK, label_smoothing)
    assert float(loss_sum) == float(reference)


def test_padded_logits_do_not_change_the_loss():
    changed = np.where(MASK[:, :, None], LOGITS, 1e4).astype(np.float32)
    a, _ = masked_cross_entropy(Y, LOGITS, MASK)
    b, _ = masked_cross_entropy(Y, changed, MASK)
    assert float(a) == float(b)


def test_low_precision_logits_give_float32_results():
    loss_sum, tokens = masked_cross_entropy(Y, tf.cast(LOGITS, tf.float16), MASK, 0.1)
    assert loss_sum.dtype == tf.float32 and tokens.dtype == tf.float32
    expected = (numpy_token_losses(LOGITS, Y, 0.1) * MASK).sum()
    np.testing.assert_allclose(float(loss_sum), expected, rtol=1e-3)


def test_all_padding_mean_is_zero_and_bad_smoothing_is_refused():
    none = np.zeros_like(MASK)
    assert float(masked_cross_entropy_mean(Y, LOGITS, none)) == 0.0
    with pytest.raises(ValueError, match="label_smoothing"):
        masked_cross_entropy(Y, LOGITS, MASK, 1.0)


def test_token_accuracy():
    logits = np.full((2, 4, V), -5.0, np.float32)
    predicted = np.array([[1, 0, 2, 4], [3, 1, 0, 3]])  # right, wrong, right, (pad); right, wrong
    np.put_along_axis(logits, predicted[:, :, None], 5.0, axis=-1)
    correct, tokens = token_accuracy(Y, logits, MASK)
    assert (float(correct), float(tokens)) == (3.0, 5.0)


def test_validation_means_are_exact_per_token_over_batches():
    class Model:  # row i of a batch gets LOGITS[source_ids[i, 0]]
        def real_token_logits(self, x, training):
            positions = tf.where(x[TARGET_PADDING_MASK])
            logits = tf.gather(tf.constant(LOGITS), x[SOURCE_IDS][:, 0])  # (B, T, V)
            return tf.gather_nd(logits, positions), positions

    model = Model()

    def batch(rows):
        x = {
            SOURCE_IDS: tf.constant(rows, tf.int32)[:, None],
            SOURCE_PADDING_MASK: tf.ones((len(rows), 1), tf.bool),
            TARGET_IN_IDS: tf.constant(Y[rows]),
            TARGET_PADDING_MASK: tf.constant(MASK[rows]),
            EXAMPLE_INDEX: tf.constant(rows, tf.int64),  # dropped by evaluate_loss
        }
        return x, tf.constant(Y[rows]), tf.constant(MASK[rows])

    metrics = evaluate_loss(make_eval_step(model), [batch([0]), batch([1])])
    expected = (numpy_token_losses(LOGITS, Y, 0.0) * MASK).sum() / MASK.sum()
    np.testing.assert_allclose(metrics["loss"], expected, rtol=1e-6)
    np.testing.assert_allclose(metrics["perplexity"], np.exp(expected), rtol=1e-5)
    correct, tokens = token_accuracy(Y, LOGITS, MASK)
    assert metrics["token_accuracy"] == pytest.approx(float(correct) / float(tokens))
    losses = numpy_token_losses(LOGITS, Y, 0.0)
    batch_means = [(losses[i] * MASK[i]).sum() / MASK[i].sum() for i in (0, 1)]
    assert abs(np.mean(batch_means) - expected) > 1e-3  # the mean of batch means is biased


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_the_real_token_loss_and_accuracy_equal_the_masked_ones(label_smoothing):
    """What training computes on `real_token_logits` (N, V) equals the (B, T, V) reference."""
    positions = tf.where(MASK)
    labels, logits = tf.gather_nd(Y, positions), tf.gather_nd(LOGITS, positions)
    loss_sum, tokens = real_token_cross_entropy(labels, logits, label_smoothing)
    expected_sum, expected_tokens = masked_cross_entropy(Y, LOGITS, MASK, label_smoothing)
    np.testing.assert_allclose(float(loss_sum), float(expected_sum), rtol=1e-6)
    assert float(tokens) == float(expected_tokens)
    assert float(real_token_correct(labels, logits)) == float(token_accuracy(Y, LOGITS, MASK)[0])
