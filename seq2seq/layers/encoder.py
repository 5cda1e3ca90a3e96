"""Masked (bi)GRU encoder: source ids -> memory and final states, unaffected by padding."""

import keras
from keras import ops

from seq2seq.layers.masked_gru import MaskedBiGRU, MaskedGRU


@keras.saving.register_keras_serializable(package="seq2seq")
class MaskedGRUEncoder(keras.layers.Layer):
    """Embedding -> stack of (bidirectional) GRUs, masked by `source_padding_mask`.

    Each GRU gets the mask explicitly (`mask=`), so a padded step neither updates the state nor
    the backward direction's start: outputs at real positions and final states are the same
    however much right padding a row carries. The GRUs keep the settings of the fused cuDNN
    kernel (tanh/sigmoid, no recurrent dropout, no unroll, bias, reset_after).

    Args:
        vocab_size: source vocabulary size V_src.
        embedding_dim: embedding size E.
        units: GRU units per direction H.
        num_layers: number of stacked GRU layers L.
        bidirectional: run each layer in both directions.
        merge_mode: "concat" (outputs 2H) or "sum" (outputs H) of the two directions; final
            states are merged the same way.
        dropout: dropout rate on the embeddings and between layers.
        rnn: "keras" (keras.layers.GRU, cuDNN on a GPU) or "fused" (`MaskedGRU`, faster on
            the CPU); same weights, so checkpoints load either way.

    Call args:
        source_ids: int (B, S).
        source_padding_mask: bool (B, S), True = real token (right padding only).
        training: Python bool.

    Returns:
        memory: (B, S, H_mem) top-layer outputs, exactly zero at padded positions,
            H_mem = `output_units`.
        states: tuple of L tensors (B, H_mem), the final state of each layer (the state after
            the last real token; for the backward direction, after the first token).
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        units,
        num_layers=1,
        bidirectional=False,
        merge_mode="concat",
        dropout=0.0,
        rnn="keras",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rnn not in ("keras", "fused"):
            raise ValueError(f"rnn must be keras or fused, got {rnn!r}")
        if merge_mode not in ("concat", "sum"):
            raise ValueError(f"merge_mode must be concat or sum, got {merge_mode!r}")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.merge_mode = merge_mode
        self.dropout = dropout
        self.rnn = rnn
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        # One attribute per layer, not a list: tf.train.Checkpoint does not see layers held in
        # Keras-tracked lists, it would silently skip their weights.
        for index in range(num_layers):
            setattr(self, f"rnn_{index}", self._make_rnn(index))
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")

    @property
    def rnn_layers(self):
        """The L (bidirectional) GRU layers, bottom first."""
        return [getattr(self, f"rnn_{index}") for index in range(self.num_layers)]

    @property
    def output_units(self):
        """H_mem: size of the memory vectors and of each final state."""
        both = self.bidirectional and self.merge_mode == "concat"
        return self.units * (2 if both else 1)

    def _make_rnn(self, index):
        if self.rnn == "fused" and self.bidirectional:
            return MaskedBiGRU(self.units, self.merge_mode, name=f"bigru_{index}")
        if self.rnn == "fused":
            return MaskedGRU(self.units, name=f"gru_{index}")
        gru = keras.layers.GRU(
            self.units, return_sequences=True, return_state=True, name=f"gru_{index}"
        )
        if not self.bidirectional:
            return gru
        return keras.layers.Bidirectional(gru, merge_mode=self.merge_mode, name=f"bigru_{index}")

    def build(self, source_ids_shape, source_padding_mask_shape=None):
        batch, length = source_ids_shape[0], source_ids_shape[1]
        self.embedding.build(source_ids_shape)
        features = self.embedding_dim
        for rnn in self.rnn_layers:
            rnn.build((batch, length, features))
            features = self.output_units
        self.built = True

    def call(self, source_ids, source_padding_mask, training=False):
        mask = ops.cast(source_padding_mask, "bool")  # (B, S)
        x = self.dropout_layer(self.embedding(source_ids), training=training)  # (B, S, E)
        states = []
        for index, rnn in enumerate(self.rnn_layers):
            if index > 0:
                x = self.dropout_layer(x, training=training)
            x, state = self._run_rnn(rnn, x, mask, training)  # (B, S, H_mem), (B, H_mem)
            states.append(state)
        memory = ops.where(mask[:, :, None], x, ops.zeros_like(x))  # (B, S, H_mem)
        return memory, tuple(states)

    def _run_rnn(self, rnn, x, mask, training):
        """One (bi)GRU layer with an explicit mask -> outputs (B, S, H_mem), state (B, H_mem)."""
        fused = self.rnn == "fused"
        if not self.bidirectional:
            return (
                rnn(x, mask, training=training) if fused else rnn(x, mask=mask, training=training)
            )
        if fused:
            outputs, forward, backward = rnn(x, mask, training=training)
        else:
            outputs, forward, backward = rnn(x, mask=mask, training=training)
        if self.merge_mode == "concat":
            return outputs, ops.concatenate([forward, backward], axis=-1)
        return outputs, forward + backward

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "merge_mode": self.merge_mode,
                "dropout": self.dropout,
                "rnn": self.rnn,
            }
        )
        return config
