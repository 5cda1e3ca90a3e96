"""Greedy and beam search against tiny real models (`seq2seq.model`, Luong and Bahdanau) and two
fakes with the same search interface: a random GRU with dot attention (teacher forcing through the
GRU layer, steps through its cell) and a lookup table of next-token probabilities whose best beam
result is known."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from seq2seq.config import DecodeConfig, ModelConfig, validate
from seq2seq.constants import BOS_ID as BOS
from seq2seq.constants import EOS_ID as EOS
from seq2seq.constants import PAD_ID as PAD
from seq2seq.decoding import beam_search, greedy_search, length_penalty, search
from seq2seq.errors import ConfigError
from seq2seq.model import build_model


class ToyGRU(keras.Model):
    """GRU encoder, GRU decoder, dot attention over the encoder outputs after the decoder."""

    def __init__(self, vocab: int = 12, units: int = 8, eos_bias: float = 0.0, seed: int = 0):
        super().__init__()
        keras.utils.set_random_seed(seed)  # the GRU initializers draw from the global seed
        init = keras.initializers.RandomNormal(stddev=1.0, seed=seed)
        self.source_embedding = keras.layers.Embedding(vocab, units, embeddings_initializer=init)
        self.target_embedding = keras.layers.Embedding(vocab, units, embeddings_initializer=init)
        self.encoder = keras.layers.GRU(units, return_sequences=True, return_state=True, seed=seed)
        self.decoder = keras.layers.GRU(units, return_sequences=True, return_state=True, seed=seed)
        bias = np.zeros(vocab, np.float32)
        bias[EOS] = eos_bias
        self.output_layer = keras.layers.Dense(
            vocab, kernel_initializer=init, bias_initializer=keras.initializers.Constant(bias)
        )

    def encode(self, source_ids, source_padding_mask, training=False):
        embedded = self.source_embedding(source_ids)
        memory, final = self.encoder(embedded, mask=source_padding_mask, training=training)
        return memory, (final,)

    def decode_step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        output, new_state = self.decoder.cell(self.target_embedding(prev_ids), list(state))
        logits, attention = self._attend(output[:, None], memory, memory_padding_mask)
        return logits[:, 0], tuple(new_state), attention[:, 0]

    def call(self, x, training=False):
        memory, (state,) = self.encode(x["source_ids"], x["source_padding_mask"])
        outputs, _ = self.decoder(
            self.target_embedding(x["target_in_ids"]),
            initial_state=state,
            mask=x["target_padding_mask"],
        )
        return self._attend(outputs, memory, x["source_padding_mask"])[0]

    def _attend(self, queries, memory, memory_padding_mask):
        """queries (B, T, H), memory (B, S, H) -> logits (B, T, V), attention (B, T, S)."""
        energies = tf.einsum("bth,bsh->bts", queries, memory)
        energies = tf.where(memory_padding_mask[:, None, :], energies, -1e9)
        attention = tf.nn.softmax(energies, axis=-1)
        context = tf.einsum("bts,bsh->bth", attention, memory)
        return self.output_layer(tf.concat([queries, context], axis=-1)), attention


A, B, C, D = 4, 5, 6, 7
# Next-token probabilities after each prefix (node); unlisted tokens have probability 0.
TABLE = {
    "start": {},  # before BOS
    "": {A: 0.6, B: 0.4},
    "a": {C: 0.4, EOS: 0.35, D: 0.25},
    "b": {EOS: 0.9, C: 0.1},
    "ac": {EOS: 1.0},
    "sink": {EOS: 1.0},
}


class TableModel:
    """Ignores the source: p(next | prefix) comes from TABLE. Counts `decode_step` calls.

    Greedy gives a c EOS (p = 0.24); beam 2 finds b EOS (p = 0.36).
    """

    def __init__(self, vocab: int = 8):
        nodes = list(TABLE)
        logits = np.full((len(nodes), vocab), -1e9, np.float32)
        children = np.full((len(nodes), vocab), nodes.index("sink"), np.int32)
        for node, probs in TABLE.items():
            for token, p in probs.items():
                logits[nodes.index(node), token] = math.log(p)
        children[nodes.index("start"), BOS] = nodes.index("")
        for parent, token, child in (("", A, "a"), ("", B, "b"), ("a", C, "ac")):
            children[nodes.index(parent), token] = nodes.index(child)
        self.logits, self.children = tf.constant(logits), tf.constant(children)
        self.steps = tf.Variable(0)

    def encode(self, source_ids, source_padding_mask, training=False):
        memory = tf.zeros(tf.concat([tf.shape(source_ids), [1]], 0))
        return memory, (tf.zeros_like(source_ids[:, 0]),)

    def decode_step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        self.steps.assign_add(1)
        node = tf.gather_nd(self.children, tf.stack([state[0], prev_ids], 1))
        attention = tf.cast(memory_padding_mask, tf.float32)
        attention /= tf.reduce_sum(attention, axis=1, keepdims=True)
        return tf.gather(self.logits, node), (node,), attention

    def __call__(self, x, training=False):
        memory, state = self.encode(x["source_ids"], x["source_padding_mask"])
        logits = []
        for t in range(x["target_in_ids"].shape[1]):
            step_logits, state, _ = self.decode_step(
                x["target_in_ids"][:, t], state, memory, x["source_padding_mask"]
            )
            logits.append(step_logits)
        return tf.stack(logits, axis=1)


def make_sources(lengths, vocab=12, seed=0):
    """Random right-padded sources ending in EOS: ids int32 (B, S), mask bool (B, S)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), max(lengths)), np.int32)
    for row, length in enumerate(lengths):
        ids[row, : length - 1] = rng.integers(4, vocab, length - 1)
        ids[row, length - 1] = EOS
    return tf.constant(ids), tf.constant(ids != PAD)


