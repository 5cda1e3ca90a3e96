"""The only thing the search loop needs from a model: a `next_log_probs` callback.

    next_log_probs(prev_ids int32 (R,), state) -> (log_probs float32 (R, V), new_state, attention)

`log_probs` are the model's own log-probabilities with PAD and BOS at -inf; `state` is any nest of
tensors whose first axis is the row (R), returned with the same structure; `attention` is float
(R, S). The loop never sees the model, its memory or the source. An ensemble comes in as one
model (`seq2seq.decoding.ensemble.Ensemble`: `encode` / `decode_step` over its members).
"""

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from seq2seq.decoding.common import token_log_probs

NextLogProbs = Callable[[tf.Tensor, Any], tuple[tf.Tensor, Any, tf.Tensor]]


def repeat_rows(nest, repeats: int):
    """Every tensor of `nest` with each row (first axis) repeated `repeats` times in place:
    row b becomes rows b·K .. b·K + K - 1."""
    if repeats == 1:
        return nest
    return tf.nest.map_structure(lambda t: tf.repeat(t, repeats, axis=0), nest)


def start_model(
    model, source_ids: tf.Tensor, source_padding_mask: tf.Tensor, rows_per_sentence: int
) -> tuple[NextLogProbs, Any]:
    """Encode the source and return `(next_log_probs, initial_state)` for R = B·K rows.

    model: has `encode(source_ids, source_padding_mask, training) -> (memory, state)` and
      `decode_step(prev_ids, state, memory, memory_padding_mask, training) -> (logits, state,
      attention)`. `memory` and `state` are opaque nests of tensors with the batch first.
    source_ids: int32 (B, S); source_padding_mask: bool (B, S).
    rows_per_sentence: K; memory, mask and state are repeated K times per sentence.
    """
    memory, state = model.encode(source_ids, source_padding_mask, training=False)
    memory = repeat_rows(memory, rows_per_sentence)
    memory_padding_mask = repeat_rows(source_padding_mask, rows_per_sentence)  # (R, S)

    def next_log_probs(prev_ids, state):
        logits, new_state, attention = model.decode_step(
            prev_ids, state, memory, memory_padding_mask, training=False
        )
        # Same nest structure as the input (a layer may return a list for a tuple).
        new_state = tf.nest.pack_sequence_as(state, tf.nest.flatten(new_state))
        return token_log_probs(logits), new_state, attention

    return next_log_probs, repeat_rows(state, rows_per_sentence)
