"""`seq2seq-export run_dir=DIR [output=DIR/export]`: a strings-in/strings-out SavedModel."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from seq2seq.cli.common import CONF_DIR, run_cli


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    from seq2seq.config import DecodeConfig, validate
    from seq2seq.errors import RunDirError
    from seq2seq.inference.export import export_run
    from seq2seq.runs.load import load_run

    def job():
        decode = validate(cfg.decode, DecodeConfig)
        out = Path(cfg.output)
        if out.exists():
            raise RunDirError(f"{out} exists; remove it or choose output=OTHER_DIR")
        print(export_run(load_run(cfg.run_dir, cfg.checkpoint), decode, out))

    run_cli(job)


if __name__ == "__main__":
    main()