def teacher_forced_log_probs(model, source_ids, source_padding_mask, ids):
    """Sum of the model's log-probabilities of the non-pad `ids` (B, L), teacher-forced."""
    ids = tf.convert_to_tensor(ids)
    bos = tf.fill([tf.shape(ids)[0], 1], BOS)
    mask = ids != PAD
    logits = model(
        {
            "source_ids": source_ids,
            "source_padding_mask": source_padding_mask,
            "target_in_ids": tf.concat([bos, ids[:, :-1]], axis=1),
            "target_padding_mask": mask,
        },
        training=False,
    )
    log_probs = tf.gather(tf.nn.log_softmax(logits), ids, batch_dims=2)  # (B, L)
    return tf.reduce_sum(tf.where(mask, log_probs, 0.0), axis=1).numpy()


def pad_to(array, length):
    """Right-pad the last axis of `array` with PAD to `length`."""
    widths = [(0, 0)] * (array.ndim - 1) + [(0, length - array.shape[-1])]
    return np.pad(array, widths)


def built(model):
    """`model` after one teacher-forced call, which creates its weights."""
    source_ids, mask = make_sources([3])
    model(
        {
            "source_ids": source_ids,
            "source_padding_mask": mask,
            "target_in_ids": source_ids,
            "target_padding_mask": mask,
        }
    )
    return model


@pytest.fixture(scope="module")
def toy():
    source_ids, source_padding_mask = make_sources([5, 9, 3, 7])
    return built(ToyGRU()), source_ids, source_padding_mask


def tiny_real_model(decoder: str):
    """A randomly initialized `seq2seq.model.Seq2Seq` (dropout on: search must not train)."""
    keras.utils.set_random_seed(0)
    bahdanau = decoder == "bahdanau"
    cfg = ModelConfig(
        embedding_dim=8,
        encoder_units=8,
        encoder_layers=1,
        decoder_units=8,
        decoder=decoder,
        attention="additive" if bahdanau else "general",
        attention_units=8,
        input_feeding=bahdanau,
        dropout=0.5,
    )
    return build_model(cfg, 12, 12)


@pytest.fixture(scope="module", params=["toy", "luong", "bahdanau"])
def searchable(request, toy):
    """(model, source_ids (4, 9), source_padding_mask (4, 9)) for the fake and the real models."""
    if request.param == "toy":
        return toy
    return (tiny_real_model(request.param),) + toy[1:]


def test_unbuilt_model_is_rejected():
    source_ids, mask = make_sources([3])
    with pytest.raises(ValueError, match="built"):
        greedy_search(ToyGRU(), source_ids, mask)


def test_beam_of_one_equals_greedy(searchable):
    model, source_ids, mask = searchable
    greedy = greedy_search(model, source_ids, mask)
    beam = beam_search(model, source_ids, mask, beam_size=1, length_penalty="none")
    np.testing.assert_array_equal(beam["ids"][:, 0], greedy["ids"])
    np.testing.assert_array_equal(beam["lengths"][:, 0], greedy["lengths"])
    np.testing.assert_allclose(beam["scores"][:, 0], greedy["scores"], rtol=1e-6)
    np.testing.assert_allclose(beam["log_probs"][:, 0], greedy["scores"], rtol=1e-6)


def test_greedy_scores_are_teacher_forced_log_probs(searchable):
    model, source_ids, mask = searchable
    greedy = greedy_search(model, source_ids, mask)
    expected = teacher_forced_log_probs(model, source_ids, mask, greedy["ids"])
    np.testing.assert_allclose(greedy["scores"], expected, rtol=1e-5)


