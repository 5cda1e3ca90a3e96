"""Load a trained run directory: its config, tokenizers and best model, for evaluation,
translation and export. Needs only the run directory."""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from seq2seq.config import TrainRunConfig, validate
from seq2seq.errors import RunDirError
from seq2seq.training.run_dir import RUN_CONFIG


@dataclass
class LoadedRun:
    cfg: TrainRunConfig
    tokenizers: object
    model: object
    checkpoint: str
    run_dir: Path


def load_run(run_dir: str | Path, which: str = "best") -> LoadedRun:
    """Config, tokenizers and model weights (`best` or `last` checkpoint) of `run_dir`."""
    from seq2seq.data.tokenizer import load_tokenizers
    from seq2seq.model import build_model
    from seq2seq.training.checkpoints import restore_model

    run_dir = Path(run_dir)
    if not (run_dir / RUN_CONFIG).exists():
        raise RunDirError(f"{run_dir} is not a training run directory (no {RUN_CONFIG})")
    cfg = validate(OmegaConf.load(run_dir / RUN_CONFIG), TrainRunConfig)
    if not (run_dir / "tokenizer").is_dir():
        raise RunDirError(f"{run_dir}/tokenizer is missing")
    tokenizers = load_tokenizers(run_dir / "tokenizer")
    model = build_model(cfg.model, tokenizers.source.vocab_size, tokenizers.target.vocab_size)
    _build(model)
    checkpoint = restore_model(model, run_dir / "checkpoints", which)
    return LoadedRun(cfg, tokenizers, model, checkpoint, run_dir)


def _build(model) -> None:
    """Create the model's variables with a one-token batch."""
    import tensorflow as tf

    ids = tf.constant([[3]], tf.int32)
    mask = tf.constant([[True]])
    model({"source_ids": ids, "source_padding_mask": mask, "target_in_ids": ids,
           "target_padding_mask": mask}, training=False)
