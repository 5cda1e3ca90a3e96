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
from seq2seq.decoding import (
    BeamSearch,
    GreedySearch,
    beam_search,
    decode,
    greedy_search,
    length_penalty,
    search,
    search_loop,
    start_model,
)
from seq2seq.decoding.common import max_output_lengths
from seq2seq.decoding.loop import _decode
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
        return self.teacher_force(x)[0]

    def teacher_force(self, x, training=False):
        """Batch dict -> logits (B, T, V), attention (B, T, S)."""
        memory, (state,) = self.encode(x["source_ids"], x["source_padding_mask"])
        outputs, _ = self.decoder(
            self.target_embedding(x["target_in_ids"]),
            initial_state=state,
            mask=x["target_padding_mask"],
        )
        return self._attend(outputs, memory, x["source_padding_mask"])

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


def teacher_forcing_batch(source_ids, source_padding_mask, ids):
    """The batch dict that teacher-forces output `ids` (B, L) (EOS included, PAD after)."""
    ids = tf.convert_to_tensor(ids)
    bos = tf.fill([tf.shape(ids)[0], 1], BOS)
    return {
        "source_ids": source_ids,
        "source_padding_mask": source_padding_mask,
        "target_in_ids": tf.concat([bos, ids[:, :-1]], axis=1),
        "target_padding_mask": ids != PAD,
    }


def teacher_forced_log_probs(model, source_ids, source_padding_mask, ids):
    """Sum of the model's log-probabilities of the non-pad `ids` (B, L), teacher-forced."""
    x = teacher_forcing_batch(source_ids, source_padding_mask, ids)
    logits = model(x, training=False)
    log_probs = tf.gather(tf.nn.log_softmax(logits), ids, batch_dims=2)  # (B, L)
    return tf.reduce_sum(tf.where(x["target_padding_mask"], log_probs, 0.0), axis=1).numpy()


def flat(tensor):
    """(B, N, ...) -> (B·N, ...)."""
    tensor = tf.convert_to_tensor(tensor)
    return tf.reshape(tensor, tf.concat([[-1], tf.shape(tensor)[2:]], 0))


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
        name="tiny_search",
        embedding_dim=8,
        encoder_units=8,
        encoder_layers=1,
        bidirectional=True,
        bidirectional_merge="concat",
        decoder=decoder,
        decoder_units=8,
        decoder_layers=1,
        attention="additive" if bahdanau else "general",
        attention_units=8,
        input_feeding=bahdanau,
        bridge="dense",
        tie_embeddings=False,
        dropout=0.5,
        rnn="keras",
    )
    return build_model(cfg, 12, 12)


@pytest.fixture(scope="module", params=["toy", "luong", "bahdanau"])
def searchable(request, toy):
    """(model, source_ids (4, 9), source_padding_mask (4, 9)) for the fake and the real models."""
    if request.param == "toy":
        return toy
    return (tiny_real_model(request.param),) + toy[1:]


class NestedMemory:
    """`model` with its memory wrapped in a nest ({"values": memory, "keys": (memory[..., :1],)}),
    as a model caching attention keys would return it: search must treat memory as opaque."""

    def __init__(self, model):
        self.model = model

    def encode(self, source_ids, source_padding_mask, training=False):
        memory, state = self.model.encode(source_ids, source_padding_mask, training=training)
        return {"values": memory, "keys": (memory[..., :1],)}, state

    def decode_step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        tf.debugging.assert_equal(tf.shape(memory["keys"][0])[0], tf.shape(prev_ids)[0])
        return self.model.decode_step(
            prev_ids, state, memory["values"], memory_padding_mask, training=training
        )


class DynamicVocabTableModel(TableModel):
    """TableModel whose logits have no static vocabulary size."""

    def decode_step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        logits, state, attention = super().decode_step(
            prev_ids, state, memory, memory_padding_mask, training
        )
        return tf.reshape(logits, [tf.shape(prev_ids)[0], -1]), state, attention


CONTRACT = {"ids": (tf.int32, 3), "scores": (tf.float32, 2), "log_probs": (tf.float32, 2)}
CONTRACT["lengths"] = (tf.int32, 2)


def assert_contract(out, batch, n_best, attention=False):
    """The one search result: keys, dtypes, ranks and shapes (B, N, L) / (B, N)."""
    expected = dict(CONTRACT, **({"attention": (tf.float32, 4)} if attention else {}))
    assert set(out) == set(expected)
    for key, (dtype, rank) in expected.items():
        assert (out[key].dtype, out[key].shape.rank) == (dtype, rank), key
        assert tuple(out[key].shape[:2]) == (batch, n_best), key
    assert out["attention" if attention else "ids"].shape[2] == out["ids"].shape[2]


