"""`Ensemble`: several trained models searched as one, their log-probabilities averaged per step.

It has the `encode` / `decode_step` interface of `Seq2Seq` (see `seq2seq.decoding.model_step`),
so greedy search, beam search, corpus decoding and attention plots take it like one model. The
members must share the target vocabulary (runs trained with the same tokenizers); their sizes
and architectures may differ.
"""

import tensorflow as tf


class Ensemble(tf.Module):
    """Average of the members' per-step log-probabilities (then renormalised by the search:
    the normalised geometric mean of their distributions), and of their attention.

    memory and state are tuples with one entry (the member's own nest) per model.
    """

    def __init__(self, models) -> None:
        super().__init__(name="ensemble")
        if len(models) < 1:
            raise ValueError("an ensemble needs at least one model")
        self.models = tuple(models)

    @property
    def built(self) -> bool:
        return all(getattr(m, "built", True) for m in self.models)

    def encode(self, source_ids, source_padding_mask, training=False):
        """int32 (B, S), bool (B, S) -> (memories, states): tuples over the members."""
        outputs = [m.encode(source_ids, source_padding_mask, training) for m in self.models]
        return tuple(o[0] for o in outputs), tuple(o[1] for o in outputs)

    def decode_step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        """int32 (B,), states, memories, bool (B, S) -> mean log-probs (B, V), states, (B, S)."""
        log_probs, states, attention = [], [], []
        for model, own_state, own_memory in zip(self.models, state, memory):
            logits, new_state, weights = model.decode_step(
                prev_ids, own_state, own_memory, memory_padding_mask, training=training
            )
            log_probs.append(tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1))
            states.append(new_state)
            attention.append(tf.cast(weights, tf.float32))
        count = float(len(self.models))
        return tf.add_n(log_probs) / count, tuple(states), tf.add_n(attention) / count
