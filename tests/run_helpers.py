"""Run directories for the export tests: the trained smoke run copied with another model config
(tiny sizes, random weights) and `model.rnn`."""

import shutil

from omegaconf import OmegaConf

from tests.cli_helpers import compose_verb
from tests.model_helpers import randomize_weights

TINY_SIZES = {
    "embedding_dim": 16,
    "encoder_units": 16,
    "decoder_units": 16,
    "attention_units": 16,
}


def rewrite_model_config(run_dir, model: str, rnn: str) -> None:
    """Set the run's model config to `model` (tiny sizes) with `rnn`; a model other than the
    trained tiny one gets random weights as its best checkpoint."""
    import tensorflow as tf

    from seq2seq.config import TrainRunConfig, validate
    from seq2seq.data.tokenizer import load_tokenizers
    from seq2seq.model import build_model, build_variables
    from seq2seq.runs.run_dir import RunDir

    config_path = RunDir(run_dir).config
    cfg = OmegaConf.load(config_path)
    if model != "tiny":
        sizes = [f"model.{key}={value}" for key, value in TINY_SIZES.items()]
        cfg.model = compose_verb("train", f"model={model}", *sizes).model
    cfg.model.rnn = rnn
    OmegaConf.save(cfg, config_path)
    if model == "tiny":
        return
    tokenizers = load_tokenizers(RunDir(run_dir).tokenizer)
    model_cfg = validate(cfg, TrainRunConfig).model
    built = build_model(model_cfg, tokenizers.source.vocab_size, tokenizers.target.vocab_size)
    build_variables(built)
    randomize_weights(built, seed=len(model))
    best = run_dir / "checkpoints" / "best"
    shutil.rmtree(best)
    shutil.rmtree(run_dir / "checkpoints" / "last")  # the tiny model's
    tf.train.CheckpointManager(tf.train.Checkpoint(model=built), str(best), 1).save(12)
