"""Luong (multiplicative) attention: dot and general scores."""

import keras
from keras import ops

from seq2seq.errors import ConfigError
from seq2seq.layers.attention_base import AttentionBase


@keras.saving.register_keras_serializable(package="seq2seq")
class LuongAttention(AttentionBase):
    """Luong et al. (2015) attention: score(q, m) = q . m (dot) or q . W m (general).

    Args:
        score_mode: "dot" (needs H_q == H_mem) or "general" (a (H_mem, H_q) matrix, no bias).

    Call args and returns: see `AttentionBase` (query (B, [T,] H_q), memory (B, S, H_mem),
    memory_padding_mask bool (B, S) -> context (B, [T,] H_mem), weights (B, [T,] S)).
    """

    def __init__(self, score_mode="general", **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "general"):
            raise ValueError(f"score_mode must be dot or general, got {score_mode!r}")
        self.score_mode = score_mode
        self.memory_projection = None

    def build(self, query_shape, memory_shape, memory_padding_mask_shape=None):
        query_units, memory_units = query_shape[-1], memory_shape[-1]
        if self.score_mode == "dot" and query_units != memory_units:
            raise ConfigError(
                f"dot attention needs query size ({query_units}) == memory size ({memory_units})"
            )
        if self.score_mode == "general":
            self.memory_projection = keras.layers.Dense(
                query_units, use_bias=False, name="memory_projection"
            )
            self.memory_projection.build(tuple(memory_shape))
        self.built = True

    def project_memory(self, memory):
        if self.memory_projection is None:
            return memory  # (B, S, H_mem), H_mem == H_q
        return self.memory_projection(memory)  # (B, S, H_q)

    def score(self, query, keys):
        return ops.matmul(query, ops.transpose(keys, (0, 2, 1)))  # (B, T, S)

    def get_config(self):
        config = super().get_config()
        config.update({"score_mode": self.score_mode})
        return config
