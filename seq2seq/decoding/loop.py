"""The one search loop: `search_loop` runs any `SearchStrategy` over a `next_log_probs` callback
as a single graph-mode `tf.while_loop`; `decode` runs it on a model inside a `tf.function`.

Result of every search (L = decoding steps run, the largest output length in the batch; N = the
strategy's `n_best`, 1 for greedy):
  ids:       int32   (B, N, L)  no BOS, EOS included, PAD (0) after it.
  scores:    float32 (B, N)     the strategy's ranking score (beam: length-penalized log-prob;
                                greedy: the plain log-prob), sorted descending.
  log_probs: float32 (B, N)     sum of the log-probabilities of the non-pad `ids`, EOS included.
  lengths:   int32   (B, N)     tokens before EOS.
  attention: float32 (B, N, L, S), only when asked for: the attention of each output token, 0
                                after the end.
"""

import tensorflow as tf

from seq2seq.constants import BOS_ID, EOS_ID
from seq2seq.decoding.common import (
    check_built,
    mask_finished,
    max_output_lengths,
    output_lengths,
)
from seq2seq.decoding.model_step import NextLogProbs, start_model
from seq2seq.decoding.strategy import SearchStrategy


def decode(
    model,
    source_ids,
    source_padding_mask,
    strategy: SearchStrategy,
    max_length_a: float = 2.0,
    max_length_b: float = 10.0,
    attention: bool = False,
) -> dict[str, tf.Tensor]:
    """Search the outputs of `model` for source_ids int32 (B, S) / source_padding_mask bool (B, S).

    Args:
      model: has `encode` and `decode_step` (see `seq2seq.decoding.model_step`); must be built.
      strategy: e.g. `GreedySearch()` or `BeamSearch(beam_size=5)`.
      max_length_a, max_length_b: each sentence stops after `max(1, floor(a * S_b + b))` tokens,
        EOS included (S_b = its real source length).
      attention: also return the attention of each output token.
    Returns the dict described in the module docstring.
    """
    check_built(model)
    # tf.function keys a plain object by identity (a new trace per instance); the strategy's
    # class and field values key it by value, so equal strategies share one trace.
    return _decode(
        model,
        tf.cast(source_ids, tf.int32),
        tf.cast(source_padding_mask, tf.bool),
        tf.constant(max_length_a, tf.float32),
        tf.constant(max_length_b, tf.float32),
        type(strategy),
        strategy.fields(),
        attention,
    )


@tf.function(reduce_retracing=True)
def _decode(
    model,
    source_ids,
    source_padding_mask,
    max_length_a,
    max_length_b,
    strategy_type,
    strategy_fields,
    attention,
):
    strategy = strategy_type(*strategy_fields)
    next_log_probs, state = start_model(model, source_ids, source_padding_mask, strategy.beam_size)
    max_lengths = max_output_lengths(source_padding_mask, max_length_a, max_length_b)
    return search_loop(next_log_probs, state, strategy, max_lengths, attention)


def search_loop(
    next_log_probs: NextLogProbs,
    state,
    strategy: SearchStrategy,
    max_lengths: tf.Tensor,
    attention: bool = False,
) -> dict[str, tf.Tensor]:
    """Run `strategy` until every row is finished (EOS emitted or length limit reached).

    Args:
      next_log_probs: the model callback (`seq2seq.decoding.model_step`), over R = B·K rows.
      state: its initial state for the R rows (any nest, rows first).
      strategy: K = strategy.beam_size rows per sentence.
      max_lengths: int32 (B,), output tokens allowed per sentence, EOS included.
      attention: also collect the attention of each output token.
    Returns the dict described in the module docstring. Call it inside a `tf.function`.
    """
    batch = tf.shape(max_lengths)[0]
    rows = batch * strategy.beam_size
    row_limits = tf.repeat(max_lengths, strategy.beam_size)  # (R,)
    # Arrays of one element per step, sized for the longest output (no row runs past its limit):
    # of fixed size, and of static element shape when the batch is, the LiteRT converter turns
    # them into plain tensors (seq2seq.inference.tflite).
    max_steps = tf.maximum(tf.reduce_max(max_lengths), 0)  # 0 for an empty batch
    static_rows = (
        None if max_lengths.shape[0] is None else max_lengths.shape[0] * strategy.beam_size
    )

    def step_array(dtype, element_shape) -> tf.TensorArray:
        return tf.TensorArray(dtype, size=max_steps, element_shape=element_shape)

    # With one row per sentence a row's parent is itself: no parents array, no reordering (an
    # unwritten TensorArray loop variable also stops the LiteRT converter).
    reorders = strategy.beam_size > 1

    def body(v):
        t, finished = v["t"], v["finished"]
        log_probs, state, step_attention = next_log_probs(v["prev_ids"], v["state"])
        log_probs = mask_finished(log_probs, finished)  # (R, V)
        num_tokens = v["num_tokens"] + tf.cast(~finished, tf.int32)  # (R,): length after the step
        next_ids, parents, totals = strategy.step(log_probs, v["totals"], num_tokens)
        per_row = {"state": state, "finished": finished, "num_tokens": num_tokens}
        if attention:  # (R, S), 0 for rows finished before this step
            step_attention = tf.cast(step_attention, tf.float32)
            per_row["attention"] = tf.where(finished[:, None], 0.0, step_attention)
        out = dict(v, t=t + 1, prev_ids=next_ids, totals=totals)
        if parents is not None and reorders:  # new row r extends old row parents[r]
            per_row = tf.nest.map_structure(lambda x: tf.gather(x, parents), per_row)
            out["parents"] = v["parents"].write(t, parents)
        out["tokens"] = v["tokens"].write(t, next_ids)
        if attention:
            out["attention"] = v["attention"].write(t, per_row.pop("attention"))
        out.update(per_row)
        finished = per_row["finished"] | (next_ids == EOS_ID) | (t + 1 >= row_limits)
        out["finished"] = strategy.decided(finished, totals, out["num_tokens"], row_limits)
        return (out,)

    loop_vars = {
        "t": tf.constant(0),
        "prev_ids": tf.fill([rows], BOS_ID),
        "state": state,
        "finished": tf.zeros([rows], tf.bool),
        "totals": strategy.initial_log_probs(batch),
        "num_tokens": tf.zeros([rows], tf.int32),
        "tokens": step_array(tf.int32, [static_rows]),
    }
    if reorders:
        loop_vars["parents"] = step_array(tf.int32, [static_rows])
    if attention:
        loop_vars["attention"] = step_array(tf.float32, [static_rows, None])
    (v,) = tf.while_loop(
        lambda v: ~tf.reduce_all(v["finished"]),
        body,
        (loop_vars,),
        shape_invariants=(_row_invariants(loop_vars),),
    )
    return _finalize(v, strategy, batch)


