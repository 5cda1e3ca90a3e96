"""Reading a corpus file line by line, with one-line errors naming the file and line."""

import gzip
import logging
from collections.abc import Iterator
from pathlib import Path

from seq2seq.errors import DataError

log = logging.getLogger(__name__)


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) of a UTF-8 file, gzip if `.gz`.

    Raises DataError for a missing/unreadable file or a line that is not valid UTF-8.
    """
    path = Path(path)
    try:
        handle = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot open: {exc.strerror}") from None
    with handle:
        try:
            for number, raw in enumerate(handle, start=1):
                yield number, _decode(raw, path, number)
        except (OSError, EOFError) as exc:  # e.g. gzip.BadGzipFile, truncated .gz
            raise DataError(f"{path}: cannot read: {exc}") from None


def _decode(raw: bytes, path: Path, number: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        raise DataError(
            f"{path}:{number}: not valid UTF-8 (byte 0x{byte:02x} at column {exc.start + 1})"
        ) from None


def warn_skipped(path: str | Path, skipped: dict[str, int], expected: tuple[str, ...] = ()) -> None:
    """Log one warning per reason with a nonzero count of skipped lines; reasons in `expected`
    (skips the config asks for, nothing to fix) only at debug level. All counts are in
    stats.json either way."""
    for reason, count in skipped.items():
        if count:
            level = logging.DEBUG if reason in expected else logging.WARNING
            log.log(level, "%s: skipped %d line(s): %s", path, count, reason)
