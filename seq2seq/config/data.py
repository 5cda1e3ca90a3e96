"""Schemas of the `data` and `tokenizer` config groups."""

from dataclasses import dataclass, field

from seq2seq.errors import ConfigError


@dataclass
class SplitFiles:
    """Files of one split. `source`/`target` for format=text; `path` for format=tsv."""

    source: str | None = None
    target: str | None = None
    path: str | None = None


@dataclass
class DataConfig:
    name: str = "g2p_cmudict"
    # cmudict | text (two aligned files per split) | tsv (one file per split, optionally .gz)
    format: str = "cmudict"
    # Explicit files per split (text/tsv). A split left empty is cut from `train` by hashing
    # the source string, with the `split_fractions` below (so all targets of a source stay together).
    train: SplitFiles = field(default_factory=SplitFiles)
    valid: SplitFiles = field(default_factory=SplitFiles)
    test: SplitFiles = field(default_factory=SplitFiles)
    split_fractions: dict[str, float] = field(
        default_factory=lambda: {"train": 0.9, "valid": 0.05, "test": 0.05}
    )
    split_seed: int = 0
    # TSV columns (0-based).
    source_column: int = 0
    target_column: int = 1
    # CMUdict: remove stress digits (AH0 -> AH); keep variants word(2) as extra references.
    strip_stress: bool = True
    lowercase: bool = False
    # Length limits in tokens, counted after adding eos (source) / bos or eos (target).
    max_source_length: int = 64
    max_target_length: int = 64
    # bucketed: length-bucketed token-budget batches; random: shuffled fixed-size batches.
    batching: str = "bucketed"
    batch_tokens: int = 4096
    batch_size: int = 64
    # Bucket boundaries (exclusive upper lengths). None: derived from the length distribution.
    bucket_boundaries: list[int] | None = None
    bucket_width_ratio: float = 1.1
    shuffle_buffer: int = 50000
    eval_batch_size: int = 256
    num_parallel_calls: int = -1  # -1 = tf.data.AUTOTUNE

    def __post_init__(self) -> None:
        if self.format not in ("cmudict", "text", "tsv"):
            raise ConfigError(f"data.format must be cmudict, text or tsv, got {self.format!r}")
        if self.batching not in ("bucketed", "random"):
            raise ConfigError(f"data.batching must be bucketed or random, got {self.batching!r}")
        if self.batch_tokens < max(self.max_source_length, self.max_target_length):
            raise ConfigError(
                "data.batch_tokens must be >= data.max_source_length and data.max_target_length "
                f"(got {self.batch_tokens} < {max(self.max_source_length, self.max_target_length)})"
            )
        total = sum(self.split_fractions.values())
        if abs(total - 1.0) > 1e-6 or set(self.split_fractions) - {"train", "valid", "test"}:
            raise ConfigError(
                "data.split_fractions must have keys among train/valid/test summing to 1, "
                f"got {dict(self.split_fractions)}"
            )


@dataclass
class SideTokenizerConfig:
    model_type: str = "unigram"  # unigram | bpe | char | word
    vocab_size: int = 8000
    character_coverage: float = 1.0
    add_dummy_prefix: bool = True
    # Split on this before training/encoding (e.g. phonemes are space-separated symbols).
    byte_fallback: bool = False

    def __post_init__(self) -> None:
        if self.model_type not in ("unigram", "bpe", "char", "word"):
            raise ConfigError(
                f"tokenizer model_type must be unigram, bpe, char or word, got {self.model_type!r}"
            )
        if self.vocab_size < 5:
            raise ConfigError(f"tokenizer vocab_size must be >= 5, got {self.vocab_size}")


@dataclass
class TokenizerConfig:
    # shared: one model trained on source+target, used for both sides (`source` settings apply).
    shared: bool = False
    source: SideTokenizerConfig = field(default_factory=SideTokenizerConfig)
    target: SideTokenizerConfig = field(default_factory=SideTokenizerConfig)
    # Cap on the number of training sentences fed to SentencePiece (per side); 0 = all.
    input_sentence_size: int = 0
    seed: int = 0
