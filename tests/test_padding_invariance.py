"""Padding invariance, property-based: a sequence's logits at its real steps, its loss and the
gradients it induces are the same (<= 1e-5) alone, with extra padding, or batched with longer
and shorter sequences; for both decoders, all attention types, uni- and bidirectional
encoders, with random weights and biases. The naive "zero the inputs, run an unmasked GRU"
recipe fails the same check. Every Luong configuration and every Bahdanau one with additive
attention runs with both GRU implementations (`model.rnn=keras|fused`)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras import ops

from tests.model_helpers import Probe, Sequence, invariance_errors, random_model, tiny_config

TOLERANCE = 1e-5
MAX_LEN = 6  # real lengths; padded lengths stay <= MAX_LEN + 2

# name -> config: every (decoder, attention, direction) combination, with bridges, layer
# counts, merges, tying and input feeding spread over them.
CONFIGS = {
    "luong-dot-uni": dict(attention="dot", encoder_units=8, bridge="copy"),
    "luong-dot-bi": dict(attention="dot", bidirectional=True, tie_embeddings=True, embedding_dim=8),
    "luong-general-uni": dict(
        encoder_layers=2, decoder_layers=2, bridge="zero", tie_embeddings=True
    ),
    "luong-general-bi": dict(bidirectional=True, encoder_layers=2, decoder_units=6),
    "luong-additive-uni": dict(attention="additive", decoder_layers=2, encoder_layers=2),
    "luong-additive-bi": dict(
        attention="additive",
        bidirectional=True,
        bidirectional_merge="sum",
        encoder_units=6,
        decoder_units=6,
        bridge="copy",
    ),
    "bahdanau-dot-uni": dict(
        decoder="bahdanau", attention="dot", encoder_units=8, input_feeding=True
    ),
    "bahdanau-dot-bi": dict(
        decoder="bahdanau", attention="dot", bidirectional=True, bridge="copy", encoder_layers=2
    ),
    "bahdanau-general-uni": dict(
        decoder="bahdanau", decoder_layers=2, input_feeding=True, tie_embeddings=True
    ),
    "bahdanau-general-bi": dict(decoder="bahdanau", bidirectional=True, bridge="zero"),
    "bahdanau-additive-uni": dict(
        decoder="bahdanau", attention="additive", input_feeding=True, encoder_layers=2
    ),
    "bahdanau-additive-bi": dict(
        decoder="bahdanau",
        attention="additive",
        bidirectional=True,
        decoder_layers=2,
        input_feeding=True,
    ),
}
# model.rnn=fused (seq2seq.layers.masked_gru) for every configuration that runs GRU layers,
# and for the Bahdanau decoder with additive attention (seq2seq.layers.bahdanau_recurrence;
# with dot or general attention it steps the Keras cells either way).
CONFIGS |= {
    f"{name}-fused": dict(cfg, rnn="fused")
    for name, cfg in CONFIGS.items()
    if "luong" in name or "additive" in name
}
_PROBES = {}


def probe_for(name):
    """Built once per configuration and reused across examples."""
    if name not in _PROBES:
        seed = sorted(CONFIGS).index(name)
        _PROBES[name] = Probe(random_model(tiny_config(**CONFIGS[name]), seed=seed))
    return _PROBES[name]


lengths = st.tuples(st.integers(1, MAX_LEN), st.integers(1, MAX_LEN))


@st.composite
def cases(draw):
    """A sequence, 1-3 other sequences, its row, extra padding and the padding fill."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    main = Sequence.random(rng, *draw(lengths))
    others = [Sequence.random(rng, *ls) for ls in draw(st.lists(lengths, min_size=1, max_size=3))]
    return dict(
        sequence=main,
        others=others,
        row=draw(st.integers(0, len(others))),
        extra_source=draw(st.integers(0, 2)),
        extra_target=draw(st.integers(0, 2)),
        fill_seed=draw(st.one_of(st.none(), st.just(seed))),
    )


PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@PROPERTY_SETTINGS
@given(case=cases())
def test_model_is_padding_invariant(name, case):
    errors = invariance_errors(probe_for(name), **case)
    assert max(errors.values()) <= TOLERANCE, errors


# --- The naive recipe, to show the property can fail -------------------------------------


def make_naive(model):
    """Replace every (bidirectional) GRU call by: inputs * mask, then the GRU without a mask."""
    import keras

    for layer in model._flatten_layers():
        if isinstance(layer, (keras.layers.GRU, keras.layers.Bidirectional)):
            layer.call = _naive_call(layer.call)
    return model


def _naive_call(call):
    def naive(sequences, initial_state=None, mask=None, training=False):
        if mask is not None:
            sequences = sequences * ops.cast(mask, sequences.dtype)[:, :, None]
        return call(sequences, initial_state=initial_state, mask=None, training=training)

    return naive


@pytest.mark.parametrize("name", ["luong-dot-uni", "luong-general-bi"])
def test_naive_zeroing_fails_the_same_check(name):
    """Zeroed padding still moves the GRU state (biases): here through the final state given
    to the decoder (bridge) and the backward direction. (With right padding, a unidirectional
    encoder and a zero bridge the naive recipe would go unnoticed.)"""
    probe = Probe(make_naive(random_model(tiny_config(**CONFIGS[name]), seed=7)))
    rng = np.random.default_rng(0)
    failures = 0
    for _ in range(5):
        case = dict(
            sequence=Sequence.random(rng, 3, 3),
            others=[Sequence.random(rng, 6, 6)],
            row=1,
            extra_source=2,
            extra_target=2,
            fill_seed=None,
        )
        errors = invariance_errors(probe, **case)
        failures += max(errors.values()) > 100 * TOLERANCE
    assert failures == 5