def test_greedy_output_layout(toy):
    model, source_ids, mask = toy
    greedy = greedy_search(model, source_ids, mask, max_length_a=1.0, max_length_b=3)
    ids, attention = greedy["ids"].numpy(), greedy["attention"].numpy()
    assert attention.shape == ids.shape + (source_ids.shape[1],)
    for row, length in zip(ids, greedy["lengths"].numpy()):
        assert PAD not in row[:length] and EOS not in row[:length] and BOS not in row
        assert not row[length + 1 :].any()
    real = ids != PAD
    assert not real[:, -1].all()  # some sentences finished before the others
    np.testing.assert_allclose(attention.sum(-1), real.astype(np.float32), atol=1e-5)
    assert not np.where(mask.numpy()[:, None, :], 0.0, attention).any()  # never on padding


def test_beam_log_probs_are_teacher_forced(searchable):
    model, source_ids, mask = searchable
    beam = beam_search(model, source_ids, mask, beam_size=4, n_best=4)
    batch, n_best, length = beam["ids"].shape
    flat_ids = tf.reshape(beam["ids"], [batch * n_best, length])
    expected = teacher_forced_log_probs(
        model, tf.repeat(source_ids, n_best, 0), tf.repeat(mask, n_best, 0), flat_ids
    )
    np.testing.assert_allclose(beam["log_probs"], expected.reshape(batch, n_best), rtol=1e-5)


@pytest.mark.parametrize("penalty", ["none", "gnmt", "average"])
def test_n_best_is_distinct_and_sorted_by_penalized_score(toy, penalty):
    model, source_ids, mask = toy
    beam = beam_search(model, source_ids, mask, beam_size=4, n_best=4, length_penalty=penalty)
    scores = beam["scores"].numpy()
    assert (np.diff(scores, axis=1) <= 0).all()
    counts = (beam["ids"].numpy() != PAD).sum(-1)
    expected_scores = beam["log_probs"] / length_penalty(counts, penalty, 0.6)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)
    for hypotheses in beam["ids"].numpy():
        assert len({tuple(h) for h in hypotheses}) == 4


def test_finished_beams_are_only_padded(toy):
    model, source_ids, mask = toy
    beam = beam_search(model, source_ids, mask, beam_size=5, n_best=5, max_length_b=6)
    ids = beam["ids"].numpy().reshape(-1, beam["ids"].shape[-1])
    for row, length in zip(ids, beam["lengths"].numpy().reshape(-1)):
        assert PAD not in row[:length] and EOS not in row[:length] and BOS not in row
        assert not row[length + 1 :].any()
    assert (ids == EOS).any() and (ids[:, -1] == PAD).any()  # some beams finished early


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_batch_equals_one_at_a_time(searchable, strategy):
    model, source_ids, mask = searchable
    run = (
        greedy_search
        if strategy == "greedy"
        else (lambda *a: beam_search(*a, beam_size=3, n_best=2))
    )
    batched = run(model, source_ids, mask)
    for row in range(source_ids.shape[0]):
        length = int(tf.reduce_sum(tf.cast(mask[row], tf.int32)))
        alone = run(model, source_ids[row : row + 1, :length], mask[row : row + 1, :length])
        np.testing.assert_array_equal(
            pad_to(alone["ids"].numpy()[0], batched["ids"].shape[-1]), batched["ids"][row]
        )
        np.testing.assert_allclose(alone["scores"][0], batched["scores"][row], rtol=1e-5)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_max_length_is_respected(beam_size):
    model = built(ToyGRU(eos_bias=-1e4))  # never ends on its own
    source_ids, mask = make_sources([3, 6, 4])
    beam = beam_search(
        model,
        source_ids,
        mask,
        beam_size=beam_size,
        n_best=beam_size,
        max_length_a=1.5,
        max_length_b=1,
    )
    limits = np.array([5, 10, 7])  # floor(1.5 * source length + 1)
    assert beam["ids"].shape[-1] == limits.max()
    np.testing.assert_array_equal(beam["lengths"], np.repeat(limits[:, None], beam_size, 1))
    assert not (beam["ids"].numpy() == EOS).any()
    greedy = greedy_search(model, source_ids, mask, max_length_a=1.5, max_length_b=1)
    np.testing.assert_array_equal(greedy["lengths"], limits)