def test_unbuilt_model_is_rejected():
    source_ids, mask = make_sources([3])
    with pytest.raises(ValueError, match="built"):
        greedy_search(ToyGRU(), source_ids, mask)


@pytest.mark.parametrize("attention", [False, True])
def test_every_strategy_returns_the_same_contract(toy, attention):
    model, source_ids, mask = toy
    for cfg, n_best in [
        (DecodeConfig(strategy="greedy"), 1),
        (DecodeConfig(strategy="beam", beam_size=3, n_best=1), 1),
        (DecodeConfig(strategy="beam", beam_size=3, n_best=3), 3),
    ]:
        assert_contract(
            search(model, source_ids, mask, cfg, attention=attention), 4, n_best, attention
        )
    for strategy, n_best in [(GreedySearch(), 1), (BeamSearch(4, 2), 2), (BeamSearch(1), 1)]:
        out = decode(model, source_ids, mask, strategy, attention=attention)
        assert_contract(out, 4, n_best, attention)


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_an_empty_batch_gives_empty_results(toy, strategy):
    """As a SavedModel asked to translate an empty list: the loop runs no step."""
    cfg = DecodeConfig(strategy=strategy, beam_size=1 if strategy == "greedy" else 3, n_best=1)
    empty_ids, empty_mask = tf.zeros([0, 3], tf.int32), tf.zeros([0, 3], tf.bool)
    assert_contract(search(toy[0], empty_ids, empty_mask, cfg, attention=True), 0, 1, True)


def test_greedy_returns_one_hypothesis_scored_by_its_log_prob(toy):
    model, source_ids, mask = toy
    greedy = greedy_search(model, source_ids, mask)
    assert greedy["ids"].shape[1] == 1
    np.testing.assert_array_equal(greedy["scores"], greedy["log_probs"])
    assert (greedy["scores"].numpy() < 0).all()


@pytest.mark.parametrize("penalty", ["none", "gnmt"])
def test_beam_of_one_equals_greedy(searchable, penalty):
    model, source_ids, mask = searchable
    greedy = greedy_search(model, source_ids, mask)
    beam = beam_search(model, source_ids, mask, beam_size=1, length_penalty=penalty)
    np.testing.assert_array_equal(beam["ids"], greedy["ids"])
    np.testing.assert_array_equal(beam["lengths"], greedy["lengths"])
    np.testing.assert_allclose(beam["log_probs"], greedy["log_probs"], rtol=1e-6)
    counts = (greedy["ids"].numpy() != PAD).sum(-1)
    expected = greedy["log_probs"] / length_penalty(counts, penalty, 0.6)
    np.testing.assert_allclose(beam["scores"], expected, rtol=1e-6)


def test_greedy_scores_are_teacher_forced_log_probs(searchable):
    model, source_ids, mask = searchable
    greedy = greedy_search(model, source_ids, mask)
    expected = teacher_forced_log_probs(model, source_ids, mask, greedy["ids"][:, 0])
    np.testing.assert_allclose(greedy["log_probs"][:, 0], expected, rtol=1e-5)


def test_greedy_output_layout(toy):
    model, source_ids, mask = toy
    greedy = greedy_search(
        model, source_ids, mask, max_length_a=1.0, max_length_b=3, attention=True
    )
    ids, attention = greedy["ids"].numpy()[:, 0], greedy["attention"].numpy()[:, 0]
    assert attention.shape == ids.shape + (source_ids.shape[1],)
    for row, length in zip(ids, greedy["lengths"].numpy()[:, 0]):
        assert PAD not in row[:length] and EOS not in row[:length] and BOS not in row
        assert not row[length + 1 :].any()
    real = ids != PAD
    assert not real[:, -1].all()  # some sentences finished before the others
    np.testing.assert_allclose(attention.sum(-1), real.astype(np.float32), atol=1e-5)
    assert not np.where(mask.numpy()[:, None, :], 0.0, attention).any()  # never on padding


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_attention_is_the_teacher_forced_attention_of_each_hypothesis(searchable, strategy):
    """The attention history follows each hypothesis back through the beam reorderings."""
    model, source_ids, mask = searchable
    if strategy == "greedy":
        out = greedy_search(model, source_ids, mask, attention=True)
    else:
        out = beam_search(model, source_ids, mask, beam_size=4, n_best=4, attention=True)
    n_best = out["ids"].shape[1]
    ids = flat(out["ids"])
    x = teacher_forcing_batch(tf.repeat(source_ids, n_best, 0), tf.repeat(mask, n_best, 0), ids)
    _, expected = model.teacher_force(x)
    real = x["target_padding_mask"].numpy()
    attention = flat(out["attention"]).numpy()
    np.testing.assert_allclose(attention[real], expected.numpy()[real], atol=1e-5)
    assert not attention[~real].any()


