"""A floor under the validation and test splits cut from the training file: a fraction that
suits a large corpus (1 % of a million pairs) leaves a small one a handful of pairs, whose
scores are noise. Below the floor the fraction is raised, with a warning; a corpus too small
for any useful split is an error saying how to set the split."""

import logging
import math

from seq2seq.errors import DataError

log = logging.getLogger(__name__)

FLOOR_PAIRS = 100  # a cut split holds at least this many pairs (expected) ...
FLOOR_FRACTION = 0.05  # ... or this share of the file, whichever is smaller
MIN_PAIRS = 10  # fewer expected pairs than this in a cut split: an error


def floored_fractions(fractions: dict[str, float], cut: list[str], pairs: int, name: str) -> dict:
    """`fractions` with each split of `cut` (those cut from a training file of `pairs` pairs)
    raised to hold about min(FLOOR_PAIRS, FLOOR_FRACTION of the file) pairs, taken from train.

    Splits with a zero fraction stay empty (asked for). Raises DataError when a cut split would
    hold fewer than MIN_PAIRS pairs even so.
    """
    floor = min(FLOOR_PAIRS / max(pairs, 1), FLOOR_FRACTION)
    out = dict(fractions)
    for split in cut:
        wanted = out.get(split, 0.0)
        if wanted <= 0 or wanted >= floor:
            continue
        out[split] = floor
        out["train"] = out.get("train", 0.0) - (floor - wanted)
        log.warning(
            "data.split_fractions.%s=%g would leave the %s split about %d of the %d pairs of %s: "
            "raised to %.3g (about %d pairs). Set data.split_fractions, or give the split a "
            "file of its own, to choose",
            split,
            wanted,
            split,
            round(wanted * pairs),
            pairs,
            name,
            floor,
            round(floor * pairs),
        )
    _check_not_tiny(out, cut, pairs, name)
    return out


def _check_not_tiny(fractions: dict[str, float], cut: list[str], pairs: int, name: str) -> None:
    for split in cut:
        expected = fractions.get(split, 0.0) * pairs
        if 0 < expected < MIN_PAIRS or fractions.get("train", 0.0) <= 0:
            share = math.ceil(100 * MIN_PAIRS / max(pairs, 1))
            raise DataError(
                f"{name}: {pairs} pairs are too few to cut a {split} split of at least "
                f"{MIN_PAIRS} pairs from (data.split_fractions.{split}="
                f"{fractions.get(split, 0.0):.3g}): give data.valid and data.test files of "
                f"their own, or set e.g. data.split_fractions={{train: {1 - 2 * share / 100:.2g}, "
                f"valid: {share / 100:.2g}, test: {share / 100:.2g}}}"
            )
