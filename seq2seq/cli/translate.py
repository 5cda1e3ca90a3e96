"""`seq2seq-translate run_dir=DIR`: stdin (or input=FILE) to stdout (or output=FILE)."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from seq2seq.cli.common import CONF_DIR, run_cli


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="translate")
def main(cfg: DictConfig) -> None:
    from seq2seq.config import DecodeConfig, validate
    from seq2seq.errors import DataError
    from seq2seq.inference.translate import format_output, read_lines, translate_lines
    from seq2seq.runs.load import load_run

    def job():
        decode = validate(cfg.decode, DecodeConfig)
        if cfg.long_input not in ("truncate", "reject"):
            raise DataError(f"long_input must be truncate or reject, got {cfg.long_input!r}")
        run = load_run(cfg.run_dir, cfg.checkpoint)
        if cfg.input:
            if not Path(cfg.input).exists():
                raise DataError(f"input file {cfg.input} does not exist")
            with open(cfg.input, "rb") as f:
                lines = read_lines(f, cfg.input)
        else:
            lines = read_lines(sys.stdin.buffer, "<stdin>")
        results = translate_lines(run, lines, decode, cfg.long_input)
        text = "".join(
            line + "\n" for line in format_output(results, cfg.scores or decode.n_best > 1)
        )
        if cfg.output:
            Path(cfg.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)

    run_cli(job)


if __name__ == "__main__":
    main()