def test_beam_log_probs_are_teacher_forced(searchable):
    model, source_ids, mask = searchable
    beam = beam_search(model, source_ids, mask, beam_size=4, n_best=4)
    batch, n_best, _ = beam["ids"].shape
    expected = teacher_forced_log_probs(
        model, tf.repeat(source_ids, n_best, 0), tf.repeat(mask, n_best, 0), flat(beam["ids"])
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
    ids = flat(beam["ids"]).numpy()
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


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_memory_is_an_opaque_nest(toy, strategy):
    model, source_ids, mask = toy
    cfg = DecodeConfig(strategy=strategy, beam_size=1 if strategy == "greedy" else 3)
    nested = search(NestedMemory(model), source_ids, mask, cfg)
    plain = search(model, source_ids, mask, cfg)
    np.testing.assert_array_equal(nested["ids"], plain["ids"])
    np.testing.assert_allclose(nested["scores"], plain["scores"], rtol=1e-6)


def test_the_loop_needs_only_a_log_prob_callback(toy):
    """An ensemble plugs in as a callback: two copies of a model, log-probs averaged per step,
    their states kept as a tuple, search exactly as the model alone."""
    model, source_ids, mask = toy
    strategy = BeamSearch(beam_size=3, n_best=3)

    @tf.function
    def ensemble_search(source_ids, mask):
        members = [start_model(model, source_ids, mask, strategy.beam_size) for _ in range(2)]

        def next_log_probs(prev_ids, states):
            outputs = [step(prev_ids, state) for (step, _), state in zip(members, states)]
            log_probs = tf.reduce_mean([o[0] for o in outputs], axis=0)
            return log_probs, tuple(o[1] for o in outputs), outputs[0][2]

        initial = tuple(state for _, state in members)
        limits = max_output_lengths(mask, 2.0, 10.0)
        return search_loop(next_log_probs, initial, strategy, limits)

    ensemble = ensemble_search(source_ids, mask)
    alone = beam_search(model, source_ids, mask, beam_size=3, n_best=3)
    np.testing.assert_array_equal(ensemble["ids"], alone["ids"])
    np.testing.assert_allclose(ensemble["scores"], alone["scores"], rtol=1e-6)


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
    np.testing.assert_array_equal(greedy["lengths"], limits[:, None])


def test_beam_finds_what_greedy_misses():
    model = TableModel()
    source_ids, mask = make_sources([3, 5], vocab=8)
    greedy = greedy_search(model, source_ids, mask)
    np.testing.assert_array_equal(greedy["ids"], [[[A, C, EOS]]] * 2)
    np.testing.assert_allclose(greedy["scores"], [[math.log(0.24)]] * 2, rtol=1e-6)
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


@pytest.fixture(scope="module")
def toys_that_end():
    """Random GRUs that emit EOS often (so beams finish at different steps), with sources."""
    models = [built(ToyGRU(seed=seed, eos_bias=bias)) for seed, bias in [(1, 1.0), (2, 2.0)]]
    return [(m, *make_sources([3, 8, 5, 2, 6, 4], seed=i)) for i, m in enumerate(models)]


def early_and_exhaustive(model, source_ids, mask, **kwargs) -> dict[bool, dict]:
    return {
        early: beam_search(model, source_ids, mask, early_stopping=early, **kwargs)
        for early in (True, False)
    }


# Every penalty and every (beam, n_best) shape appears in the default suite once; the other
# eight combinations run with `make test-slow`.
FAST_EARLY_STOPPING = {("gnmt", 2, 1), ("average", 5, 1), ("none", 5, 3), ("gnmt", 3, 3)}
EARLY_STOPPING_CASES = [
    pytest.param(
        penalty,
        beam_size,
        n_best,
        marks=() if (penalty, beam_size, n_best) in FAST_EARLY_STOPPING else pytest.mark.slow,
    )
    for beam_size, n_best in [(2, 1), (5, 1), (5, 3), (3, 3)]
    for penalty in ["gnmt", "average", "none"]
]


@pytest.mark.parametrize(("penalty", "beam_size", "n_best"), EARLY_STOPPING_CASES)
def test_early_stopping_returns_the_exhaustive_result(toys_that_end, penalty, beam_size, n_best):
    """Same hypotheses, scores and order as searching until every beam is finished."""
    for model, source_ids, mask in toys_that_end:
        out = early_and_exhaustive(
            model, source_ids, mask, beam_size=beam_size, n_best=n_best, length_penalty=penalty
        )
        length = out[False]["ids"].shape[-1]
        np.testing.assert_array_equal(pad_to(out[True]["ids"].numpy(), length), out[False]["ids"])
        for key in ("scores", "log_probs"):
            np.testing.assert_allclose(out[True][key], out[False][key], rtol=1e-6)
        np.testing.assert_array_equal(out[True]["lengths"], out[False]["lengths"])


@pytest.mark.parametrize(("beam_size", "n_best", "fewer"), [(5, 1, True), (3, 3, False)])
def test_early_stopping_ends_sentences_sooner(toys_that_end, beam_size, n_best, fewer):
    """Sentence by sentence: fewer steps in all when N < K; N = K never stops early."""
    steps = {True: 0, False: 0}
    for model, source_ids, mask in toys_that_end:
        for row in range(source_ids.shape[0]):
            length = int(tf.reduce_sum(tf.cast(mask[row], tf.int32)))
            one = (source_ids[row : row + 1, :length], mask[row : row + 1, :length])
            out = early_and_exhaustive(model, *one, beam_size=beam_size, n_best=n_best)
            assert out[True]["ids"].shape[-1] <= out[False]["ids"].shape[-1]
            steps = {early: steps[early] + out[early]["ids"].shape[-1] for early in steps}
    assert (steps[True] < steps[False]) == fewer, steps


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"beam_size": 0}, "beam_size must be >= 1, got 0"),
        ({"beam_size": 2, "n_best": 3}, r"n_best must be between 1 and beam_size \(2\), got 3"),
        ({"beam_size": 2, "n_best": 0}, "n_best must be between 1"),
        ({"length_penalty": "linear"}, "length penalty must be one of"),
    ],
)
def test_beam_arguments_are_checked(kwargs, match):
    source_ids, mask = make_sources([3], vocab=8)
    with pytest.raises(ValueError, match=match):
        beam_search(TableModel(), source_ids, mask, **kwargs)


