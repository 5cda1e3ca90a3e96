"""Batched greedy search over `model.encode` / `model.decode_step`, as one graph-mode while loop."""

import tensorflow as tf

from seq2seq.constants import BOS_ID, EOS_ID, PAD_ID
from seq2seq.decoding.common import (
    check_built,
    max_output_lengths,
    output_lengths,
    token_log_probs,
)


def greedy_search(
    model, source_ids, source_padding_mask, max_length_a: float = 2.0, max_length_b: float = 10.0
) -> dict[str, tf.Tensor]:
    """Pick the most probable token at each step until EOS or the length limit, per sentence.

    Ties go to the lowest id, as in `beam_search`, so a beam of 1 gives the same output.

    Args:
      model: has `encode(source_ids, source_padding_mask, training)` and
        `decode_step(prev_ids, state, memory, memory_padding_mask, training)`; must be built.
      source_ids: int32 (B, S), right-padded.
      source_padding_mask: bool (B, S), True = real token.
      max_length_a, max_length_b: each sentence stops after `max(1, floor(a * S_b + b))` tokens,
        EOS included (S_b = its real source length).

    Returns (L = decoding steps run, the largest output length in the batch):
      ids: int32 (B, L), no BOS, EOS included, PAD (0) after it.
      lengths: int32 (B,), tokens before EOS.
      scores: float32 (B,), sum of log-probabilities of the non-pad `ids` (EOS included).
      attention: float (B, L, S), the attention of each output token, 0 after the end.
    """
    check_built(model)
    return _greedy_loop(
        model,
        tf.cast(source_ids, tf.int32),
        tf.cast(source_padding_mask, tf.bool),
        tf.constant(max_length_a, tf.float32),
        tf.constant(max_length_b, tf.float32),
    )


@tf.function(reduce_retracing=True)
def _greedy_loop(model, source_ids, source_padding_mask, max_length_a, max_length_b):
    memory, state = model.encode(source_ids, source_padding_mask, training=False)
    max_lengths = max_output_lengths(source_padding_mask, max_length_a, max_length_b)  # (B,)
    batch = tf.shape(source_ids)[0]

    def step(t, prev_ids, state, finished, scores, tokens, attentions):
        logits, state, attention = model.decode_step(
            prev_ids, state, memory, source_padding_mask, training=False
        )
        log_probs = token_log_probs(logits)  # (B, V)
        next_ids = tf.argmax(log_probs, axis=-1, output_type=tf.int32)  # (B,)
        next_ids = tf.where(finished, PAD_ID, next_ids)
        gained = tf.gather(log_probs, next_ids, batch_dims=1)  # (B,)
        scores += tf.where(finished, 0.0, gained)
        attention = tf.where(finished[:, None], tf.zeros_like(attention), attention)  # (B, S)
        finished |= (next_ids == EOS_ID) | (t + 1 >= max_lengths)
        return (
            t + 1,
            next_ids,
            tuple(state),
            finished,
            scores,
            tokens.write(t, next_ids),
            attentions.write(t, attention),
        )

    loop_vars = (
        tf.constant(0),
        tf.fill([batch], BOS_ID),
        tuple(state),
        tf.zeros([batch], tf.bool),
        tf.zeros([batch], tf.float32),
        tf.TensorArray(tf.int32, size=0, dynamic_size=True),
        tf.TensorArray(memory.dtype, size=0, dynamic_size=True),
    )
    _, _, _, _, scores, tokens, attentions = tf.while_loop(
        lambda t, prev_ids, state, finished, *_: ~tf.reduce_all(finished), step, loop_vars
    )
    ids = tf.transpose(tokens.stack())  # (B, L)
    return {
        "ids": ids,
        "lengths": output_lengths(ids),
        "scores": scores,
        "attention": tf.transpose(attentions.stack(), [1, 0, 2]),  # (B, L, S)
    }
