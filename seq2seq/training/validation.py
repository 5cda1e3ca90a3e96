"""Validation: loss and token accuracy over a whole split, and task metrics from decoding."""

import math
from typing import Callable

import numpy as np
import tensorflow as tf

from seq2seq.evaluation import score
from seq2seq.inference.decode import Decoded
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


def task_metrics(task: str, decoded: Decoded) -> dict[str, float]:
    """Task scores (g2p: wer, per; translation: bleu, chrf, ter) as plain floats."""
    scores = score(task, decoded.hypotheses, decoded.references)
    return {k: float(v) for k, v in scores.items() if isinstance(v, (int, float, np.floating))}


def sample_lines(decoded: Decoded, count: int) -> list[str]:
    """A few `source → hypothesis (reference)` lines for TensorBoard text."""
    lines = []
    for src, hyp, refs in list(zip(decoded.sources, decoded.hypotheses, decoded.references))[:count]:
        mark = "✓" if hyp in refs else "✗"
        lines.append(f"{mark} `{src}` → `{hyp}` (reference: `{refs[0]}`)")
    return lines
