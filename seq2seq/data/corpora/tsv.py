"""One tab-separated file (optionally .gz) holding both sides in configurable columns."""

from pathlib import Path

from seq2seq.data.corpora.corpus import Corpus
from seq2seq.data.corpora.lines import read_lines, warn_skipped
from seq2seq.errors import DataError


def read_tsv(path: str | Path, source_column: int = 0, target_column: int = 1) -> Corpus:
    """Pairs from columns `source_column`, `target_column` (0-based) of each row.

    Empty lines, and rows with an empty source or target field, are skipped and counted as
    "empty". Raises DataError naming file and line for a row with too few columns.
    """
    needed = max(source_column, target_column) + 1
    sources, targets, empty = [], [], 0
    for number, line in read_lines(path):
        if not line.strip():
            empty += 1
            continue
        fields = line.split("\t")
        if len(fields) < needed:
            raise DataError(
                f"{path}:{number}: expected at least {needed} tab-separated columns, "
                f"found {len(fields)}"
            )
        source, target = fields[source_column].strip(), fields[target_column].strip()
        if not (source and target):
            empty += 1
            continue
        sources.append(source)
        targets.append(target)
    warn_skipped(path, {"empty": empty})
    return Corpus(sources=sources, targets=targets, name=str(path), skipped={"empty": empty})
