"""SentencePiece tokenizers: training in memory, saving to the run directory, in-graph use.

Every model has the fixed special ids PAD_ID=0, UNK_ID=1, BOS_ID=2, EOS_ID=3. A run directory
holds `tokenizer/{source,target}.{model,vocab}` (with `tokenizer.shared` both names hold the
same model); `.vocab` lists `piece<TAB>score`, one piece per line in id order.
"""

import io
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text
from sentencepiece import sentencepiece_model_pb2

from seq2seq.config.data import SideTokenizerConfig, TokenizerConfig, auto_vocab_cap, is_auto
from seq2seq.constants import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from seq2seq.data.corpora import Corpus
from seq2seq.errors import ConfigError, RunDirError
from seq2seq.files import write_once

SIDES = ("source", "target")
# vocab_size=auto first asks SentencePiece for this many pieces, more than any corpus gives.
_AUTO_PROBE = 1_000_000

log = logging.getLogger(__name__)


class Tokenizer:
    """A serialized SentencePiece model, usable from Python and inside tf.data / tf.function."""

    def __init__(self, model_proto: bytes):
        self.model_proto = model_proto
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @property
    def vocab_size(self) -> int:
        return self._sp.vocab_size()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Piece ids of each text, without bos/eos."""
        return self._sp.encode(list(texts))

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids` up to the first EOS_ID, skipping PAD_ID and BOS_ID."""
        pieces = []
        for i in ids:
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                pieces.append(int(i))
        return self._sp.decode(pieces)

    def pieces(self) -> list[str]:
        """The vocabulary, in id order."""
        return [self._sp.id_to_piece(i) for i in range(self.vocab_size)]

    def vocab_text(self) -> str:
        """`piece<TAB>score` lines in id order (the format of SentencePiece's .vocab files)."""
        scores = (self._sp.get_score(i) for i in range(self.vocab_size))
        return "".join(f"{piece}\t{score:g}\n" for piece, score in zip(self.pieces(), scores))

    def settings(self) -> dict[str, object]:
        """The training settings stored in the model, keyed like SideTokenizerConfig."""
        proto = sentencepiece_model_pb2.ModelProto.FromString(self.model_proto)
        spec = proto.trainer_spec
        return {
            "model_type": spec.ModelType.Name(spec.model_type).lower(),
            "vocab_size": self.vocab_size,
            "add_dummy_prefix": proto.normalizer_spec.add_dummy_prefix,
            "byte_fallback": spec.byte_fallback,
        }

    def tf_tokenizer(
        self, nbest_size: int = 0, alpha: float = 1.0
    ) -> tf_text.SentencepieceTokenizer:
        """A new in-graph tokenizer: strings (N,) -> int32 ragged piece ids (N, None).

        Create it inside the tf.function / dataset function that uses it: one created eagerly
        dies when `tf.random.set_seed` clears TensorFlow's kernel caches (NotFoundError:
        "Resource ... SentencepieceResource does not exist"). `nbest_size`, `alpha`: subword
        sampling (see config.data.SamplingConfig); the default 0 gives the best segmentation.
        """
        return tf_text.SentencepieceTokenizer(
            model=self.model_proto, out_type=tf.int32, nbest_size=nbest_size, alpha=alpha
        )

    def tf_detokenize(self, ids: tf.Tensor) -> tf.Tensor:
        """ids int (B, T) -> strings (B,): each row cut at its first EOS_ID, PAD/BOS skipped."""
        ids = tf.cast(ids, tf.int32)
        before_eos = tf.math.cumsum(tf.cast(ids == EOS_ID, tf.int32), axis=1) == 0
        keep = before_eos & (ids != PAD_ID) & (ids != BOS_ID)
        return self.tf_tokenizer().detokenize(tf.ragged.boolean_mask(ids, keep))


class Tokenizers(NamedTuple):
    source: Tokenizer
    target: Tokenizer


def train_tokenizers(cfg: TokenizerConfig, corpus: Corpus) -> Tokenizers:
    """Train the source and target models (one model if `cfg.shared`) on `corpus`.

    Each model is trained with SentencePiece's random generator seeded with `cfg.seed`.
    """
    if cfg.shared:
        shared = _train(cfg.source, corpus.sources + corpus.targets, "tokenizer.source", cfg)
        return Tokenizers(shared, shared)
    return Tokenizers(
        _train(cfg.source, corpus.sources, "tokenizer.source", cfg),
        _train(cfg.target, corpus.targets, "tokenizer.target", cfg),
    )


def _train(
    side: SideTokenizerConfig, sentences: list[str], key: str, cfg: TokenizerConfig
) -> Tokenizer:
    """One model trained in memory; ConfigError naming `key` if SentencePiece refuses.

    vocab_size=auto: the largest size the corpus allows; auto:N: at most N (`_train_largest`).
    """
    if is_auto(side.vocab_size):
        tokenizer = _train_largest(side, sentences, key, cfg, auto_vocab_cap(side.vocab_size))
        log.info(
            "%s: vocab_size=%s: trained a %s model with %d pieces",
            key,
            side.vocab_size,
            side.model_type,
            tokenizer.vocab_size,
        )
        return tokenizer
    try:
        tokenizer = Tokenizer(_sentencepiece(side, side.vocab_size, sentences, cfg))
    except RuntimeError as exc:
        raise _training_error(str(exc), key, side.vocab_size) from None
    if tokenizer.vocab_size < side.vocab_size:  # char models shrink silently
        raise _too_large(key, side.vocab_size, tokenizer.vocab_size)
    log.info("%s: trained a %s model with %d pieces", key, side.model_type, tokenizer.vocab_size)
    return tokenizer


