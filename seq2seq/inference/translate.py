"""`translate_lines`: raw input lines to output lines, batched by length, in input order."""

import logging
from collections.abc import Iterable
from typing import BinaryIO

from seq2seq.config import DecodeConfig
from seq2seq.constants import UNK_ID
from seq2seq.decoding import Hypothesis, decode_sources
from seq2seq.errors import DataError
from seq2seq.runs.load import LoadedRun

log = logging.getLogger("seq2seq.translate")


def read_lines(stream: BinaryIO, name: str) -> list[str]:
    """Decode `stream` as UTF-8 lines (newlines stripped); a bad byte names its line."""
    lines = []
    for number, raw in enumerate(stream, start=1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r\n"))
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{name}, line {number}: not UTF-8 ({exc.reason} at byte {exc.start})"
            ) from None
    return lines


def check_unknown(run: LoadedRun, lines: list[str], strict: bool) -> None:
    """Warn about (or, `strict`, reject) lines with pieces the source model does not know."""
    unknown = [
        i for i, ids in enumerate(run.tokenizers.source.encode(lines), start=1) if UNK_ID in ids
    ]
    if not unknown:
        return
    where = ", ".join(map(str, unknown[:5])) + (" …" if len(unknown) > 5 else "")
    message = f"{len(unknown)} input line(s) have pieces unknown to the model (lines {where})"
    if strict:
        raise DataError(message + "; strict=false translates them anyway")
    log.warning("%s: their outputs are unreliable", message)


def check_lengths(run: LoadedRun, lines: list[str], long_input: str) -> None:
    """Warn about (truncate) or reject sources longer than data.max_source_length tokens."""
    limit = run.cfg.data.max_source_length
    too_long = [
        i
        for i, ids in enumerate(run.tokenizers.source.encode(lines), start=1)
        if len(ids) + 1 > limit
    ]
    if not too_long:
        return
    where = ", ".join(map(str, too_long[:5])) + (" …" if len(too_long) > 5 else "")
    message = f"{len(too_long)} input line(s) exceed {limit} tokens (lines {where})"
    if long_input == "reject":
        raise DataError(message + "; set long_input=truncate to translate their beginnings")
    log.warning("%s: truncated", message)


def translate_lines(
    run: LoadedRun,
    lines: list[str],
    decode_cfg: DecodeConfig,
    long_input: str = "truncate",
    progress: bool = False,
    strict: bool = False,
) -> list[list[Hypothesis]]:
    """n-best hypotheses per line; an empty (or blank) line gets one empty hypothesis.

    Lines are lower-cased when the run's data was (`data.lowercase`), as in the export.
    `progress`: a bar on stderr over the decoded lines when stderr is a terminal. Lines with
    pieces unknown to the model are reported (`strict`: an error).
    """
    if run.cfg.data.lowercase:
        lines = [line.lower() for line in lines]
    check_lengths(run, lines, long_input)
    check_unknown(run, lines, strict)
    todo = [i for i, line in enumerate(lines) if line.strip()]
    decoded = (
        decode_sources(
            run.model,
            run.tokenizers,
            [lines[i] for i in todo],
            run.cfg.data,
            decode_cfg,
            progress=progress,
        )
        if todo
        else []
    )
    out: list[list[Hypothesis]] = [[Hypothesis("", 0.0, 0)] for _ in lines]
    for i, nbest in zip(todo, decoded):
        out[i] = nbest
    return out


def format_output(results: list[list[Hypothesis]], with_scores: bool) -> Iterable[str]:
    """One line per input; with n-best or scores, Moses style `index ||| text ||| score`."""
    for index, nbest in enumerate(results):
        if not with_scores:
            yield nbest[0].text
            continue
        for hyp in nbest:
            yield f"{index} ||| {hyp.text} ||| {hyp.score:.4f}"
