"""Strings -> model batch, in the graph: the one preprocessing of training, evaluation and export.

    sources, targets tf.string (N,) --pack--> right-padded ids and lengths ("packed")
                                    --model_inputs--> (x, y, sample_weight)   (docs/DESIGN.md)
    sentences tf.string (N,) --encode_sources--> source_ids int32 (N, S), source_padding_mask

Source = pieces + eos; target in = bos + pieces; target out = pieces + eos. Strings are
lower-cased first if `lowercase`; each side keeps its first `max_*_length - 1` pieces, so
truncation keeps eos (bos) and an empty string gives a one-token row. Ids are right-padded
with PAD_ID, and every mask comes from `padding_mask` (ids != PAD_ID): a SentencePiece model
never emits PAD_ID as a piece, so that is exactly the real tokens.

The training pipeline calls `pack` on pools of strings, buckets the packed ids (cutting
padding only) and then calls `model_inputs`; evaluation calls the preprocessor itself; the
exported SavedModel calls `encode_sources`.
"""

import tensorflow as tf

from seq2seq.config.data import DataConfig, SamplingConfig
from seq2seq.constants import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SOURCE_IDS,
    SOURCE_PADDING_MASK,
    TARGET_IN_IDS,
    TARGET_PADDING_MASK,
)
from seq2seq.data.tokenizer import Tokenizers

# Keys of a packed batch besides SOURCE_IDS and TARGET_IN_IDS (see `bucketing.py`).
TARGET_OUT_IDS = "target_out_ids"
SOURCE_LENGTH = "source_length"
TARGET_LENGTH = "target_length"


def padding_mask(ids: tf.Tensor) -> tf.Tensor:
    """bool (B, L), True = real token, of right-padded ids int (B, L): the only mask builder."""
    return ids != PAD_ID


def model_inputs(packed: dict) -> tuple[dict, tf.Tensor, tf.Tensor]:
    """Packed ids (possibly cut to a bucket's widths) -> (x, y, sample_weight)."""
    target_mask = padding_mask(packed[TARGET_IN_IDS])  # (B, T); == mask of target_out_ids
    x = {
        SOURCE_IDS: packed[SOURCE_IDS],
        SOURCE_PADDING_MASK: padding_mask(packed[SOURCE_IDS]),
        TARGET_IN_IDS: packed[TARGET_IN_IDS],
        TARGET_PADDING_MASK: target_mask,
    }
    return x, packed[TARGET_OUT_IDS], target_mask


