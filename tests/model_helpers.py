"""Helpers for the model tests: tiny configs, random weights, padded batches built from
per-sequence token lists, and `Probe`, which runs one sequence's logits, loss and gradients
for the padding-invariance property."""

import dataclasses

import numpy as np
import tensorflow as tf

from seq2seq.config.model import ModelConfig
from seq2seq.model import build_model
from seq2seq.training.losses import masked_cross_entropy

PAD, BOS, EOS = 0, 2, 3
SOURCE_VOCAB, TARGET_VOCAB = 13, 17
FIRST_PIECE = 4  # ids below are special


def tiny_config(**overrides) -> ModelConfig:
    """A tiny model config (units 4-8) with the given fields changed; validated."""
    base = ModelConfig(
        name="tiny_test",
        embedding_dim=6,
        encoder_units=4,
        encoder_layers=1,
        bidirectional=False,
        bidirectional_merge="concat",
        decoder="luong",
        decoder_units=8,
        decoder_layers=1,
        attention="general",
        attention_units=5,
        input_feeding=False,
        bridge="dense",
        tie_embeddings=False,
        dropout=0.1,
        rnn="keras",
    )
    return dataclasses.replace(base, **overrides)


def randomize_weights(model, seed: int, scale: float = 0.5) -> None:
    """Every float weight (biases included) <- uniform(-scale, scale)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if variable.dtype.startswith("float"):
            variable.assign(rng.uniform(-scale, scale, variable.shape).astype(variable.dtype))


def random_model(cfg: ModelConfig, seed: int = 0):
    """build_model(cfg) on the test vocabularies, with random weights."""
    model = build_model(cfg, SOURCE_VOCAB, TARGET_VOCAB)
    randomize_weights(model, seed)
    return model


@dataclasses.dataclass
class Sequence:
    """One example: source pieces + eos, target pieces (target in = bos + pieces,
    target out = pieces + eos)."""

    source: list[int]
    target: list[int]

    @classmethod
    def random(cls, rng: np.random.Generator, source_len: int, target_len: int) -> "Sequence":
        """source_len >= 1 tokens (last = eos); target_len >= 1 steps (target_len - 1 pieces)."""
        source = list(rng.integers(FIRST_PIECE, SOURCE_VOCAB, source_len - 1)) + [EOS]
        target = list(rng.integers(FIRST_PIECE, TARGET_VOCAB, target_len - 1))
        return cls([int(i) for i in source], [int(i) for i in target])


def make_batch(sequences, extra_source=0, extra_target=0, fill_rng=None):
    """Right-padded batch dict x and y = target_out (B, T), masks from the true lengths.

    Padded positions hold PAD, or random ids of the vocabulary when `fill_rng` is given: the
    model must rely on the masks only.
    """
    sources = [s.source for s in sequences]
    targets_in = [[BOS] + s.target for s in sequences]
    targets_out = [s.target + [EOS] for s in sequences]
    src_len = max(map(len, sources)) + extra_source
    tgt_len = max(map(len, targets_in)) + extra_target
    source_ids, source_mask = _pad(sources, src_len, SOURCE_VOCAB, fill_rng)
    target_in, target_mask = _pad(targets_in, tgt_len, TARGET_VOCAB, fill_rng)
    target_out, _ = _pad(targets_out, tgt_len, TARGET_VOCAB, fill_rng)
    x = {
        "source_ids": tf.constant(source_ids),
        "source_padding_mask": tf.constant(source_mask),
        "target_in_ids": tf.constant(target_in),
        "target_padding_mask": tf.constant(target_mask),
    }
    return x, tf.constant(target_out)


def _pad(rows, length, vocab, fill_rng):
    ids = np.zeros((len(rows), length), np.int32)
    if fill_rng is not None:
        ids[:] = fill_rng.integers(0, vocab, ids.shape)
    mask = np.zeros((len(rows), length), bool)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = True
    return ids, mask


BATCH_SPEC = {
    "source_ids": tf.TensorSpec((None, None), tf.int32),
    "source_padding_mask": tf.TensorSpec((None, None), tf.bool),
    "target_in_ids": tf.TensorSpec((None, None), tf.int32),
    "target_padding_mask": tf.TensorSpec((None, None), tf.bool),
}


class Probe:
    """One compiled function per model: batch, row -> logits (B, T, V), the loss summed over
    row `row`'s real tokens only, and that loss's gradient w.r.t. every trainable weight."""

    def __init__(self, model):
        self.model = model
        variables = model.trainable_variables
        signature = [BATCH_SPEC, tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((), tf.int32)]

        @tf.function(input_signature=signature)
        def run(x, y, row):
            with tf.GradientTape() as tape:
                logits = model(x, training=False)  # (B, T, V)
                rows = tf.range(tf.shape(y)[0])[:, None] == row  # (B, 1)
                row_mask = tf.logical_and(x["target_padding_mask"], rows)  # (B, T)
                loss, _ = masked_cross_entropy(y, logits, row_mask)
            # (unconnected_gradients=ZERO fails on Keras 3 variables: fill None by hand)
            grads = tape.gradient(loss, variables)
            grads = [
                tf.zeros(v.shape, v.dtype) if g is None else tf.convert_to_tensor(g)
                for g, v in zip(grads, variables)
            ]
            return logits, loss, grads

        self.run = run

    def sequence_outputs(self, sequences, row, **batch_kwargs):
        """(logits of row `row` at its real steps (T_row, V), its loss sum, its gradients)."""
        x, y = make_batch(sequences, **batch_kwargs)
        logits, loss, grads = self.run(x, y, tf.constant(row, tf.int32))
        steps = len(sequences[row].target) + 1
        return logits.numpy()[row, :steps], float(loss), [g.numpy() for g in grads]


def invariance_errors(probe, sequence, others, row, extra_source, extra_target, fill_seed):
    """Max abs differences (logits, loss, grads) between `sequence` run alone without extra
    padding and (a) alone with extra padding, (b) at `row` of a batch with `others`, both
    with extra padding; padded positions hold random ids when fill_seed is not None."""
    reference = probe.sequence_outputs([sequence], 0)
    fill = None if fill_seed is None else np.random.default_rng(fill_seed)
    pad = dict(extra_source=extra_source, extra_target=extra_target, fill_rng=fill)
    batch = others[:row] + [sequence] + others[row:]
    errors = {"logits": 0.0, "loss": 0.0, "grads": 0.0}
    for outputs in (
        probe.sequence_outputs([sequence], 0, **pad),
        probe.sequence_outputs(batch, row, **pad),
    ):
        errors["logits"] = max(errors["logits"], np.abs(outputs[0] - reference[0]).max())
        errors["loss"] = max(errors["loss"], abs(outputs[1] - reference[1]))
        grad_error = max(np.abs(a - b).max() for a, b in zip(outputs[2], reference[2]))
        errors["grads"] = max(errors["grads"], grad_error)
    return errors
