"""Validation loss: loss, token accuracy and perplexity over a whole split."""

import math
from collections.abc import Callable

import tensorflow as tf

from seq2seq.training.steps import select_inputs


def evaluate_loss(eval_step: Callable, dataset: tf.data.Dataset) -> dict[str, float]:
    """Mean loss over the real target tokens of `dataset`, token accuracy, perplexity."""
    totals = {"loss_sum": 0.0, "correct": 0.0, "tokens": 0.0}
    for x, y, mask in dataset:
        out = eval_step(select_inputs(x), y, mask)
        for key in totals:
            totals[key] += float(out[key])
    loss = totals["loss_sum"] / max(totals["tokens"], 1.0)
    return {
        "loss": loss,
        "token_accuracy": totals["correct"] / max(totals["tokens"], 1.0),
        "perplexity": math.exp(min(loss, 50.0)),
    }
