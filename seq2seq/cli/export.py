"""`seq2seq-export run_dir=DIR [output=DIR/export] [decode=beam5] [format=tflite]`: a
strings-in/strings-out SavedModel (or LiteRT `.tflite` file). The config is checked against
`ExportRunConfig` before TensorFlow is imported."""

from pathlib import Path

from omegaconf import DictConfig

from seq2seq.cli.app import hydra_app
from seq2seq.cli.common import run_cli
from seq2seq.config import ExportRunConfig, validate
from seq2seq.errors import RunDirError

DESCRIPTION = """write a trained run as a TensorFlow SavedModel that maps strings to
strings (tokenizers, model and search inside; no seq2seq needed to serve it)."""
EXAMPLES = (
    "seq2seq-export run_dir=RUN                      # RUN/export",
    "seq2seq-export run_dir=RUN output=/tmp/g2p decode=beam5",
    "seq2seq-export run_dir=RUN checkpoint=last output=/tmp/g2p_last",
)


@hydra_app("export", DESCRIPTION, EXAMPLES)
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
