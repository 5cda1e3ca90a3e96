"""Parts shared by the Luong and Bahdanau decoders: embedding, attention, attentional layer
and the (optionally tied) output projection."""

import keras
import tensorflow as tf
from keras import ops

from seq2seq.layers.attention import make_attention
from seq2seq.layers.attention_base import Memory


class DecoderBase(keras.layers.Layer):
    """Base of the attentional GRU decoders; subclasses define the recurrence.

    Args:
        vocab_size: target vocabulary size V.
        embedding_dim: target embedding size E.
        units: GRU units H (every decoder layer).
        num_layers: number of stacked decoder GRU layers L.
        attention: "dot" | "general" | "additive".
        attention_units: hidden size of additive attention.
        dropout: rate on the target embeddings, between GRU layers and on the attentional
            vector before the output projection.
        tie_embeddings: logits = P(h~) E^T + b with the target embedding E; P is a (H, E)
            projection when H != E, the identity otherwise.

    Interface of subclasses:
        call(target_in_ids (B, T), target_padding_mask (B, T), initial_state, memory
             (B, S, H_mem), memory_padding_mask (B, S), training) -> logits (B, T, V),
             attention (B, T, S)
        step(prev_ids (B,), state, memory: Memory, memory_padding_mask, training)
             -> logits (B, V), new_state, attention (B, S); `memory` comes from `memory()`,
             so the attention keys are computed once per source, not once per step.
        initial_state(bridged) -> the flat state tuple used by `call` and `step`.
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        units,
        num_layers=1,
        attention="general",
        attention_units=None,
        dropout=0.0,
        tie_embeddings=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.attention_type = attention
        self.attention_units = attention_units
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.attention = make_attention(attention, attention_units)
        self.attentional = keras.layers.Dense(
            units, activation="tanh", use_bias=False, name="attentional"
        )
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self.pre_output = None
        self.output_dense = None
        if not tie_embeddings:
            self.output_dense = keras.layers.Dense(vocab_size, name="output")
        elif units != embedding_dim:
            self.pre_output = keras.layers.Dense(embedding_dim, use_bias=False, name="pre_output")

    def memory(self, values):
        """Encoder outputs (B, S, H_mem) -> `Memory` with the attention keys, for `step`."""
        return Memory(values, self.attention.project_memory(values))

    def initial_state(self, bridged):
        """Decoder state from the bridge output (tuple of L tensors (B, H))."""
        return tuple(bridged)

    def _build_common(self, memory_shape):
        """Builds everything but the GRUs; memory_shape is (B, S, H_mem)."""
        memory_shape = tuple(memory_shape)
        self.embedding.build(None)
        self.attention.build((memory_shape[0], self.units), memory_shape)
        self.attentional.build((None, memory_shape[-1] + self.units))
        if self.output_dense is not None:
            self.output_dense.build((None, self.units))
            return
        if self.pre_output is not None:
            self.pre_output.build((None, self.units))
        self.output_bias = self.add_weight(
            shape=(self.vocab_size,), initializer="zeros", name="output_bias"
        )

    def attentional_vector(self, context, hidden):
        """h~ = tanh(W [c; h]): context (B, [T,] H_mem), hidden (B, [T,] H) -> (B, [T,] H)."""
        return self.attentional(ops.concatenate([context, hidden], axis=-1))

    def output_logits(self, h_tilde, training=False):
        """(B, [T,] H) attentional vectors -> (B, [T,] V) logits (dropout applied first)."""
        h_tilde = self.dropout_layer(h_tilde, training=training)
        if self.output_dense is not None:
            return self.output_dense(h_tilde)
        if self.pre_output is not None:
            h_tilde = self.pre_output(h_tilde)  # (B, [T,] E)
        return ops.matmul(h_tilde, ops.transpose(self.embedding.embeddings)) + self.output_bias

    def sequence_logits(self, h_tildes, target_padding_mask, training=False, positions=None):
        """(B, T, H) attentional vectors -> (B, T, V) logits. With padding in the batch they
        are projected at the real positions only (exactly 0 at padded ones): at large
        vocabularies the output projection is the step's largest matmul, and padding would pay
        for it too; without padding directly (the gather and scatter would cost more).
        With `positions` int64 (N, 2) (rows of `tf.where(mask)`): logits (N, V) there only,
        for a loss over real tokens (no scatter, no softmax over padding)."""
        if positions is not None:
            return self.output_logits(tf.gather_nd(h_tildes, positions), training=training)
        mask = ops.cast(target_padding_mask, "bool")

        def packed():
            positions = tf.where(mask)  # (N, 2) real positions
            logits = self.output_logits(tf.gather_nd(h_tildes, positions), training=training)
            shape = tf.concat([tf.cast(tf.shape(h_tildes)[:2], tf.int64), [self.vocab_size]], 0)
            return tf.scatter_nd(positions, logits, shape)  # (B, T, V)

        def direct():  # as 2D rows too, so both paths run the same matmul kernel
            logits = self.output_logits(tf.reshape(h_tildes, [-1, self.units]), training=training)
            return tf.reshape(logits, tf.concat([tf.shape(h_tildes)[:2], [self.vocab_size]], 0))

        return tf.cond(tf.reduce_all(mask), direct, packed)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "num_layers": self.num_layers,
                "attention": self.attention_type,
                "attention_units": self.attention_units,
                "dropout": self.dropout,
                "tie_embeddings": self.tie_embeddings,
            }
        )
        return config
