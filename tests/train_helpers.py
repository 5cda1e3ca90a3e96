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


class Killed(Exception):
    """Stands in for a crash or a kill in the middle of training."""


def resume_runs(corpus_dir: str, run_dir: str, *overrides: str) -> None:
    """Train the tiny config in `run_dir`, crash when step 8 is done (after the step-6
    checkpoint), resume the run to the end, then train it again from `ckpt-6` with
    `train.resume_from`. Prints what each part logged, as one JSON object, on stdout.

    For a subprocess (`tests.cli_helpers.run_python`): with train.deterministic=true, `fit`
    enables TensorFlow op determinism for the whole process.
    """
    import seq2seq.training.loop as loop
    from seq2seq.training.trainer import Trainer

    loop.final_evaluation = lambda trainer: {}  # only the training losses matter here
    fit = loop.fit
    run = Path(run_dir)
    cfg = tiny_train_config(Path(corpus_dir), *overrides)
    original = Trainer._one_step

    def crash(self, interval):
        if int(self.step.numpy()) == 8:
            raise Killed()
        original(self, interval)

    Trainer._one_step = crash
    try:
        fit(cfg, run)
        raise AssertionError("training did not crash")
    except Killed:
        pass
    finally:
        Trainer._one_step = original
    out = {"before_crash": sorted(train_losses(run))}
    out["resumed"] = _logged(fit(cfg, run), run)
    checkpoint = str(run / "checkpoints" / "last" / "ckpt-6")
    cfg = replace(cfg, train=replace(cfg.train, resume_from=checkpoint))
    out["resumed_from"] = _logged(fit(cfg, run), run)
    print(json.dumps(out))


def _logged(metrics: dict, run_dir: Path) -> dict:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return {
        "metrics": metrics,
        "losses": train_losses(run_dir),
        "loss_records": sum('"train/loss"' in line for line in lines),
    }


def train_losses(run_dir: Path) -> dict[int, float]:
    """{step: train/loss} from the run's metrics.jsonl."""
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "train/loss" in record:
            out[record["step"]] = record["train/loss"]
    return out
