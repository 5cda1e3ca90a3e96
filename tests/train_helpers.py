"""Helpers for training tests: a tiny generated corpus and composed configs."""

import json
import random
from dataclasses import replace
from pathlib import Path

from hydra import compose, initialize_config_dir

from seq2seq.config import TrainRunConfig, validate

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
LETTERS = "abcdefgh"


def write_reverse_corpus(directory: Path, n: int = 400, seed: int = 0) -> tuple[Path, Path]:
    """`n` pairs `word -> reversed upper-cased word` (8 letters, lengths 2-9), two aligned files."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 9))) for _ in range(n)]
    src, tgt = directory / "train.src", directory / "train.tgt"
    src.write_text("\n".join(words) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(w[::-1].upper() for w in words) + "\n", encoding="utf-8")
    return src, tgt


def tiny_train_overrides(corpus_dir: Path, *overrides: str) -> list[str]:
    """Overrides of the real `train` config for the reverse corpus (written to `corpus_dir`)
    and a tiny model, then `overrides`: for `compose` or the `seq2seq-train` command line."""
    src, tgt = write_reverse_corpus(corpus_dir)
    return [
        "data=parallel_text",
        f"data.train.source={src}",
        f"data.train.target={tgt}",
        "data.valid.source=null",
        "data.valid.target=null",
        "data.test.source=null",
        "data.test.target=null",
        "data.split_fractions={train: 0.8, valid: 0.1, test: 0.1}",
        "data.batch_tokens=256",
        "data.max_source_length=16",
        "data.max_target_length=16",
        "data.shuffle_buffer=1000",
        "tokenizer.shared=false",
        "tokenizer.source.model_type=char",
        f"tokenizer.source.vocab_size={4 + len(LETTERS)}",
        "tokenizer.source.add_dummy_prefix=false",
        "tokenizer.target.model_type=char",
        f"tokenizer.target.vocab_size={4 + len(LETTERS)}",
        "tokenizer.target.add_dummy_prefix=false",
        "model=tiny",
        # Not `auto`: the tests train the same model and precision on any machine.
        "model.rnn=keras",
        "train.precision=float32",
        "task=g2p",
        "train.max_steps=12",
        "train.log_every=2",
        "train.validate_every=6",
        "train.val_decode_examples=20",
        # High enough that 12 steps give outputs that depend on the input (not one repeated
        # token), so tests comparing outputs across inputs can fail.
        "train.optimizer.learning_rate=0.03",
        "train.schedule.warmup_steps=2",
        "train.keep_checkpoints=5",
        "logger.console_every=2",
        *overrides,
    ]


def tiny_train_config(corpus_dir: Path, *overrides: str) -> TrainRunConfig:
    """The real `train` config, pointed at the reverse corpus, with a tiny model."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=tiny_train_overrides(corpus_dir, *overrides))
    return validate(cfg, TrainRunConfig)


def resume_from_checkpoint(run_dir: str, checkpoint: str) -> None:
    """Train the run in `run_dir` again with its own config and `train.resume_from=checkpoint`,
    without the final evaluation; print metrics.json and what metrics.jsonl then holds (JSON).

    For a subprocess (`tests.cli_helpers.run_python`): a run with train.deterministic=true
    enables TensorFlow op determinism for the whole process.
    """
    from omegaconf import OmegaConf

    import seq2seq.training.loop as loop
    from seq2seq.training.trainer import Trainer

    Trainer.final_evaluation = lambda self: {}  # only the training losses matter here
    run = Path(run_dir)
    cfg = validate(OmegaConf.load(run / "run_config.yaml"), TrainRunConfig)
    cfg = replace(cfg, train=replace(cfg.train, resume_from=checkpoint))
    metrics = loop.fit(cfg, run)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    losses = train_losses(run)
    records = sum('"train/loss"' in line for line in lines)
    print(json.dumps({"metrics": metrics, "losses": losses, "loss_records": records}))


def train_losses(run_dir: Path) -> dict[int, float]:
    """{step: train/loss} from the run's metrics.jsonl."""
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "train/loss" in record:
            out[record["step"]] = record["train/loss"]
    return out
