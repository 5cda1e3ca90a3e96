"""Bahdanau (additive) attention: the layer, and its score math (`additive_scores`), which the
fused decoder loop (`bahdanau_recurrence`) calls too."""

import keras
from keras import ops

from seq2seq.layers.attention_base import AttentionBase


@keras.saving.register_keras_serializable(package="seq2seq")
class BahdanauAttention(AttentionBase):
    """Bahdanau et al. (2015) attention: score(q, m) = v . tanh(W_q q + W_m m + b).

    Args:
        units: hidden size A of the scoring network.

    Call args and returns: see `AttentionBase` (query (B, [T,] H_q), memory (B, S, H_mem),
    memory_padding_mask bool (B, S) -> context (B, [T,] H_mem), weights (B, [T,] S)).
    For a query sequence the score tensor is (B, T, S, A): fine for short sequences.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.query_projection = keras.layers.Dense(units, use_bias=False, name="query_projection")
        self.memory_projection = keras.layers.Dense(units, name="memory_projection")
        self.energy = keras.layers.Dense(1, use_bias=False, name="energy")

    def build(self, query_shape, memory_shape, memory_padding_mask_shape=None):
        self.query_projection.build(tuple(query_shape))
        self.memory_projection.build(tuple(memory_shape))
        self.energy.build((None, self.units))
        self.built = True

    def project_memory(self, memory):
        return self.memory_projection(memory)  # (B, S, A)

    def score(self, query, keys):
        kernel = ops.cast(self.query_projection.kernel, query.dtype)  # (H_q, A)
        energy = ops.cast(self.energy.kernel, query.dtype)[:, 0]  # (A,)
        return additive_scores(query, keys, kernel, energy)[1]  # (B, T, S)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


def additive_scores(query, keys, query_kernel, energy):
    """score(q, m) = v . tanh(q W_q + keys), keys = W_m m + b (`project_memory`).

    Args:
        query: (B, H_q) for one step or (B, T, H_q).
        keys: (B, S, A).
        query_kernel: W_q (H_q, A); energy: v (A,); all of the query's dtype.

    Returns:
        hidden: tanh(q W_q + keys), (B, S, A) or (B, T, S, A).
        scores: (B, S) or (B, T, S).
    """
    projected = ops.expand_dims(ops.matmul(query, query_kernel), -2)  # (B, [T,] 1, A)
    if len(query.shape) == 3:
        # (B, 1, S, A); expand_dims, not keys[:, None]: LiteRT has no builtin for a strided
        # slice that adds an axis to a tensor of unknown length (docs/export-litert.md).
        keys = ops.expand_dims(keys, 1)
    hidden = ops.tanh(projected + keys)
    return hidden, ops.tensordot(hidden, energy, 1)
