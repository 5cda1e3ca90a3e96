"""`seq2seq-translate run_dir=DIR`: stdin (or input=FILE) to stdout (or output=FILE).

One output line per input line; with `scores=true` or `decode.n_best>1`, Moses-style
`index ||| hypothesis ||| score` lines (n_best of them per input). The config is checked
against `TranslateRunConfig` before TensorFlow is imported.
"""

import sys
from pathlib import Path
from typing import BinaryIO, TextIO

from omegaconf import DictConfig

from seq2seq.cli.app import hydra_app
from seq2seq.cli.common import run_cli
from seq2seq.config import TranslateRunConfig, validate
from seq2seq.errors import DataError
from seq2seq.files import atomic_write_text

DESCRIPTION = """translate (or transcribe) lines with a trained run: stdin to stdout,
one output line per input line; logs go to stderr."""
EXAMPLES = (
    "echo hello | seq2seq-translate run_dir=RUN",
    "seq2seq-translate run_dir=RUN input=words.txt output=phonemes.txt decode=beam5",
    "seq2seq-translate run_dir=RUN decode=beam5 decode.n_best=3 < words.txt  # n-best lists",
    "seq2seq-translate run_dir=RUN long_input=reject strict=true < in.txt",
)


@hydra_app("translate", DESCRIPTION, EXAMPLES)
def main(cfg: DictConfig) -> None:
    run_cli(lambda: translate(validate(cfg, TranslateRunConfig), sys.stdin.buffer, sys.stdout))


def translate(cfg: TranslateRunConfig, stdin: BinaryIO, stdout: TextIO) -> None:
    """Translate `cfg.input` (or `stdin`) into `cfg.output` (written whole, or not at all) or
    `stdout`."""
    from seq2seq.inference.translate import format_output, read_lines, translate_lines
    from seq2seq.runs.load import load_ensemble

    if cfg.input:
        if not Path(cfg.input).is_file():
            raise DataError(f"input file {cfg.input} does not exist")
        with open(cfg.input, "rb") as f:
            lines = read_lines(f, cfg.input)
    else:
        lines = read_lines(stdin, "<stdin>")
    run = load_ensemble(cfg.run_dir, cfg.ensemble, cfg.checkpoint, cfg.decode.precision)
    results = translate_lines(run, lines, cfg.decode, cfg.long_input, cfg.progress, cfg.strict)
    with_scores = cfg.scores or cfg.decode.n_best > 1
    text = "".join(line + "\n" for line in format_output(results, with_scores))
    if cfg.output:
        atomic_write_text(Path(cfg.output), text)
    else:
        stdout.write(text)


if __name__ == "__main__":
    main()
