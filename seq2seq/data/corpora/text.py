"""Two aligned plain-text files, one sentence per line."""

from pathlib import Path

from seq2seq.data.corpora.corpus import Corpus
from seq2seq.data.corpora.lines import read_lines, warn_skipped
from seq2seq.errors import DataError


def read_parallel_text(source_path: str | Path, target_path: str | Path) -> Corpus:
    """Pairs of line i of `source_path` and line i of `target_path`.

    Lines are stripped; a pair with an empty side is skipped and counted as "empty".
    Raises DataError when the two files have different numbers of lines.
    """
    sources = [line.strip() for _, line in read_lines(source_path)]
    targets = [line.strip() for _, line in read_lines(target_path)]
    if len(sources) != len(targets):
        raise DataError(
            f"{source_path} has {len(sources)} lines but {target_path} has {len(targets)}: "
            "parallel files must be aligned line by line"
        )
    keep = [bool(s and t) for s, t in zip(sources, targets)]
    skipped = {"empty": keep.count(False)}
    warn_skipped(f"{source_path} / {target_path}", skipped)
    corpus = Corpus(sources=sources, targets=targets, name=str(source_path), skipped=skipped)
    return corpus.select(keep)
