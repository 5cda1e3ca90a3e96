"""Config schemas: unknown keys, wrong types and cross-field rules are named errors."""

import pytest

from seq2seq.config import DecodeConfig, ModelConfig, TrainRunConfig, validate
from seq2seq.errors import ConfigError


def test_defaults_validate():
    cfg = validate({}, TrainRunConfig)
    assert cfg.data.format == "cmudict"
    assert isinstance(cfg.model, ModelConfig)


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"data": {"fromat": "text"}}, "data.fromat"),
        ({"model": {"encoder_units": "many"}}, "model.encoder_units"),
        ({"train": {"optimizer": {"learning_rate": "fast"}}}, "train.optimizer.learning_rate"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_unknown_key_or_wrong_type_names_the_key(bad, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(bad, TrainRunConfig)


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"model": {"decoder": "transformer"}}, "model.decoder"),
        ({"data": {"batching": "sorted"}}, "data.batching"),
        ({"decode": {"strategy": "beam", "beam_size": 2, "n_best": 3}}, "n_best"),
        ({"train": {"monitor_mode": "up"}}, "train.monitor_mode"),
        ({"data": {"split_fractions": {"train": 0.5, "valid": 0.1}}}, "split_fractions"),
    ],
)
def test_cross_field_rules(bad, words):
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        validate(bad, TrainRunConfig)


def test_decode_greedy_requires_beam_one():
    with pytest.raises(ConfigError):
        DecodeConfig(strategy="greedy", beam_size=4)
