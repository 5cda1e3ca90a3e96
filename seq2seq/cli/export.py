"""`seq2seq-export run_dir=DIR [output=DIR/export] [decode=beam5] [format=tflite]`: a
strings-in/strings-out SavedModel (or LiteRT `.tflite` file). The config is checked against
`ExportRunConfig` before TensorFlow is imported."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from seq2seq.cli.common import CONF_DIR, run_cli
from seq2seq.config import ExportRunConfig, validate
from seq2seq.errors import RunDirError


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    print(run_cli(lambda: export(validate(cfg, ExportRunConfig))))


def export(cfg: ExportRunConfig) -> Path:
    """Write the SavedModel (format=tflite: the .tflite file) to `cfg.output`, which must not
    exist yet; return its path."""
    out = Path(cfg.output)
    if out.exists():
        raise RunDirError(f"{out} exists; remove it or choose output=OTHER_DIR")
    from seq2seq.runs.load import load_run

    run = load_run(cfg.run_dir, cfg.checkpoint, cfg.decode.precision)
    if cfg.format == "tflite":
        from seq2seq.inference.tflite import export_tflite

        return export_tflite(run, cfg.decode, out, cfg.tflite_batch_size)
    from seq2seq.inference.export import export_run

    return export_run(run, cfg.decode, out)


if __name__ == "__main__":
    main()
