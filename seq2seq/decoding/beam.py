"""Batched beam search over `model.encode` / `model.decode_step`, as one graph-mode while loop.

B sentences with beam K run as R = B·K rows, row b·K + k holding beam k of sentence b. Each step
scores all K·V extensions of a sentence's beams with the length penalty and keeps the best K,
reordering the decoder state with `tf.gather`. A finished beam (EOS emitted or length limit reached)
stays in the beam: its only extension is PAD at zero cost, so its score and length are frozen and it
competes with the live beams on its final score. The loop stops when every beam is finished.
"""

import tensorflow as tf

from seq2seq.constants import BOS_ID, EOS_ID, PAD_ID
from seq2seq.decoding.common import (
    check_built,
    max_output_lengths,
    output_lengths,
    token_log_probs,
)
from seq2seq.decoding.length_penalty import penalized_scores


def beam_search(
    model,
    source_ids,
    source_padding_mask,
    beam_size: int = 5,
    n_best: int = 1,
    length_penalty: str = "gnmt",
    alpha: float = 0.6,
    max_length_a: float = 2.0,
    max_length_b: float = 10.0,
) -> dict[str, tf.Tensor]:
    """The `n_best` highest-scoring hypotheses of a `beam_size` beam search, per sentence.

    Args:
      model, source_ids int32 (B, S), source_padding_mask bool (B, S), max_length_a,
        max_length_b: as in `greedy_search`.
      beam_size: K; the target vocabulary needs at least K + 2 ids (PAD and BOS are never emitted).
      n_best: N <= K hypotheses returned per sentence, best first.
      length_penalty, alpha: see `seq2seq.decoding.length_penalty`; used to rank hypotheses
        both while searching and at the end.

    Returns (L = decoding steps run):
      ids: int32 (B, N, L), no BOS, EOS included, PAD (0) after it.
      lengths: int32 (B, N), tokens before EOS.
      scores: float32 (B, N), length-penalized log-probabilities, sorted descending.
      log_probs: float32 (B, N), raw sums of the log-probabilities of the non-pad `ids`.
    """
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"need 1 <= n_best <= beam_size, got {n_best} and {beam_size}")
    check_built(model)
    return _beam_loop(
        model,
        tf.cast(source_ids, tf.int32),
        tf.cast(source_padding_mask, tf.bool),
        tf.constant(max_length_a, tf.float32),
        tf.constant(max_length_b, tf.float32),
        tf.constant(alpha, tf.float32),
        beam_size,
        n_best,
        length_penalty,
    )


@tf.function(reduce_retracing=True)
def _beam_loop(
    model,
    source_ids,
    source_padding_mask,
    max_length_a,
    max_length_b,
    alpha,
    beam_size,
    n_best,
    length_penalty,
):
    memory, state = model.encode(source_ids, source_padding_mask, training=False)
    batch = tf.shape(source_ids)[0]
    rows = batch * beam_size
    max_lengths = max_output_lengths(source_padding_mask, max_length_a, max_length_b)
    memory = tf.repeat(memory, beam_size, axis=0)  # (R, S, H)
    memory_padding_mask = tf.repeat(source_padding_mask, beam_size, axis=0)  # (R, S)

    def step(t, prev_ids, state, finished, log_probs, num_tokens, ids):
        logits, state, _ = model.decode_step(
            prev_ids, state, memory, memory_padding_mask, training=False
        )
        gains = _mask_finished(token_log_probs(logits), finished)  # (R, V)
        vocab = tf.shape(gains)[1]
        tf.debugging.assert_greater_equal(vocab - 2, beam_size, "vocabulary smaller than beam + 2")
        totals = log_probs[:, None] + gains  # (R, V)
        num_tokens += tf.cast(~finished, tf.int32)  # (R,): length after this step
        scores = penalized_scores(totals, num_tokens[:, None], length_penalty, alpha)  # (R, V)
        _, best = tf.math.top_k(tf.reshape(scores, [batch, beam_size * vocab]), beam_size)  # (B, K)
        parents = tf.reshape(best // vocab + tf.range(batch)[:, None] * beam_size, [-1])  # (R,)
        next_ids = tf.reshape(best % vocab, [-1])  # (R,)
        finished = tf.gather(finished, parents) | (next_ids == EOS_ID)
        finished |= t + 1 >= tf.repeat(max_lengths, beam_size)
        ids = tf.concat([tf.gather(ids, parents), next_ids[:, None]], axis=1)  # (R, t + 1)
        return (
            t + 1,
            next_ids,
            tuple(tf.gather(s, parents) for s in state),
            finished,
            tf.reshape(tf.gather(tf.reshape(totals, [batch, -1]), best, batch_dims=1), [-1]),
            tf.gather(num_tokens, parents),
            ids,
        )

    first_beam_only = tf.one_hot(0, beam_size, on_value=0.0, off_value=float("-inf"))  # (K,)
    loop_vars = (
        tf.constant(0),
        tf.fill([rows], BOS_ID),
        tuple(tf.repeat(s, beam_size, axis=0) for s in state),
        tf.zeros([rows], tf.bool),
        tf.tile(first_beam_only, [batch]),  # identical start beams: expand only the first
        tf.zeros([rows], tf.int32),
        tf.zeros([rows, 0], tf.int32),
    )
    # Rows (and the growing ids) may lose their static size inside the loop.
    invariants = tf.nest.map_structure(lambda v: tf.TensorShape([None] * v.shape.rank), loop_vars)
    _, _, _, _, log_probs, num_tokens, ids = tf.while_loop(
        lambda t, prev_ids, state, finished, *_: ~tf.reduce_all(finished),
        step,
        loop_vars,
        shape_invariants=invariants,
    )
    return _n_best(ids, log_probs, num_tokens, batch, beam_size, n_best, length_penalty, alpha)


def _mask_finished(gains: tf.Tensor, finished: tf.Tensor) -> tf.Tensor:
    """Rows of `gains` (R, V) whose beam is finished become 0 at PAD and -inf elsewhere."""
    pad_only = tf.where(tf.range(tf.shape(gains)[1]) == PAD_ID, 0.0, float("-inf"))  # (V,)
    return tf.where(finished[:, None], pad_only[None, :], gains)


def _n_best(ids, log_probs, num_tokens, batch, beam_size, n_best, length_penalty, alpha):
    """Beams arrive sorted by penalized score (top_k order); keep the first `n_best` of each."""
    ids = tf.reshape(ids, [batch, beam_size, -1])[:, :n_best]  # (B, N, L)
    log_probs = tf.reshape(log_probs, [batch, beam_size])[:, :n_best]
    num_tokens = tf.reshape(num_tokens, [batch, beam_size])[:, :n_best]
    return {
        "ids": ids,
        "lengths": output_lengths(ids),
        "scores": penalized_scores(log_probs, num_tokens, length_penalty, alpha),
        "log_probs": log_probs,
    }
