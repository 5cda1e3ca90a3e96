"""Load a trained run directory: its config, tokenizers and best model, for evaluation,
translation and export. Needs only the run directory."""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from seq2seq.config import TrainRunConfig, validate
from seq2seq.errors import RunDirError
from seq2seq.runs.run_dir import RunDir


@dataclass
class LoadedRun:
    cfg: TrainRunConfig
    tokenizers: object
    model: object
    checkpoint: str
    run_dir: RunDir


def load_run(run_dir: str | Path, which: str = "best") -> LoadedRun:
    """Config, tokenizers and model weights (`best` or `last` checkpoint) of `run_dir`."""
    from seq2seq.data.tokenizer import load_tokenizers
    from seq2seq.model import build_model, build_variables
    from seq2seq.runs.checkpoints import restore_model

    run = RunDir(run_dir)
    if not run.is_training_run():
        raise RunDirError(f"{run} is not a training run directory (no {run.config.name})")
    cfg = validate(OmegaConf.load(run.config), TrainRunConfig)
    if not run.tokenizer.is_dir():
        raise RunDirError(f"{run.tokenizer} is missing")
    tokenizers = load_tokenizers(run.tokenizer)
    model = build_model(cfg.model, tokenizers.source.vocab_size, tokenizers.target.vocab_size)
    build_variables(model)
    checkpoint = restore_model(model, run.checkpoints, which)
    return LoadedRun(cfg, tokenizers, model, checkpoint, run)