def _row_invariants(loop_vars):
    """Loop shape invariants: the row count (first axis) of every tensor may change, since the
    batch is only known at run time inside the loop; TensorArrays keep their own."""

    def invariant(x):
        if isinstance(x, tf.TensorArray):
            return tf.TensorShape(None)
        return tf.TensorShape([None] * x.shape.rank)

    return tf.nest.map_structure(invariant, loop_vars)


def _finalize(v, strategy: SearchStrategy, batch) -> dict[str, tf.Tensor]:
    """Loop variables -> the result dict: follow the parents back from the final rows, then keep
    the first N rows of each sentence (the strategy keeps them sorted best first)."""
    k, n = strategy.beam_size, strategy.n_best
    rows = tf.shape(v["totals"])[0]
    tokens = _stack(v["tokens"], v["t"], [0, rows])  # (L, R)
    attention = _stack(v["attention"], v["t"], [0, rows, 0]) if "attention" in v else None
    if "parents" in v:
        ancestors = _ancestors(_stack(v["parents"], v["t"], [0, rows]))  # (L, R)
        tokens = tf.gather(tokens, ancestors, batch_dims=1)
        if attention is not None:
            attention = tf.gather(attention, ancestors, batch_dims=1)
    steps = tf.shape(tokens)[0]
    ids = tf.reshape(tf.transpose(tokens), [batch, k, steps])[:, :n]  # (B, N, L)
    log_probs = tf.reshape(v["totals"], [batch, k])[:, :n]
    num_tokens = tf.reshape(v["num_tokens"], [batch, k])[:, :n]
    out = {
        "ids": ids,
        "scores": strategy.scores(log_probs, num_tokens),
        "log_probs": log_probs,
        "lengths": output_lengths(ids),
    }
    if attention is not None:
        attention = tf.transpose(attention, [1, 0, 2])  # (R, L, S)
        source_length = tf.shape(attention)[2]
        out["attention"] = tf.reshape(attention, [batch, k, steps, source_length])[:, :n]
    return out


def _stack(array: tf.TensorArray, size: tf.Tensor, empty_shape) -> tf.Tensor:
    """The first `size` elements of `array` stacked (the steps run; the unwritten rest stack as
    zeros), or zeros of `empty_shape` if there were none (an empty batch stops the loop before
    its first step, and an empty TensorArray of unknown shape cannot stack)."""
    if array.element_shape.is_fully_defined():  # a static batch: no tf.cond (LiteRT)
        return array.stack()[:size]
    return tf.cond(
        size > 0, lambda: array.stack()[:size], lambda: tf.zeros(empty_shape, array.dtype)
    )


def _ancestors(parents: tf.Tensor) -> tf.Tensor:
    """rows[t, r]: the row at step t of the hypothesis that ends in row r, from parents int32
    (L, R) (parents[t, r] = the row at step t - 1 that row r extends at step t). Returns (L, R).

    A loop from the last step back: rows[L - 1] = r, rows[t - 1] = parents[t][rows[t]]. Not
    `tf.scan`, whose input array the LiteRT converter cannot lower."""
    steps, num_rows = tf.shape(parents)[0], tf.shape(parents)[1]
    final_rows = tf.range(num_rows)
    final_rows.set_shape(parents.shape[1:])
    rows = tf.TensorArray(tf.int32, size=steps, element_shape=parents.shape[1:])

    def body(t, step_rows, rows):
        return t - 1, tf.gather(parents[t], step_rows), rows.write(t, step_rows)

    _, _, rows = tf.while_loop(lambda t, *_: t >= 0, body, (steps - 1, final_rows, rows))
    return _stack(rows, steps, [0, num_rows])
