"""Warnings when the tokenizers look wrong for the data: targets (or sources) of about one piece
each (a word model on single words: every output a label, nothing spelled), or many `<unk>`
pieces (a vocabulary or character coverage too small for the text)."""

import logging

import numpy as np

from seq2seq.constants import UNK_ID
from seq2seq.data.corpora import Corpus
from seq2seq.data.tokenizer import Tokenizer, Tokenizers

log = logging.getLogger(__name__)

MIN_MEAN_PIECES = 1.5  # a side whose training texts average at most this many pieces: warn
MAX_UNK_FRACTION = 0.01  # a split whose pieces are more than this share <unk>: warn
HELP = "see docs/your-own-data.md"


def tokenizer_warnings(tokenizers: Tokenizers, corpora: dict[str, Corpus]) -> list[str]:
    """The warnings for `tokenizers` on the training split (mean length, <unk> share) and the
    valid split (<unk> share: words never seen in training), in side order."""
    shared = tokenizers.source.model_proto == tokenizers.target.model_proto
    warnings = []
    for side, tokenizer in zip(("source", "target"), tokenizers):
        key = "tokenizer.source" if shared else f"tokenizer.{side}"
        texts = {split: _side(corpora[split], side) for split in ("train", "valid")}
        counts = _piece_counts(tokenizer, texts["train"])
        if len(counts) and counts.mean() <= MIN_MEAN_PIECES:
            warnings.append(_short_message(key, side, tokenizer, float(counts.mean())))
        for split, lines in texts.items():
            unk = unk_fraction(tokenizer, lines)
            if unk > MAX_UNK_FRACTION:
                warnings.append(_unk_message(key, side, split, tokenizer, unk))
    return warnings


def warn_about_tokenizers(tokenizers: Tokenizers, corpora: dict[str, Corpus]) -> None:
    """Log each of `tokenizer_warnings` as a warning."""
    for warning in tokenizer_warnings(tokenizers, corpora):
        log.warning("%s", warning)


def unk_fraction(tokenizer: Tokenizer, texts: list[str]) -> float:
    """The share of the pieces of `texts` that are <unk> (0 for no pieces)."""
    ids = [i for row in tokenizer.encode(texts) for i in row]
    return ids.count(UNK_ID) / max(len(ids), 1)


def _side(corpus: Corpus | None, side: str) -> list[str]:
    if corpus is None:
        return []
    return corpus.sources if side == "source" else corpus.targets


def _piece_counts(tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    return np.array([len(row) for row in tokenizer.encode(texts)], dtype=np.float64)


def _model(tokenizer: Tokenizer) -> str:
    settings = tokenizer.settings()
    return f"a {settings['model_type']} model of {settings['vocab_size']} pieces"


def _short_message(key: str, side: str, tokenizer: Tokenizer, mean: float) -> str:
    return (
        f"{key}: the training {side}s are {mean:.2f} pieces long on average ({_model(tokenizer)})"
        f": each {side} is about one token, learnt as a whole label and never spelled. For "
        "words spelled letter by letter (spelling, transliteration, G2P-like) use "
        "tokenizer=chars or experiment=byo_chars; for sentences tokenizer=subword or "
        f"experiment=byo_translation ({HELP})"
    )


def _unk_message(key: str, side: str, split: str, tokenizer: Tokenizer, unk: float) -> str:
    return (
        f"{key}: {unk:.1%} of the {split} {side}s' pieces are <unk> ({_model(tokenizer)}): "
        "the model cannot read or write them. Use a smaller unit (tokenizer=chars or "
        f"tokenizer=subword), {key}.vocab_size=auto, {key}.character_coverage=1.0 or "
        f"{key}.byte_fallback=true ({HELP})"
    )