class Preprocessor:
    """Tokenizes, truncates, adds bos/eos and right-pads strings into the model's batch.

    Args:
        source_tokenizer, target_tokenizer: in-graph tokenizers, strings (N,) -> int32 ragged
            piece ids (N, None) via `.tokenize` (tensorflow_text.SentencepieceTokenizer).
            `target_tokenizer` may be None for source-only use (`encode_sources`).
        max_source_length, max_target_length: length limits in tokens (pieces + eos / bos).
        lowercase: lower-case the strings (UTF-8) before tokenizing.

    A tensorflow_text tokenizer dies when `tf.random.set_seed` runs after it was created
    eagerly: build the preprocessor inside the dataset function that uses it (`for_corpus`),
    or own its tokenizers in a tf.Module that is not reseeded (the export, `for_raw_text`).
    """

    def __init__(
        self,
        source_tokenizer,
        target_tokenizer=None,
        *,
        max_source_length: int,
        max_target_length: int | None = None,
        lowercase: bool = False,
    ) -> None:
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.lowercase = lowercase

    @classmethod
    def for_corpus(
        cls, tokenizers: Tokenizers, cfg: DataConfig, sampling: SamplingConfig | None = None
    ) -> "Preprocessor":
        """For `Corpus` strings, with new in-graph tokenizers: call it inside the dataset
        function. No lower-casing: `data.corpora` already applied `cfg.lowercase`.

        `sampling` (training batches only): the sides it names sample a segmentation per
        string (SentencePiece subword regularisation) instead of taking the best one."""

        def tokenizer(side: str):
            if sampling is None or not sampling.enabled or side not in sampling.sides:
                return getattr(tokenizers, side).tf_tokenizer()
            return getattr(tokenizers, side).tf_tokenizer(sampling.nbest_size, sampling.alpha)

        return cls(
            tokenizer("source"),
            tokenizer("target"),
            max_source_length=cfg.max_source_length,
            max_target_length=cfg.max_target_length,
        )

    @classmethod
    def for_raw_text(
        cls, cfg: DataConfig, source_tokenizer, target_tokenizer=None
    ) -> "Preprocessor":
        """For raw strings (the export): `cfg.lowercase` applied here, in the graph.

        tf.strings.lower and Python's str.lower (used by `data.corpora`) agree on every
        character except about 40 from recent Unicode versions, which tf leaves unchanged."""
        return cls(
            source_tokenizer,
            target_tokenizer,
            max_source_length=cfg.max_source_length,
            max_target_length=cfg.max_target_length,
            lowercase=cfg.lowercase,
        )

    def __call__(self, sources: tf.Tensor, targets: tf.Tensor) -> tuple[dict, tf.Tensor, tf.Tensor]:
        """strings (N,), (N,) -> (x, y, sample_weight), padded to the longest row."""
        return model_inputs(self.pack(sources, targets))

    def encode_sources(self, sentences: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """strings (N,) -> source_ids int32 (N, S), source_padding_mask bool (N, S)."""
        source = self._with_eos(self.source_tokenizer, sentences, self.max_source_length)
        source_ids = source.to_tensor(PAD_ID)  # (N, S), S = longest row
        return source_ids, padding_mask(source_ids)

    def pack(
        self,
        sources: tf.Tensor,
        targets: tf.Tensor,
        pad_to_limits: bool = False,
        drop_too_long: bool = False,
    ) -> dict:
        """strings (N,), (N,) -> ids right-padded to the longest row (or to the length limits
        if `pad_to_limits`): SOURCE_IDS (N, S), TARGET_IN_IDS and TARGET_OUT_IDS (N, T), and
        the real lengths SOURCE_LENGTH, TARGET_LENGTH int64 (N,). With `drop_too_long`, pairs
        with a side over its length limit are left out (N' <= N rows) instead of truncated."""
        if self.target_tokenizer is None or self.max_target_length is None:
            raise ValueError("pack needs a target tokenizer and max_target_length")
        source = self._tokenize(self.source_tokenizer, sources)
        target = self._tokenize(self.target_tokenizer, targets)
        if drop_too_long:  # pieces + eos (bos) within the limits
            fits = (source.row_lengths() < self.max_source_length) & (
                target.row_lengths() < self.max_target_length
            )
            source, target = (
                tf.ragged.boolean_mask(source, fits),
                tf.ragged.boolean_mask(target, fits),
            )
        source = _append(source[:, : self.max_source_length - 1], EOS_ID)
        pieces = target[:, : self.max_target_length - 1]
        target_in = tf.concat([_column(BOS_ID, pieces.nrows()), pieces], axis=1)
        target_out = _append(pieces, EOS_ID)

        def pad(ids: tf.RaggedTensor, limit: int) -> tf.Tensor:
            return ids.to_tensor(PAD_ID, shape=[None, limit] if pad_to_limits else None)

        return {
            SOURCE_IDS: pad(source, self.max_source_length),
            TARGET_IN_IDS: pad(target_in, self.max_target_length),
            TARGET_OUT_IDS: pad(target_out, self.max_target_length),
            SOURCE_LENGTH: source.row_lengths(),
            TARGET_LENGTH: target_in.row_lengths(),
        }

    def _with_eos(self, tokenizer, texts: tf.Tensor, limit: int) -> tf.RaggedTensor:
        """int32 ragged (N, <= limit): the first limit - 1 pieces of each text, then eos."""
        return _append(self._tokenize(tokenizer, texts)[:, : limit - 1], EOS_ID)

    def _tokenize(self, tokenizer, texts: tf.Tensor) -> tf.RaggedTensor:
        """int32 ragged (N, None): the pieces of each (lower-cased) text."""
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        return tokenizer.tokenize(texts)


def _append(pieces: tf.RaggedTensor, token_id: int) -> tf.RaggedTensor:
    """pieces (N, None) with `token_id` after each row."""
    return tf.concat([pieces, _column(token_id, pieces.nrows())], axis=1)


def _column(token_id: int, rows: tf.Tensor) -> tf.RaggedTensor:
    """A ragged (rows, 1) column of `token_id`."""
    return tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tf.constant(token_id, tf.int32)))
