"""Training throughput on real data: the project's pipeline, model and train step.

    .venv/bin/python benchmarks/bench_train.py [overrides ...] [--compare batching|rnn]
        [--steps 60] [--rounds 3]

Composes the `train` config (default: G2P on CMUdict, experiment=g2p_cmudict) with Hydra-style
overrides, then times two variants interleaved (A B A B ...) because this machine's speed
drifts: `--compare batching` (default) `bucketed` vs `random` batches, `--compare rnn`
`model.rnn=keras` vs `fused` (same batches). Prints one JSON line per variant: median real
target tokens/s, padded positions/s, real-token fraction (target and source), step time, peak
RSS, the machine's matmul rate; with `--compare rnn` also the ratio fused / keras.
"""

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hydra import compose, initialize_config_dir  # noqa: E402
from machine import machine  # noqa: E402

import seq2seq.layers.masked_gru as masked_gru  # noqa: E402
from seq2seq.config import TrainRunConfig, validate  # noqa: E402
from seq2seq.data.corpora import load_corpora  # noqa: E402
from seq2seq.data.pipeline import make_train_dataset  # noqa: E402
from seq2seq.data.tokenizer import load_or_train_tokenizers  # noqa: E402
from seq2seq.model import (
    build_model,  # noqa: E402
    build_variables,  # noqa: E402
)
from seq2seq.training.loop import seed_everything  # noqa: E402
from seq2seq.training.steps import make_train_step, select_inputs  # noqa: E402
from seq2seq.training.trainer import build_optimizer  # noqa: E402

VARIANTS = {"batching": ("bucketed", "random"), "rnn": ("keras", "fused")}
CONF = str(Path(__file__).resolve().parents[1] / "conf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", default=["experiment=g2p_cmudict"])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", choices=list(VARIANTS), default="batching")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = validate(compose("train", overrides=args.overrides), TrainRunConfig)
    seed_everything(cfg.train.seed, False)
    corpora = load_corpora(cfg.data)
    tokenizers = load_or_train_tokenizers(
        cfg.tokenizer, corpora["train"], Path(tempfile.mkdtemp()) / "tokenizer"
    )
    runs = {}
    for mode in VARIANTS[args.compare]:
        data_cfg, model_cfg = cfg.data, cfg.model
        if args.compare == "batching":
            data_cfg = replace(cfg.data, batching=mode)
        else:
            model_cfg = replace(cfg.model, rnn=mode)
        model = build_model(model_cfg, tokenizers.source.vocab_size, tokenizers.target.vocab_size)
        dataset = make_train_dataset(corpora["train"], tokenizers, data_cfg, seed=cfg.train.seed)
        build_variables(model)
        optimizer = build_optimizer(cfg)
        step = make_train_step(
            model, optimizer, 0.0, cfg.train.optimizer.clip_norm, cfg.train.jit_compile
        )
        runs[mode] = (iter(dataset), step, [])
        _time(runs[mode], 5)  # trace and warm up
    for _ in range(args.rounds):
        for run in runs.values():
            run[2].append(_time(run, args.steps))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    speed = machine()
    summaries = {}
    for mode, (_, _, rounds) in runs.items():
        summaries[mode] = _summary(args.compare, mode, rounds, cfg, peak_mb) | speed
        print(json.dumps(summaries[mode]))
    if args.compare == "rnn":
        ratio = summaries["fused"]["real_target_tokens_per_sec"] / max(
            summaries["keras"]["real_target_tokens_per_sec"], 1
        )
        print(
            json.dumps({"fused_over_keras": round(ratio, 3), "kernel": masked_gru.IMPLEMENTATION})
        )


def _time(run, steps: int) -> dict:
    iterator, step, _ = run
    sums = {"tokens": 0.0, "positions": 0.0, "source_tokens": 0.0, "source_positions": 0.0}
    start = time.perf_counter()
    for _ in range(steps):
        x, y, mask = next(iterator)
        out = step(select_inputs(x), y, mask)
        for key in sums:
            sums[key] += float(out[key])
    return sums | {"seconds": time.perf_counter() - start, "steps": steps}


def _summary(
    compare: str, mode: str, rounds: list[dict], cfg: TrainRunConfig, peak_mb: float
) -> dict:
    rate = statistics.median(r["tokens"] / r["seconds"] for r in rounds)
    pad = statistics.median((r["positions"] - r["tokens"]) / r["seconds"] for r in rounds)
    total = {k: sum(r[k] for r in rounds) for k in rounds[0]}
    return {
        compare: mode,
        "batching": mode if compare == "batching" else cfg.data.batching,
        "rnn": mode if compare == "rnn" else cfg.model.rnn,
        "model": cfg.model.name,
        "batch_tokens": cfg.data.batch_tokens,
        "batch_size": cfg.data.batch_size,
        "real_target_tokens_per_sec": round(rate),
        "padded_positions_per_sec": round(pad),
        "target_real_token_fraction": round(total["tokens"] / total["positions"], 4),
        "source_real_token_fraction": round(total["source_tokens"] / total["source_positions"], 4),
        "step_ms": round(1000 * total["seconds"] / total["steps"], 1),
        "rounds": len(rounds),
        "steps_per_round": rounds[0]["steps"],
        "peak_rss_mb": round(peak_mb),
    }


if __name__ == "__main__":
    main()
