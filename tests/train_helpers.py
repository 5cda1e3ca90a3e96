"""Helpers for training tests: a tiny generated corpus and composed configs."""

import random
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


def tiny_train_config(corpus_dir: Path, *overrides: str) -> TrainRunConfig:
    """The real `train` config, pointed at the reverse corpus, with a tiny model."""
    src, tgt = write_reverse_corpus(corpus_dir)
    base = [
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
        "task=g2p",
        "train.max_steps=12",
        "train.log_every=2",
        "train.validate_every=6",
        "train.val_decode_examples=20",
        "train.schedule.warmup_steps=2",
        "train.keep_checkpoints=5",
        "logger.console_every=2",
    ]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=base + list(overrides), return_hydra_config=False)
    return validate(cfg, TrainRunConfig)
