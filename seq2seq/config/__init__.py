"""Typed config schemas, one file per config group, and `validate()` that checks a composed
Hydra config against them at startup.

Unknown keys and wrong types are reported with their full dotted key; cross-field rules live in
each schema's `__post_init__` and raise `ConfigError`.
"""

from dataclasses import dataclass, field
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seq2seq.config.data import DataConfig, SideTokenizerConfig, SplitFiles, TokenizerConfig
from seq2seq.config.decode import DecodeConfig
from seq2seq.config.model import ModelConfig
from seq2seq.config.train import (
    LoggerConfig,
    OptimizerConfig,
    PathsConfig,
    ScheduleConfig,
    TrainConfig,
)
from seq2seq.errors import ConfigError

__all__ = [
    "DataConfig",
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
    "PrepareRunConfig",
    "TrainRunConfig",
    "validate",
]


@dataclass
class PrepareRunConfig:
    """`seq2seq-prepare`: corpora -> tokenizers + stats.json in the run directory."""

    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "prepare"
    seed: int = 1234


@dataclass
class TrainRunConfig:
    """`seq2seq-train`: everything `fit(cfg)` reads."""

    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "train"
    # "task" metric family for validation decoding: g2p (WER/PER) | translation (BLEU/chrF/TER)
    task: str = "g2p"
    tags: list[str] = field(default_factory=list)
    optimized_metric: str | None = None

    def __post_init__(self) -> None:
        if self.task not in ("g2p", "translation"):
            raise ConfigError(f"task must be g2p or translation, got {self.task!r}")


T = TypeVar("T")


def validate(cfg: DictConfig | dict[str, Any], schema: type[T]) -> T:
    """Check `cfg` against the dataclass `schema` and return the typed object.

    Keys Hydra adds at the top level (`hydra`) are ignored. Raises ConfigError naming the key.
    """
    if isinstance(cfg, DictConfig):
        container = OmegaConf.to_container(cfg, resolve=True)
    else:
        container = dict(cfg)
    container.pop("hydra", None)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), container)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        msg = str(exc).splitlines()[0]
        raise ConfigError(f"config key {key!r}: {msg}" if key else f"config: {msg}") from None
