"""`SearchStrategy`: what differs between greedy and beam search, as a small object that the
one search loop (`seq2seq.decoding.loop.search_loop`) calls at each step.

B sentences with K = `beam_size` hypotheses each run as R = B·K rows, row b·K + k holding
hypothesis k of sentence b. The loop owns everything else: the model callback, the frozen
extension of finished rows (PAD at zero cost), lengths, the stop test, reordering the decoder
state, and the final (B, N, L) layout.
"""

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class SearchStrategy:
    """Base class. Subclasses are frozen dataclasses of plain Python fields (the search's
    `tf.function` is traced once per distinct field values, see `seq2seq.decoding.loop`)."""

    # Plain class attributes (not fields); a subclass may redeclare them as fields.
    beam_size = 1  # K, the rows (hypotheses) kept per sentence
    n_best = 1  # N <= K, the hypotheses returned per sentence: the first N rows of each

    def initial_log_probs(self, batch: tf.Tensor) -> tf.Tensor:
        """float32 (R,), the log-probability each row starts from."""
        return tf.zeros([batch * self.beam_size], tf.float32)

    def step(
        self, log_probs: tf.Tensor, totals: tf.Tensor, num_tokens: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor | None, tf.Tensor]:
        """Choose the next token of every row.

        Args:
          log_probs: float32 (R, V), this step's token log-probabilities; -inf for banned ids, and
            a finished row is 0 at PAD and -inf elsewhere.
          totals: float32 (R,), each row's log-probability so far.
          num_tokens: int32 (R,), each row's output length once this step is taken.

        Returns:
          next_ids: int32 (R,), the token that ends new row r.
          parents: int32 (R,), the old row that new row r extends (within the same sentence), or
            None if every row extends itself.
          totals: float32 (R,), the log-probability of new row r.
        Rows must come out sorted best first within each sentence.
        """
        raise NotImplementedError

    def decided(
        self,
        finished: tf.Tensor,
        totals: tf.Tensor,
        num_tokens: tf.Tensor,
        row_limits: tf.Tensor,
    ) -> tf.Tensor:
        """bool (R,): `finished`, plus the rows of every sentence whose returned hypotheses can
        no longer change, which the loop then freezes like finished rows (none by default).

        Args (after this step, rows in their new order): finished bool (R,); totals float32
        (R,); num_tokens int32 (R,); row_limits int32 (R,), each row's length limit.
        """
        return finished

    def scores(self, log_probs: tf.Tensor, num_tokens: tf.Tensor) -> tf.Tensor:
        """Final ranking scores of hypotheses from their log-probabilities and lengths (EOS
        included); any shape, float32."""
        return log_probs

    def fields(self) -> tuple:
        """The field values, in order: `type(s)(*s.fields()) == s`."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))
