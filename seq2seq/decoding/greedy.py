"""Greedy search: the most probable token at each step, one hypothesis per sentence."""

import dataclasses

import tensorflow as tf

from seq2seq.decoding.loop import decode
from seq2seq.decoding.strategy import SearchStrategy


def best_tokens(log_probs: tf.Tensor, totals: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Argmax of `log_probs` (R, V) per row (ties to the lowest id, as `tf.math.top_k`) and
    `totals` (R,) plus its log-probability. Returns int32 (R,), float32 (R,)."""
    next_ids = tf.argmax(log_probs, axis=-1, output_type=tf.int32)  # (R,)
    return next_ids, totals + tf.gather(log_probs, next_ids, batch_dims=1)


@dataclasses.dataclass(frozen=True)
class GreedySearch(SearchStrategy):
    """K = N = 1; scores are plain log-probabilities. A row never changes parent, so the loop
    neither reorders the decoder state nor backtracks."""

    def step(self, log_probs, totals, num_tokens):
        next_ids, totals = best_tokens(log_probs, totals)
        return next_ids, None, totals


def greedy_search(
    model,
    source_ids,
    source_padding_mask,
    max_length_a: float = 2.0,
    max_length_b: float = 10.0,
    attention: bool = False,
) -> dict[str, tf.Tensor]:
    """Pick the most probable token at each step until EOS or the length limit, per sentence.

    Ties go to the lowest id, as in `beam_search`, so a beam of 1 gives the same output.
    Arguments and result as `seq2seq.decoding.loop.decode`, with N = 1 and `scores == log_probs`.
    """
    return decode(
        model,
        source_ids,
        source_padding_mask,
        GreedySearch(),
        max_length_a,
        max_length_b,
        attention,
    )
