"""Schemas of the primary configs, one per verb (`conf/<verb>.yaml`): everything an entry point
reads, validated at startup with `validate(cfg, <Verb>RunConfig)`.

`SCHEMAS` maps each primary config name to its schema; tests check that every `conf/*.yaml`
has one.
"""

from dataclasses import dataclass, field

from omegaconf import MISSING

from seq2seq.config.checks import check_choice
from seq2seq.config.data import SPLITS, DataConfig, TokenizerConfig
from seq2seq.config.decode import DecodeConfig
from seq2seq.config.model import ModelConfig
from seq2seq.config.train import LoggerConfig, PathsConfig, TrainConfig
from seq2seq.errors import ConfigError

LONG_INPUT = ("truncate", "reject")
TASKS = ("g2p", "translation")
EXPORT_FORMATS = ("savedmodel", "tflite")


def check_checkpoint(value: str) -> None:
    """`best`, `last`, `average:N` (the mean weights of the last N checkpoints, N >= 1) or
    `step:N` (the checkpoint saved at step N)."""
    if value in ("best", "last"):
        return
    text = value if isinstance(value, str) else ""
    if text.startswith("step:") and text.removeprefix("step:").isdigit():
        return
    count = text.removeprefix("average:")
    if not (text.startswith("average:") and count.isdigit() and int(count) >= 1):
        raise ConfigError(
            f"checkpoint must be best, last, average:N with N >= 1 or step:N, got {value!r}"
        )


@dataclass
class PrepareRunConfig:
    """`seq2seq-prepare`: corpora -> tokenizers + stats.json in the run directory."""

    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "prepare"
    seed: int = 1234
    # Progress bars on stderr (rate, ETA) when stderr is a terminal.
    progress: bool = True


@dataclass
class TrainRunConfig:
    """`seq2seq-train`: everything `fit(cfg)` reads."""

    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = MISSING  # conf/model/*.yaml (ModelConfig has no defaults)
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
        check_choice("task", self.task, TASKS)


@dataclass
class EvaluateRunConfig:
    """`seq2seq-evaluate`: decode and score one split of a trained run."""

    run_dir: str = MISSING  # a training run directory
    split: str = "test"  # train | valid | test
    # best | last | average:N (the mean weights of the last N checkpoints in checkpoints/last) |
    # step:N (the checkpoint of step N: checkpoints/last/ckpt-N, or best/ckpt-N)
    checkpoint: str = "best"
    # Other run directories decoded with run_dir as one ensemble (log-probs averaged per step).
    ensemble: list[str] = field(default_factory=list)
    # Attention heatmaps of the first N sentences (0 = none).
    plot_attention: int = 3
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    task_name: str = "evaluate"
    # Progress bars on stderr (rate, ETA) when stderr is a terminal.
    progress: bool = True

    def __post_init__(self) -> None:
        check_choice("split", self.split, SPLITS)
        check_checkpoint(self.checkpoint)
        if self.plot_attention < 0:
            raise ConfigError(f"plot_attention must be >= 0, got {self.plot_attention}")


@dataclass
class TranslateRunConfig:
    """`seq2seq-translate`: raw lines in, hypotheses out."""

    run_dir: str = MISSING
    input: str | None = None  # a file; None = stdin
    output: str | None = None  # a file; None = stdout
    checkpoint: str = "best"
    # Other run directories decoded with run_dir as one ensemble (log-probs averaged per step).
    ensemble: list[str] = field(default_factory=list)
    # Sources longer than the run's data.max_source_length: truncate (with a warning) | reject.
    long_input: str = "truncate"
    # `index ||| hypothesis ||| score` lines (all decode.n_best of them); implied by n_best > 1.
    scores: bool = False
    # Input lines with pieces unknown to the model (<unk>) are reported with a warning; with
    # strict=true they are an error.
    strict: bool = False
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    task_name: str = "translate"
    # Progress bars on stderr (rate, ETA) when stderr is a terminal.
    progress: bool = True

    def __post_init__(self) -> None:
        check_checkpoint(self.checkpoint)
        check_choice("long_input", self.long_input, LONG_INPUT)


@dataclass
class DistillRunConfig:
    """`seq2seq-distill`: a split decoded by a teacher (a run or an ensemble) as a corpus."""

    run_dir: str = MISSING  # the teacher: a training run directory
    # Other run directories decoded with run_dir as one ensemble (log-probs averaged per step).
    ensemble: list[str] = field(default_factory=list)
    checkpoint: str = "best"
    # The split whose distinct sources are decoded (with the teacher's best hypothesis as target).
    split: str = "train"
    # Splits written as they are (all references), so the student validates and tests on the
    # teacher's own splits.
    copy_splits: list[str] = field(default_factory=lambda: ["valid", "test"])
    # Also keep each source's original targets (a target equal to the teacher's output once):
    # the student learns from both.
    include_original: bool = False
    output: str = MISSING  # a directory: <split>.tsv.gz (or .source/.target) and distill.json
    format: str = "tsv"  # tsv (data=tsv) | text (two aligned files, data=parallel_text)
    compress: bool = True  # gzip the files (.gz; every reader takes them)
    # Sources per resumable unit: each is written once decoded, and a run started again with
    # the same settings continues after the last one.
    chunk_size: int = 4096
    # Sources longer than the teacher's data.max_source_length: truncate | reject.
    long_input: str = "truncate"
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    task_name: str = "distill"
    # Progress bars on stderr (rate, ETA) when stderr is a terminal; a line per chunk in the log.
    progress: bool = True

    def __post_init__(self) -> None:
        check_checkpoint(self.checkpoint)
        check_choice("split", self.split, SPLITS)
        for split in self.copy_splits:
            check_choice("copy_splits", split, SPLITS)
        if self.split in self.copy_splits:
            raise ConfigError(f"copy_splits holds {self.split!r}, the split being distilled")
        check_choice("format", self.format, ("tsv", "text"))
        check_choice("long_input", self.long_input, LONG_INPUT)
        if self.chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {self.chunk_size}")


@dataclass
class ExportRunConfig:
    """`seq2seq-export`: a strings-in/strings-out SavedModel of a trained run."""

    run_dir: str = MISSING
    # A new directory (savedmodel) or file (tflite); conf/export.yaml: <run_dir>/export[.tflite]
    output: str = MISSING
    checkpoint: str = "best"
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    # savedmodel: a TensorFlow SavedModel directory | tflite: one .tflite file for LiteRT
    # (docs/export-litert.md)
    format: str = "savedmodel"
    tflite_batch_size: int = 1  # format=tflite: sentences per call, a static shape
    task_name: str = "export"

    def __post_init__(self) -> None:
        check_checkpoint(self.checkpoint)
        check_choice("format", self.format, EXPORT_FORMATS)
        if self.tflite_batch_size < 1:
            raise ConfigError(f"tflite_batch_size must be >= 1, got {self.tflite_batch_size}")
        if self.format == "tflite" and self.decode.precision != "float32":
            raise ConfigError("format=tflite needs decode.precision=float32")


SCHEMAS: dict[str, type] = {
    "prepare": PrepareRunConfig,
    "train": TrainRunConfig,
    "evaluate": EvaluateRunConfig,
    "translate": TranslateRunConfig,
    "distill": DistillRunConfig,
    "export": ExportRunConfig,
}
