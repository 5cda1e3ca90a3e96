"""Deterministic train/valid/test assignment by hashing the source string."""

import hashlib
import unicodedata

from seq2seq.config.data import SPLITS


def hash_fraction(source: str, seed: int = 0) -> float:
    """A stable pseudo-random number in [0, 1) for `source` (same on every run and machine)."""
    digest = hashlib.blake2b(f"{seed}\t{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_split(source: str, fractions: dict[str, float], seed: int = 0) -> str:
    """The split ("train", "valid" or "test") whose cumulative fraction interval holds `source`."""
    point, upper = hash_fraction(source, seed), 0.0
    positive = [split for split in SPLITS if fractions.get(split, 0.0) > 0]
    for split in positive:
        upper += fractions[split]
        if point < upper:
            return split
    return positive[-1]  # only reached through float rounding of the cumulative sum


def normalize_for_split(text: str) -> str:
    """`text` NFKC-normalised and case-folded, punctuation and symbols (Unicode categories P*
    and S*) replaced by spaces, whitespace collapsed: "¿Qué  hora es?" -> "qué hora es"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    spaced = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in folded)
    return " ".join(spaced.split())


def split_key(source: str, split_by: str) -> str:
    """The string hashed to place `source`: itself (`source`) or `normalize_for_split(source)`
    (`normalized_source`)."""
    return normalize_for_split(source) if split_by == "normalized_source" else source