def _train_largest(
    side: SideTokenizerConfig,
    sentences: list[str],
    key: str,
    cfg: TokenizerConfig,
    cap: int | None = None,
) -> Tokenizer:
    """The model with the most pieces SentencePiece can make from `sentences`, at most `cap`.

    A first training asks for `cap` (or `_AUTO_PROBE`) pieces: a char model silently keeps
    every character (done); the other types fail naming the maximum ("Please set it to a value
    <= N") if the corpus cannot give that many, and the next training asks for exactly N.
    """
    size = cap or _AUTO_PROBE
    for _ in range(3):  # the second attempt succeeds; a third in case N was not exact
        try:
            return Tokenizer(_sentencepiece(side, size, sentences, cfg))
        except RuntimeError as exc:
            maximum = _largest_allowed(str(exc))
            if maximum is None or maximum >= size:
                raise _training_error(str(exc), key, size) from None
            size = maximum
    raise ConfigError(f"{key}.vocab_size=auto: SentencePiece did not settle on a size ({size})")


def _sentencepiece(
    side: SideTokenizerConfig, vocab_size: int, sentences: list[str], cfg: TokenizerConfig
) -> bytes:
    """A serialized model of `vocab_size` pieces; RuntimeError if SentencePiece refuses."""
    writer = io.BytesIO()
    spm.set_random_generator_seed(cfg.seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=writer,
        model_type=side.model_type,
        vocab_size=vocab_size,
        character_coverage=side.character_coverage,
        add_dummy_prefix=side.add_dummy_prefix,
        byte_fallback=side.byte_fallback,
        normalization_rule_name=side.normalization_rule_name,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        input_sentence_size=cfg.input_sentence_size,
        shuffle_input_sentence=True,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )
    return writer.getvalue()


def _largest_allowed(message: str) -> int | None:
    """N of SentencePiece's "Vocabulary size too high (M). Please set it to a value <= N."."""
    limit = re.search(
        r"Vocabulary size too high \(\d+\)\. Please set it to a value <= (\d+)", message
    )
    return int(limit.group(1)) if limit else None


def _training_error(message: str, key: str, vocab_size: int) -> ConfigError:
    maximum = _largest_allowed(message)
    if maximum is not None:
        return _too_large(key, vocab_size, maximum)
    reason = message.strip().splitlines()[0].rsplit("] ", 1)[-1]
    return ConfigError(f"{key}: SentencePiece cannot train this model: {reason}")


def _too_large(key: str, requested: int, maximum: int) -> ConfigError:
    return ConfigError(
        f"{key}.vocab_size={requested} is too large for this corpus: set it to at most "
        f"{maximum} (or vocab_size=auto)"
    )


def save_tokenizers(tokenizers: Tokenizers, directory: Path) -> None:
    """Write {source,target}.{model,vocab} into `directory` (see `write_once`)."""
    for side, tokenizer in zip(SIDES, tokenizers):
        write_once(directory / f"{side}.model", tokenizer.model_proto)
        write_once(directory / f"{side}.vocab", tokenizer.vocab_text().encode("utf-8"))


def load_tokenizers(directory: Path) -> Tokenizers:
    """The models saved by `save_tokenizers` (one object for both sides if they are identical,
    as with `tokenizer.shared`, or separate models that came out the same)."""
    protos = []
    for side in SIDES:
        path = directory / f"{side}.model"
        if not path.is_file():
            raise RunDirError(f"{path}: tokenizer model not found")
        protos.append(path.read_bytes())
    source = Tokenizer(protos[0])
    return Tokenizers(source, source if protos[1] == protos[0] else Tokenizer(protos[1]))


def load_or_train_tokenizers(cfg: TokenizerConfig, corpus: Corpus, directory: Path) -> Tokenizers:
    """Load the tokenizers in `directory` if there are any (resume), else train and save them.

    Raises RunDirError when the saved models were trained with other settings than `cfg`.
    """
    if any((directory / f"{side}.model").exists() for side in SIDES):
        tokenizers = load_tokenizers(directory)
        _check_settings(cfg, tokenizers, directory)
        log.info("loaded tokenizers from %s", directory)
        return tokenizers
    tokenizers = train_tokenizers(cfg, corpus)
    save_tokenizers(tokenizers, directory)
    return tokenizers


def _check_settings(cfg: TokenizerConfig, tokenizers: Tokenizers, directory: Path) -> None:
    if cfg.shared and tokenizers.source.model_proto != tokenizers.target.model_proto:
        raise RunDirError(f"{directory}: holds two different models but tokenizer.shared=true")
    sides = (("source", cfg.source), ("target", cfg.source if cfg.shared else cfg.target))
    for (name, side_cfg), tokenizer in zip(sides, tokenizers):
        for key, saved in tokenizer.settings().items():
            wanted = getattr(side_cfg, key)
            if saved != wanted and not (key == "vocab_size" and _auto_fits(wanted, saved)):
                raise RunDirError(
                    f"{directory / (name + '.model')} has {key}={saved} but "
                    f"tokenizer.{'source' if cfg.shared else name}.{key}={wanted}: "
                    "use a new run directory"
                )


def _auto_fits(wanted: int | str, saved: int) -> bool:
    """A saved size meets `auto` always and `auto:N` when it is at most N."""
    cap = auto_vocab_cap(wanted)
    return is_auto(wanted) and (cap is None or saved <= cap)
