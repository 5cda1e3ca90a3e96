"""Shared masking, softmax and context computation of the attention layers."""

from typing import NamedTuple

import keras
from keras import ops


class Memory(NamedTuple):
    """What decoding steps attend to, computed once per source by `Seq2Seq.encode`.

    A nest of tensors with batch first, so search code tiles or gathers it with
    `tf.nest.map_structure`.
    """

    values: object  # (B, S, H_mem) encoder outputs, 0 at padded positions
    keys: object  # (B, S, K) `AttentionBase.project_memory(values)`


# Score given to padded memory positions before the softmax: exp(-1e9 - max) underflows to an
# exact 0 in float32; the weights are also zeroed explicitly after the softmax.
_MASKED_SCORE = -1e9


def masked_softmax(scores, memory_padding_mask):
    """Softmax over the last axis that gives exactly 0 to padded positions.

    Args:
        scores: (B, T, S) or (B, S) float.
        memory_padding_mask: bool (B, S), True = real position; no all-padding row.

    Returns:
        weights shaped as scores; each row sums to 1 over its real positions.
    """
    mask = ops.cast(memory_padding_mask, "bool")  # (B, S)
    if len(scores.shape) == 3:
        mask = mask[:, None, :]  # (B, 1, S)
    scores = ops.where(mask, scores, ops.cast(_MASKED_SCORE, scores.dtype))
    weights = ops.softmax(scores, axis=-1)
    return ops.where(mask, weights, ops.zeros_like(weights))


class AttentionBase(keras.layers.Layer):
    """Masked attention of queries over a memory; subclasses define the score.

    Subclasses implement `project_memory(memory) -> keys` (done once per source) and
    `score(query, keys) -> (B, T, S)`. `attend()` lets a step loop reuse the keys.

    Call args:
        query: (B, H_q) for one step or (B, T, H_q) for a whole target sequence.
        memory: (B, S, H_mem).
        memory_padding_mask: bool (B, S), True = real position.

    Returns:
        context: (B, H_mem) or (B, T, H_mem), the weighted sum of memory vectors.
        weights: (B, S) or (B, T, S), exactly 0 at padded positions, rows sum to 1.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Masks come in explicitly (memory_padding_mask); a Keras mask riding on the query
        # (e.g. from a masked GRU) is accepted silently and not propagated.
        self.supports_masking = True

    def compute_mask(self, *args, **kwargs):
        return None

    def project_memory(self, memory):
        """(B, S, H_mem) -> keys (B, S, K) used by `score`."""
        raise NotImplementedError

    def score(self, query, keys):
        """query (B, T, H_q), keys (B, S, K) -> scores (B, T, S)."""
        raise NotImplementedError

    def call(self, query, memory, memory_padding_mask):
        keys = self.project_memory(memory)  # (B, S, K)
        return self.attend(query, keys, memory, memory_padding_mask)

    def attend(self, query, keys, memory, memory_padding_mask):
        """Attention with precomputed keys; same args as `call` plus keys (B, S, K)."""
        if not self.built:
            raise RuntimeError(f"{self.name}: build() the attention before attend()")
        single_step = len(query.shape) == 2
        if single_step:
            query = query[:, None, :]  # (B, 1, H_q)
        weights = masked_softmax(self.score(query, keys), memory_padding_mask)  # (B, T, S)
        context = ops.matmul(weights, memory)  # (B, T, H_mem)
        if single_step:
            return context[:, 0, :], weights[:, 0, :]  # (B, H_mem), (B, S)
        return context, weights