def test_beam_finds_what_greedy_misses():
    model = TableModel()
    source_ids, mask = make_sources([3, 5], vocab=8)
    greedy = greedy_search(model, source_ids, mask)
    np.testing.assert_array_equal(greedy["ids"], [[A, C, EOS]] * 2)
    np.testing.assert_allclose(greedy["scores"], [math.log(0.24)] * 2, rtol=1e-6)
    beam = beam_search(model, source_ids, mask, beam_size=2, n_best=2, length_penalty="none")
    np.testing.assert_array_equal(beam["ids"], [[[B, EOS, PAD], [A, C, EOS]]] * 2)
    np.testing.assert_allclose(beam["scores"], [[math.log(0.36), math.log(0.24)]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(beam["lengths"], [[1, 2]] * 2)


def test_average_length_penalty_reranks():
    model = TableModel()
    source_ids, mask = make_sources([4], vocab=8)
    beam = beam_search(model, source_ids, mask, beam_size=3, n_best=3, length_penalty="average")
    np.testing.assert_array_equal(beam["ids"][0], [[A, C, EOS], [B, EOS, PAD], [A, EOS, PAD]])
    expected = [math.log(0.24) / 3, math.log(0.36) / 2, math.log(0.21) / 2]
    np.testing.assert_allclose(beam["scores"][0], expected, rtol=1e-6)
    np.testing.assert_allclose(beam["log_probs"][0], np.log([0.24, 0.36, 0.21]), rtol=1e-6)


@pytest.mark.parametrize("beam_size", [1, 2])
def test_search_stops_when_all_beams_finished(beam_size):
    model = TableModel()
    source_ids, mask = make_sources([9], vocab=8)  # limit 2 * 9 + 10 = 28 steps
    model.steps.assign(0)
    result = beam_search(model, source_ids, mask, beam_size=beam_size)
    assert int(model.steps.numpy()) == 3
    assert result["ids"].shape[-1] == 3


def test_beam_needs_a_vocabulary_larger_than_the_beam():
    source_ids, mask = make_sources([3], vocab=8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocabulary smaller"):
        beam_search(TableModel(vocab=8), source_ids, mask, beam_size=7)


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_search_inside_a_callers_tf_function(toy, strategy):
    """As in the SavedModel export: `search` traced inside an outer tf.function."""
    model, source_ids, mask = toy
    cfg = DecodeConfig(strategy=strategy, beam_size=1 if strategy == "greedy" else 2)
    traced = tf.function(lambda ids, mask: search(model, ids, mask, cfg)["ids"])
    np.testing.assert_array_equal(
        traced(source_ids, mask), search(model, source_ids, mask, cfg)["ids"]
    )


def test_length_penalty_values():
    counts = tf.constant([1, 7])
    np.testing.assert_allclose(length_penalty(counts, "gnmt", 0.6), [1.0, 2.0**0.6], rtol=1e-6)
    np.testing.assert_allclose(length_penalty(counts, "gnmt", 0.0), [1.0, 1.0])
    np.testing.assert_allclose(length_penalty(counts, "average", 0.6), [1.0, 7.0])
    np.testing.assert_allclose(length_penalty(counts, "none", 0.6), [1.0, 1.0])
    with pytest.raises(ValueError):
        length_penalty(counts, "linear", 0.6)


def test_search_dispatches_on_config(toy):
    model, source_ids, mask = toy
    greedy = search(model, source_ids, mask, DecodeConfig(strategy="greedy"))
    np.testing.assert_array_equal(greedy["ids"], greedy_search(model, source_ids, mask)["ids"])
    cfg = DecodeConfig(strategy="beam", beam_size=3, n_best=2, length_penalty="average")
    beam = search(model, source_ids, mask, cfg)
    expected = beam_search(model, source_ids, mask, 3, 2, "average")
    np.testing.assert_array_equal(beam["ids"], expected["ids"])
    assert beam["ids"].shape[:2] == (4, 2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "beam", "beam_size": 2, "n_best": 3},
        {"strategy": "greedy", "beam_size": 4},
        {"strategy": "sample"},
        {"length_penalty": "linear"},
        {"n_best": 0},
    ],
)
def test_decode_config_rejects(kwargs):
    with pytest.raises(ConfigError):
        DecodeConfig(**kwargs)


def test_decode_config_files():
    conf = Path(__file__).resolve().parents[1] / "conf" / "decode"
    greedy = validate(OmegaConf.load(conf / "greedy.yaml"), DecodeConfig)
    beam = validate(OmegaConf.load(conf / "beam5.yaml"), DecodeConfig)
    assert (greedy.strategy, greedy.beam_size) == ("greedy", 1)
    assert (beam.strategy, beam.beam_size, beam.length_penalty) == ("beam", 5, "gnmt")
    assert beam.alpha == 0.6
