"""Load a trained run directory: its config, tokenizers and best model, for evaluation,
translation and export. Needs only the run directory."""

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from seq2seq.config import TrainRunConfig, validate
from seq2seq.errors import RunDirError
from seq2seq.runs.first_best import first_best_warning
from seq2seq.runs.run_dir import RunDir

log = logging.getLogger(__name__)


@dataclass
class LoadedRun:
    cfg: TrainRunConfig
    tokenizers: object
    model: object
    checkpoint: str
    run_dir: RunDir


def load_run(run_dir: str | Path, which: str = "best", precision: str = "float32") -> LoadedRun:
    """Config, tokenizers and model weights (`best` or `last` checkpoint) of `run_dir`.

    `precision` (`decode.precision`) is the dtype policy of the model built.
    """
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
    model = build_model(
        cfg.model, tokenizers.source.vocab_size, tokenizers.target.vocab_size, precision
    )
    build_variables(model)
    checkpoint = restore_model(model, run.checkpoints, which)
    warning = first_best_warning(run, checkpoint, cfg.train.monitor) if which == "best" else None
    if warning:
        log.warning("%s: %s", run, warning)
    return LoadedRun(cfg, tokenizers, model, checkpoint, run)


def load_ensemble(
    run_dir: str | Path, others: list[str], which: str = "best", precision: str = "float32"
) -> LoadedRun:
    """`run_dir` with the runs `others` as one model (`seq2seq.decoding.Ensemble`: log-probs
    averaged per step). The config and tokenizers are `run_dir`'s; every run must have the same
    tokenizer files (RunDirError naming the first that differs). No `others`: `load_run`."""
    from seq2seq.decoding import Ensemble

    first = load_run(run_dir, which, precision)
    if not others:
        return first
    members = [first] + [load_run(other, which, precision) for other in others]
    for member in members[1:]:
        if _tokenizer_files(member.run_dir) != _tokenizer_files(first.run_dir):
            raise RunDirError(
                f"ensemble: {member.run_dir.tokenizer} differs from {first.run_dir.tokenizer} "
                "(members must be trained with the same tokenizers)"
            )
    checkpoints = "; ".join(f"{m.run_dir}: {m.checkpoint}" for m in members)
    model = Ensemble([m.model for m in members])
    return LoadedRun(first.cfg, first.tokenizers, model, checkpoints, first.run_dir)


def _tokenizer_files(run: RunDir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.tokenizer.iterdir()) if p.is_file()}
