"""Bahdanau-style decoder: attention from the previous state at every step (a step loop)."""

import keras
from keras import ops

from seq2seq.layers.bahdanau_recurrence import Weights, bahdanau_recurrence
from seq2seq.layers.decoder_base import DecoderBase


@keras.saving.register_keras_serializable(package="seq2seq")
class BahdanauDecoder(DecoderBase):
    """Attention computed from the previous top-layer state, context fed into the GRU.

    At step t (s^l = layer-l state, h~ = attentional vector):
        c_t, a_t = attention(s^L_{t-1}, memory)
        x_t      = [emb(y_{t-1}); c_t] (+ h~_{t-1} with input feeding)
        s^l_t    = GRUCell_l(input, s^l_{t-1}), input = x_t, then dropout(s^{l-1}_t)
        h~_t     = tanh(W [c_t; s^L_t]),  logits_t = output(dropout(h~_t))
    Teacher forcing runs the recurrence with `keras.ops.scan` (slower than the Luong decoder);
    the embedding lookup, the memory keys and the output projection are batched outside the
    loop. At a padded step every state (and the fed h~) is held, so padding never leaks.
    With rnn="fused" and additive attention it runs `bahdanau_recurrence` instead: the same
    math with a hand-written gradient that takes the weight gradients out of the step loop
    (TensorFlow backend; any backend and attention otherwise).

    Args: see `DecoderBase`, plus
        input_feeding: feed h~_{t-1} into the GRU input (Luong et al. 2015).
        rnn: "keras" (the scan above) or "fused" (`bahdanau_recurrence` for additive
            attention). Same weights either way.

    State: tuple (s^1, ..., s^L) of (B, H), plus h~_{t-1} (B, H) last if input_feeding.

    Call args / returns: as `LuongDecoder` (logits (B, T, V), attention weights (B, T, S)).
    """

    def __init__(
        self, vocab_size, embedding_dim, units, input_feeding=False, rnn="keras", **kwargs
    ):
        super().__init__(vocab_size, embedding_dim, units, **kwargs)
        if rnn not in ("keras", "fused"):
            raise ValueError(f"rnn must be keras or fused, got {rnn!r}")
        self.input_feeding = input_feeding
        self.rnn = rnn
        # One attribute per cell, not a list: tf.train.Checkpoint skips Keras-tracked lists.
        for index in range(self.num_layers):
            setattr(self, f"cell_{index}", keras.layers.GRUCell(units, name=f"gru_cell_{index}"))

    @property
    def cells(self):
        """The L GRU cells, bottom first."""
        return [getattr(self, f"cell_{index}") for index in range(self.num_layers)]

    def initial_state(self, bridged):
        """bridged: L tensors (B, H) -> state, with a zero h~_0 appended if input_feeding."""
        bridged = tuple(bridged)
        if not self.input_feeding:
            return bridged
        return bridged + (ops.zeros_like(bridged[-1]),)

    def build(
        self, target_in_ids_shape, initial_state_shape, memory_shape, memory_padding_mask_shape=None
    ):
        self._build_common(memory_shape)
        features = self.embedding_dim + memory_shape[-1]
        features += self.units if self.input_feeding else 0
        for cell in self.cells:
            cell.build((None, features))
            features = self.units
        self.built = True

    def _recur(
        self, layer_states, feed, embedded, keys, memory, memory_padding_mask, drop_masks, training
    ):
        """One recurrence step (no masking): layer_states L x (B, H), feed (B, H) or None,
        embedded (B, E) -> new layer states, h~ (B, H), weights (B, S)."""
        context, weights = self.attention.attend(
            layer_states[-1], keys, memory, memory_padding_mask
        )  # (B, H_mem), (B, S)
        parts = [embedded, context] + ([feed] if self.input_feeding else [])
        x = ops.concatenate(parts, axis=-1)  # (B, E + H_mem [+ H])
        new_states = []
        for index, cell in enumerate(self.cells):
            if index > 0 and drop_masks:
                x = x * drop_masks[index - 1]  # mask drawn outside the step loop
            elif index > 0:
                x = self.dropout_layer(x, training=training)
            x, _ = cell(x, [layer_states[index]], training=training)  # (B, H)
            new_states.append(x)
        return tuple(new_states), self.attentional_vector(context, x), weights

    def _step_dropout_masks(self, time_major_shape, training):
        """Inter-layer dropout masks drawn outside the loop: L-1 tensors (T, B, H), or ()."""
        if not training or self.dropout == 0.0 or self.num_layers == 1:
            return ()
        ones = ops.ones(time_major_shape, dtype=self.compute_dtype)  # (T, B, H)
        return tuple(self.dropout_layer(ones, training=True) for _ in range(self.num_layers - 1))

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
        embedded = self.dropout_layer(self.embedding(target_in_ids), training=training)
        embedded = ops.transpose(embedded, (1, 0, 2))  # (T, B, E)
        mask = ops.transpose(ops.cast(target_padding_mask, "bool"), (1, 0))  # (T, B)
        keys = self.attention.project_memory(memory)  # (B, S, K)
        num_layers = self.num_layers
        layer_states = tuple(initial_state[:num_layers])
        feed = initial_state[num_layers] if self.input_feeding else ops.zeros_like(layer_states[-1])
        steps, batch = ops.shape(embedded)[0], ops.shape(embedded)[1]
        drops = self._step_dropout_masks((steps, batch, self.units), training)
        inputs = (embedded, mask, drops, layer_states, feed, keys, memory, memory_padding_mask)
        if self.rnn == "fused" and self.attention_type == "additive":
            h_tildes, weights = self._fused_loop(*inputs)
        else:
            h_tildes, weights = self._keras_loop(*inputs, training)
        h_tildes = ops.transpose(h_tildes, (1, 0, 2))  # (B, T, H)
        weights = ops.transpose(weights, (1, 0, 2))  # (B, T, S)
        logits = self.sequence_logits(h_tildes, target_padding_mask, training, positions)
        return logits, weights

    def _fused_loop(self, embedded, mask, drops, states, feed, keys, memory, memory_mask):
        """`bahdanau_recurrence` on time-major inputs -> h~ (T, B, H), weights (T, B, S)."""
        dtype = embedded.dtype
        return bahdanau_recurrence(
            embedded,
            ops.cast(mask, dtype)[:, :, None],
            drops,
            tuple(ops.cast(s, dtype) for s in states),
            ops.cast(feed, dtype) if self.input_feeding else None,
            ops.cast(keys, dtype),
            ops.cast(memory, dtype),
            ops.cast(memory_mask, "bool"),
            self._recurrence_weights(dtype),
        )

    def _keras_loop(self, embedded, mask, drops, states, feed, keys, memory, memory_mask, training):
        """`_recur` stepped by `keras.ops.scan` -> h~ (T, B, H), weights (T, B, S)."""
        # keras.ops.scan (TF backend) fails for several `xs` of unknown length: pack them into
        # one (T, B, E + 1 [+ (L-1) H]) tensor and split it again in the body.
        packed = ops.concatenate(
            [embedded, ops.cast(mask, embedded.dtype)[:, :, None], *drops], axis=-1
        )
        splits = [self.embedding_dim] + [
            self.embedding_dim + 1 + self.units * i for i in range(len(drops))
        ]

        def body(carry, packed_t):
            states, prev_h_tilde, _ = carry
            embedded_t, mask_t, *drops_t = ops.split(packed_t, splits, axis=-1)
            new_states, h_tilde, weights = self._recur(
                states,
                prev_h_tilde,
                embedded_t,
                keys,
                memory,
                memory_mask,
                tuple(drops_t),
                training,
            )
            keep = mask_t > 0.5  # (B, 1): hold every state at padded steps
            new_states = tuple(ops.where(keep, new, old) for new, old in zip(new_states, states))
            h_tilde = ops.where(keep, h_tilde, prev_h_tilde)
            new_carry = (new_states, h_tilde, weights)
            return new_carry, new_carry

        init = (states, feed, ops.zeros_like(memory[:, :, 0]))  # weights (B, S)
        _, (_, h_tildes, weights) = ops.scan(body, init, packed)
        return h_tildes, weights

    def _recurrence_weights(self, dtype):
        """The weights `bahdanau_recurrence` reads, cast to the compute dtype."""
        cast = lambda variable: ops.cast(variable, dtype)  # noqa: E731
        cells = self.cells
        return Weights(
            query=cast(self.attention.query_projection.kernel),
            energy=cast(self.attention.energy.kernel)[:, 0],
            kernels=tuple(cast(cell.kernel) for cell in cells),
            input_biases=tuple(cast(cell.bias)[0] for cell in cells),
            recurrent_kernels=tuple(cast(cell.recurrent_kernel) for cell in cells),
            recurrent_biases=tuple(cast(cell.bias)[1] for cell in cells),
            attentional=cast(self.attentional.kernel),
        )

    def step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        """One step: prev_ids int (B,), state (see class doc) -> logits (B, V), new state,
        attention (B, S)."""
        embedded = self.dropout_layer(self.embedding(prev_ids), training=training)  # (B, E)
        feed = state[self.num_layers] if self.input_feeding else None
        new_states, h_tilde, weights = self._recur(
            tuple(state[: self.num_layers]),
            feed,
            embedded,
            memory.keys,
            memory.values,
            memory_padding_mask,
            (),
            training,
        )
        new_state = new_states + ((h_tilde,) if self.input_feeding else ())
        return self.output_logits(h_tilde, training=training), new_state, weights

    def get_config(self):
        config = super().get_config()
        config.update({"input_feeding": self.input_feeding, "rnn": self.rnn})
        return config
