"""Typed config schemas, one file per config group, and `validate()` that checks a composed
Hydra config against them at startup.

Unknown keys and wrong types are reported with their full dotted key; cross-field rules live in
each schema's `__post_init__` and raise `ConfigError`.
"""

from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

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
from seq2seq.config.train import (
    LoggerConfig,
    OptimizerConfig,
    PathsConfig,
    ScheduleConfig,
    TrainConfig,
)
from seq2seq.config.verbs import (
    SCHEMAS,
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
    "EvaluateRunConfig",
    "ExportRunConfig",
    "PrepareRunConfig",
    "TrainRunConfig",
    "TranslateRunConfig",
    "validate",
]


_register_resolvers()

T = TypeVar("T")


def validate(cfg: DictConfig | dict[str, Any], schema: type[T]) -> T:
    """Check `cfg` against the dataclass `schema` and return the typed object.

    Keys Hydra adds at the top level (`hydra`) are ignored. Raises ConfigError naming the key:
    `config key 'run_dir': missing value; set run_dir=…`, `config key 'x': Key 'x' not in …`.
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
        key = getattr(exc, "full_key", None)
        msg = str(exc).splitlines()[0]
        raise ConfigError(f"config key {key!r}: {msg}" if key else f"config: {msg}") from None


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
