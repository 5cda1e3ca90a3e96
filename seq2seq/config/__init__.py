"""Typed config schemas, one file per config group, and `validate()` that checks a composed
Hydra config against them at startup.

Unknown keys and wrong types are reported with their full dotted key; cross-field rules live in
each schema's `__post_init__` and raise `ConfigError`.
"""

import re
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from seq2seq.config.data import (
    DataConfig,
    SamplingConfig,
    SideTokenizerConfig,
    SplitFiles,
    TokenizerConfig,
)
from seq2seq.config.decode import DecodeConfig
from seq2seq.config.model import ModelConfig
from seq2seq.config.resolvers import register as _register_resolvers
from seq2seq.config.suggest import schema_keys, unknown_key
from seq2seq.config.train import (
    LoggerConfig,
    OptimizerConfig,
    PathsConfig,
    ScheduleConfig,
    TrainConfig,
)
from seq2seq.config.verbs import (
    SCHEMAS,
    DistillRunConfig,
    EvaluateRunConfig,
    ExportRunConfig,
    PrepareRunConfig,
    TrainRunConfig,
    TranslateRunConfig,
)
from seq2seq.errors import ConfigError

__all__ = [
    "DataConfig",
    "SamplingConfig",
    "SideTokenizerConfig",
    "SplitFiles",
    "TokenizerConfig",
    "DecodeConfig",
    "ModelConfig",
    "LoggerConfig",
    "OptimizerConfig",
    "PathsConfig",
    "ScheduleConfig",
    "TrainConfig",
    "SCHEMAS",
    "DistillRunConfig",
    "EvaluateRunConfig",
    "ExportRunConfig",
    "PrepareRunConfig",
    "TrainRunConfig",
    "TranslateRunConfig",
    "validate",
]


_register_resolvers()

T = TypeVar("T")

# OmegaConf's messages for a value of the wrong type: (value, type name).
_WRONG_TYPE = (
    re.compile(r"Value '(.*)' of type '\w+' could not be converted to (\w+)"),
    re.compile(r"Value '(.*)' is not a valid (bool)"),
)
_EXPECTED = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false"}
_EXPECTED["bool"] = _EXPECTED["Boolean"]


def validate(cfg: DictConfig | dict[str, Any], schema: type[T]) -> T:
    """Check `cfg` against the dataclass `schema` and return the typed object.

    Keys Hydra adds at the top level (`hydra`) are ignored. Raises ConfigError naming the key:
    `config key 'run_dir': missing value; set run_dir=…`, `unknown config key 'train.max_stepz':
    did you mean train.max_steps?`, `config key 'train.max_steps': expected an integer, got 'x'`.
    """
    try:
        container = _resolved(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
        container.pop("hydra", None)
        merged = OmegaConf.merge(OmegaConf.structured(schema), container)
        missing = _missing_keys(OmegaConf.to_container(merged))
        if missing:
            raise ConfigError(f"config key {missing[0]!r}: missing value; set {missing[0]}=…")
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(describe(exc, schema_keys(schema))) from None


def describe(exc: OmegaConfBaseException, valid_keys: list[str]) -> str:
    """One line for an OmegaConf error, naming its key: an unknown key with the closest valid
    ones (`valid_keys`), a wrong type with the type expected."""
    key = getattr(exc, "full_key", None)
    msg = str(exc).splitlines()[0]
    if not key:
        return f"config: {msg}"
    if isinstance(exc, ConfigKeyError) and msg.startswith(f"Key '{exc.key}' not in"):
        return unknown_key(key, valid_keys)
    for pattern in _WRONG_TYPE:
        wrong = pattern.match(msg)
        if wrong and wrong.group(2) in _EXPECTED:
            expected = _EXPECTED[wrong.group(2)]
            return f"config key '{key}': expected {expected}, got {wrong.group(1)!r}"
    return f"config key {key!r}: {msg}"


def _resolved(cfg: DictConfig) -> dict[str, Any]:
    """`cfg` without `hydra` as plain containers, interpolations resolved. A missing value is
    reported under its own key, not under the key of an interpolation that refers to it."""
    raw = OmegaConf.to_container(cfg, resolve=False)
    raw.pop("hydra", None)
    missing = _missing_keys(raw)
    if missing:
        raise ConfigError(f"config key {missing[0]!r}: missing value; set {missing[0]}=…")
    return {
        key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        for key, value in cfg.items()
        if key != "hydra"
    }


def _missing_keys(tree: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose value is `???` in a plain (unresolved) container."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, list):
        items = enumerate(tree)
    else:
        return [prefix] if tree == "???" else []
    return [m for k, v in items for m in _missing_keys(v, f"{prefix}.{k}" if prefix else str(k))]
