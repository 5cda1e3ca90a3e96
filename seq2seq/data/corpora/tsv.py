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
    sources, targets, empty = [], [], 0
    for number, line in read_lines(path):
        pair = parse_tsv_row(line, source_column, target_column, f"{path}:{number}")
        if pair is None:
            empty += 1
            continue
        sources.append(pair[0])
        targets.append(pair[1])
    warn_skipped(path, {"empty": empty})
    return Corpus(sources=sources, targets=targets, name=str(path), skipped={"empty": empty})


def tsv_columns_needed(source_column: int, target_column: int) -> int:
    return max(source_column, target_column) + 1


def tsv_columns_error(place: str, needed: int) -> str:
    """The start of the message for a row with too few columns (`place` = "file:line"); the
    streaming reader builds the same message in the graph."""
    return f"{place}: expected at least {needed} tab-separated columns"


def parse_tsv_row(
    line: str, source_column: int, target_column: int, place: str
) -> tuple[str, str] | None:
    """(source, target) of one row, stripped; None for an empty line or an empty field.
    Raises DataError naming `place` ("file:line") for a row with too few columns."""
    if not line.strip():
        return None
    fields = line.split("\t")
    needed = tsv_columns_needed(source_column, target_column)
    if len(fields) < needed:
        raise DataError(f"{tsv_columns_error(place, needed)}, found {len(fields)}")
    source, target = fields[source_column].strip(), fields[target_column].strip()
    return (source, target) if source and target else None
