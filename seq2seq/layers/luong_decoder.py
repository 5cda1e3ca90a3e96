"""Luong-style decoder: masked GRU over the whole target, then one batched attention."""

import keras
from keras import ops

from seq2seq.layers.decoder_base import DecoderBase
from seq2seq.layers.masked_gru import MaskedGRU


@keras.saving.register_keras_serializable(package="seq2seq")
class LuongDecoder(DecoderBase):
    """Luong et al. (2015) "global attention" decoder without input feeding.

    Teacher forcing runs without a per-step loop of its own: the GRU stack runs over the whole
    target (masked, cuDNN-eligible), then attention of all T hidden states over the memory in
    one batched op, then h~ = tanh(W [c; h]) and the output projection.

    Args: see `DecoderBase`, plus
        rnn: "keras" (keras.layers.GRU, cuDNN on a GPU) or "fused" (`MaskedGRU`, faster on the
            CPU); both keep the weights in `gru_<i>.cell`, which `step` uses.

    State: tuple of L tensors (B, H), one per GRU layer.

    Call args:
        target_in_ids: int (B, T), bos + target pieces.
        target_padding_mask: bool (B, T), True = real token.
        initial_state: tuple of L tensors (B, H).
        memory: (B, S, H_mem) encoder outputs.
        memory_padding_mask: bool (B, S).
        training: Python bool.
        positions: None, or int64 (N, 2) real target positions: then logits (N, V) there only.

    Returns:
        logits (B, T, V) (0 at padded steps), attention weights (B, T, S).
    """

    def __init__(self, vocab_size, embedding_dim, units, rnn="keras", **kwargs):
        super().__init__(vocab_size, embedding_dim, units, **kwargs)
        if rnn not in ("keras", "fused"):
            raise ValueError(f"rnn must be keras or fused, got {rnn!r}")
        self.rnn = rnn
        # One attribute per layer, not a list: tf.train.Checkpoint skips Keras-tracked lists.
        for index in range(self.num_layers):
            if rnn == "fused":
                gru = MaskedGRU(units, name=f"gru_{index}")
            else:
                gru = keras.layers.GRU(
                    units, return_sequences=True, return_state=True, name=f"gru_{index}"
                )
            setattr(self, f"gru_{index}", gru)

    @property
    def grus(self):
        """The L GRU layers, bottom first."""
        return [getattr(self, f"gru_{index}") for index in range(self.num_layers)]

    def build(
        self, target_in_ids_shape, initial_state_shape, memory_shape, memory_padding_mask_shape=None
    ):
        self._build_common(memory_shape)
        batch, length = target_in_ids_shape[0], target_in_ids_shape[1]
        features = self.embedding_dim
        for gru in self.grus:
            gru.build((batch, length, features))
            features = self.units
        self.built = True

    def call(
        self,
        target_in_ids,
        target_padding_mask,
        initial_state,
        memory,
        memory_padding_mask,
        training=False,
        positions=None,
    ):
        mask = ops.cast(target_padding_mask, "bool")  # (B, T)
        x = self.dropout_layer(self.embedding(target_in_ids), training=training)  # (B, T, E)
        for index, gru in enumerate(self.grus):
            if index > 0:
                x = self.dropout_layer(x, training=training)
            if self.rnn == "fused":
                x, _ = gru(x, mask, initial_state=initial_state[index], training=training)
            else:
                x, _ = gru(x, initial_state=[initial_state[index]], mask=mask, training=training)
        # x: (B, T, H) top-layer states
        # context (B, T, H_mem), weights (B, T, S): all steps in one batched op
        context, weights = self.attention(x, memory, memory_padding_mask)
        h_tilde = self.attentional_vector(context, x)  # (B, T, H)
        logits = self.sequence_logits(h_tilde, mask, training, positions)  # (B, T, V)
        return logits, weights

    def step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        """One step: prev_ids int (B,), state tuple of L (B, H) -> logits (B, V), new state,
        attention (B, S). Uses the same weights as `call` (the GRU layers' cells)."""
        x = self.dropout_layer(self.embedding(prev_ids), training=training)  # (B, E)
        new_state = []
        for index, gru in enumerate(self.grus):
            if index > 0:
                x = self.dropout_layer(x, training=training)
            x, _ = gru.cell(x, [state[index]], training=training)  # (B, H)
            new_state.append(x)
        context, weights = self.attention.attend(
            x, memory.keys, memory.values, memory_padding_mask
        )  # (B, H_mem), (B, S)
        h_tilde = self.attentional_vector(context, x)  # (B, H)
        return self.output_logits(h_tilde, training=training), tuple(new_state), weights

    def get_config(self):
        config = super().get_config()
        config.update({"rnn": self.rnn})
        return config
