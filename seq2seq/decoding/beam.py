"""Beam search: keep the K best hypotheses of each sentence, ranked by length-penalized score.

Each step scores all K·V extensions of a sentence's beams with the length penalty and keeps the
best K; the loop reorders the decoder state by the returned parents. A finished beam (EOS emitted
or length limit reached) stays in the beam: its only extension is PAD at zero cost, so its score
and length are frozen and it competes with the live beams on its final score. The loop stops when
every beam is finished.

Early stopping (`early_stopping`, on by default) ends a sentence as soon as its N best
hypotheses are final: when N of its beams are finished and the N-th best of them scores above
what any live beam could still reach. Log-probabilities only fall as tokens are added and every
length penalty here grows with the length, so a live beam's best reachable score is its
log-probability so far over the penalty at the sentence's length limit; nothing it extends to
can outrank the N finished ones, so the returned hypotheses, scores and order are those of the
exhaustive search (the unreturned K - N rows are frozen where they are). N = K never stops
early.
"""

import dataclasses

import tensorflow as tf

from seq2seq.decoding.greedy import best_tokens
from seq2seq.decoding.length_penalty import LENGTH_PENALTIES, penalized_scores
from seq2seq.decoding.loop import decode
from seq2seq.decoding.strategy import SearchStrategy

SPECIAL_IDS_NEVER_EMITTED = 2  # PAD and BOS


@dataclasses.dataclass(frozen=True)
class BeamSearch(SearchStrategy):
    """K = `beam_size` beams per sentence, the best N = `n_best` returned; see module docstring.

    length_penalty, alpha: see `seq2seq.decoding.length_penalty`; they rank hypotheses both while
    searching and at the end. The target vocabulary needs at least K + 2 ids.
    """

    beam_size: int = 5
    n_best: int = 1
    length_penalty: str = "gnmt"
    alpha: float = 0.6
    early_stopping: bool = True

    def __post_init__(self):
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if not 1 <= self.n_best <= self.beam_size:
            raise ValueError(
                f"n_best must be between 1 and beam_size ({self.beam_size}), got {self.n_best}"
            )
        if self.length_penalty not in LENGTH_PENALTIES:
            raise ValueError(
                f"length penalty must be one of {LENGTH_PENALTIES}, got {self.length_penalty!r}"
            )

    def initial_log_probs(self, batch):
        # Identical start beams: only the first is expanded at the first step.
        first_only = tf.one_hot(0, self.beam_size, on_value=0.0, off_value=float("-inf"))  # (K,)
        return tf.tile(first_only, [batch])

    def step(self, log_probs, totals, num_tokens):
        k = self.beam_size
        vocab = self._checked_vocab_size(log_probs)
        if k == 1:
            # The penalty divides all extensions of a row by the same positive number, so the
            # best one is the argmax: no top_k, no reordering (measured ~4% faster than top_k).
            next_ids, totals = best_tokens(log_probs, totals)
            return next_ids, None, totals
        totals = totals[:, None] + log_probs  # (R, V)
        scores = self.scores(totals, num_tokens[:, None])  # (R, V)
        batch = tf.shape(totals)[0] // k
        _, best = tf.math.top_k(tf.reshape(scores, [batch, k * vocab]), k)  # (B, K)
        parents = tf.reshape(best // vocab + tf.range(batch)[:, None] * k, [-1])  # (R,)
        next_ids = tf.reshape(best % vocab, [-1])  # (R,)
        totals = tf.gather(tf.reshape(totals, [batch, k * vocab]), best, batch_dims=1)  # (B, K)
        return next_ids, parents, tf.reshape(totals, [-1])

    def scores(self, log_probs, num_tokens):
        return penalized_scores(log_probs, num_tokens, self.length_penalty, self.alpha)

    def decided(self, finished, totals, num_tokens, row_limits):
        """Also every row of a sentence whose N best are final (see the module docstring)."""
        k, n = self.beam_size, self.n_best
        if not self.early_stopping or n == k or self.alpha < 0:  # alpha < 0: shrinking penalty
            return finished
        batch = tf.shape(finished)[0] // k
        done = tf.reshape(finished, [batch, k])
        scores = tf.reshape(self.scores(totals, num_tokens), [batch, k])
        nth_best = tf.math.top_k(tf.where(done, scores, float("-inf")), n).values[:, -1]  # (B,)
        reachable = tf.reshape(self.scores(totals, row_limits), [batch, k])
        best_live = tf.reduce_max(tf.where(done, float("-inf"), reachable), axis=1)  # (B,)
        return finished | tf.repeat(nth_best > best_live, k)  # -inf > -inf is False

    def _checked_vocab_size(self, log_probs):
        """V, after checking V >= K + 2 (statically when V is known at trace time)."""
        need = self.beam_size + SPECIAL_IDS_NEVER_EMITTED
        message = f"beam_size {self.beam_size} needs a target vocabulary of at least {need} ids"
        static = log_probs.shape[-1]
        if static is not None:
            if static < need:
                raise ValueError(f"{message} (PAD and BOS are never emitted), got {static}")
            return static
        vocab = tf.shape(log_probs)[1]
        with tf.control_dependencies([tf.debugging.assert_greater_equal(vocab, need, message)]):
            return tf.identity(vocab)


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
    attention: bool = False,
    early_stopping: bool = True,
) -> dict[str, tf.Tensor]:
    """The `n_best` highest-scoring hypotheses of a `beam_size` beam search, per sentence.

    Arguments and result as `seq2seq.decoding.loop.decode`, with `BeamSearch(beam_size, n_best,
    length_penalty, alpha, early_stopping)`: scores are length-penalized, sorted descending.
    """
    return decode(
        model,
        source_ids,
        source_padding_mask,
        BeamSearch(beam_size, n_best, length_penalty, float(alpha), early_stopping),
        max_length_a,
        max_length_b,
        attention,
    )