def test_beam_needs_a_vocabulary_larger_than_the_beam():
    source_ids, mask = make_sources([3], vocab=8)
    beam_search(TableModel(vocab=8), source_ids, mask, beam_size=6)  # 6 + PAD + BOS = 8: fine
    with pytest.raises(ValueError, match="beam_size 7 needs a target vocabulary of at least 9"):
        beam_search(TableModel(vocab=8), source_ids, mask, beam_size=7)
    # Vocabulary size unknown until run time: checked in the graph.
    beam_search(DynamicVocabTableModel(vocab=8), source_ids, mask, beam_size=6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocabulary of at least 9"):
        beam_search(DynamicVocabTableModel(vocab=8), source_ids, mask, beam_size=7)


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_search_inside_a_callers_tf_function(toy, strategy):
    """As in the SavedModel export: `search` traced inside an outer tf.function."""
    model, source_ids, mask = toy
    cfg = DecodeConfig(strategy=strategy, beam_size=1 if strategy == "greedy" else 2)
    traced = tf.function(lambda ids, mask: search(model, ids, mask, cfg)["ids"])
    np.testing.assert_array_equal(
        traced(source_ids, mask), search(model, source_ids, mask, cfg)["ids"]
    )


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_new_batches_and_equal_configs_do_not_retrace(toy, strategy):
    model, _, _ = toy
    batches = [make_sources(lengths, seed=i) for i, lengths in enumerate([[4, 2], [7], [3, 5, 9]])]
    cfg = dict(strategy=strategy, beam_size=1 if strategy == "greedy" else 3)
    for ids, mask in batches[:2]:  # the second shape relaxes the trace to (None, None)
        search(model, ids, mask, DecodeConfig(**cfg))
    traces = _decode.experimental_get_tracing_count()
    for ids, mask in batches:
        search(model, ids, mask, DecodeConfig(**cfg))  # a new (equal) strategy object each time
    assert _decode.experimental_get_tracing_count() == traces


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
    greedy = search(model, source_ids, mask, DecodeConfig(strategy="greedy", max_length_b=2))
    np.testing.assert_array_equal(
        greedy["ids"], greedy_search(model, source_ids, mask, max_length_b=2)["ids"]
    )
    assert greedy["ids"].shape[-1] <= 2 * 9 + 2
    cfg = DecodeConfig(strategy="beam", beam_size=3, n_best=2, length_penalty="average", alpha=0)
    beam = search(model, source_ids, mask, cfg)
    expected = beam_search(model, source_ids, mask, 3, 2, "average")
    np.testing.assert_array_equal(beam["ids"], expected["ids"])
    np.testing.assert_allclose(beam["scores"], expected["scores"])
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
