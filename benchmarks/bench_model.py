"""Training-step speed of the model configs on G2P-like batches; prints one JSON object.

    .venv/bin/python benchmarks/bench_model.py [--configs gru_luong gru_bahdanau] [--steps 30]

Batches: 64 random words, source 6-12 letters + eos (vocab 32), target 5-11 phones + eos
(vocab 45), each batch padded to its longest row. Each config runs the project's own train
step (`seq2seq.training.steps.make_train_step`: Adam, mean loss over real target tokens).
Configs are timed in interleaved rounds because this machine's speed drifts; the median over
rounds is reported
as real (non-padding) target tokens per second.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from seq2seq.config import ModelConfig, validate  # noqa: E402
from seq2seq.config.hardware import resolve_rnn  # noqa: E402
from seq2seq.constants import (  # noqa: E402
    SOURCE_IDS,
    SOURCE_PADDING_MASK,
    TARGET_IN_IDS,
    TARGET_PADDING_MASK,
)
from seq2seq.model import build_model  # noqa: E402
from seq2seq.training.hardware import detect_hardware  # noqa: E402
from seq2seq.training.optimizers import FusedAdam  # noqa: E402
from seq2seq.training.steps import make_train_step  # noqa: E402

CONF = Path(__file__).resolve().parents[1] / "conf" / "model"
SOURCE_VOCAB, TARGET_VOCAB, BOS, EOS = 32, 45, 2, 3


def make_batches(count, batch_size, seed=0):
    """`count` G2P-like padded batches (x, y)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        src_len = rng.integers(6, 13, batch_size) + 1  # + eos
        tgt_len = rng.integers(5, 12, batch_size) + 1  # + bos / eos
        S, T = src_len.max(), tgt_len.max()
        src_mask = np.arange(S)[None] < src_len[:, None]
        tgt_mask = np.arange(T)[None] < tgt_len[:, None]
        src = np.where(src_mask, rng.integers(4, SOURCE_VOCAB, (batch_size, S)), 0)
        pieces = rng.integers(4, TARGET_VOCAB, (batch_size, T))
        tgt_out = np.where(np.arange(T)[None] == tgt_len[:, None] - 1, EOS, pieces)  # + eos
        tgt_out = np.where(tgt_mask, tgt_out, 0)
        tgt_in = np.where(
            tgt_mask, np.concatenate([np.full((batch_size, 1), BOS), tgt_out[:, :-1]], axis=1), 0
        )
        x = {
            SOURCE_IDS: tf.constant(src, tf.int32),
            SOURCE_PADDING_MASK: tf.constant(src_mask),
            TARGET_IN_IDS: tf.constant(tgt_in, tf.int32),
            TARGET_PADDING_MASK: tf.constant(tgt_mask),
        }
        batches.append((x, tf.constant(tgt_out, tf.int32)))
    return batches


def time_steps(step, batches, steps):
    """Seconds and real target tokens of `steps` training steps cycling through `batches`."""
    tokens = 0
    start = time.perf_counter()
    for i in range(steps):
        x, y = batches[i % len(batches)]
        step(x, y, x[TARGET_PADDING_MASK])["loss_sum"].numpy()
        tokens += int(tf.reduce_sum(tf.cast(x[TARGET_PADDING_MASK], tf.int32)))
    return time.perf_counter() - start, tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["gru_luong", "gru_bahdanau"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jit", action="store_true")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    batches = make_batches(16, args.batch_size)
    runs = {}
    for name in args.configs:
        cfg = validate(OmegaConf.load(CONF / f"{name}.yaml"), ModelConfig)
        cfg = resolve_rnn(cfg, detect_hardware())  # model.rnn=auto as training would
        model = build_model(cfg, SOURCE_VOCAB, TARGET_VOCAB)
        step = make_train_step(model, FusedAdam(1e-3), jit_compile=args.jit)
        start = time.perf_counter()
        time_steps(step, batches, 3)  # trace + warm up
        runs[name] = {
            "step": step,
            "params": model.count_params(),
            "first_steps_s": round(time.perf_counter() - start, 2),
            "rates": [],
        }
    for _ in range(args.rounds):
        for run in runs.values():
            seconds, tokens = time_steps(run["step"], batches, args.steps)
            run["rates"].append(tokens / seconds)
    report = {
        "batch_size": args.batch_size,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "jit_compile": args.jit,
        "cpu_threads": os.cpu_count(),
        "mean_real_target_tokens_per_batch": float(
            np.mean(
                [
                    float(tf.reduce_sum(tf.cast(x[TARGET_PADDING_MASK], tf.float32)))
                    for x, _ in batches
                ]
            )
        ),
        "configs": {
            name: {
                "params": run["params"],
                "first_3_steps_s": run["first_steps_s"],
                "target_tokens_per_s_median": round(statistics.median(run["rates"])),
                "target_tokens_per_s_rounds": [round(r) for r in run["rates"]],
            }
            for name, run in runs.items()
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
