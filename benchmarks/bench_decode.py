"""Decoding speed: sentences/s of greedy and beam search, one JSON line per setting.

A randomly initialized model (conf/model/<model>.yaml, vocabularies 32/45) decodes random
G2P-like sources of 4-12 tokens (EOS included), in length-sorted batches of each decode config's
`batch_size`. Settings are timed interleaved (the machine's speed drifts between runs); the first
pass of each is a warm-up that traces the search graphs. An untrained model rarely emits EOS, so
most outputs run to the length limit: these are worst-case figures.

    .venv/bin/python benchmarks/bench_decode.py [--sentences 1024] [--repeats 3]

With `--run-dir DIR`, a trained run decodes the distinct sources of its `--split` (default: the
G2P test split) through the project's evaluation path (in-graph tokenization, length-sorted
batches, detokenization), and each line also gives the task scores:

    .venv/bin/python benchmarks/bench_decode.py --run-dir logs/train/runs/<timestamp>

`--decode beam5 beam5:early_stopping=false` times a decode config with some keys overridden.
`--precision float32 mixed_bfloat16` times every setting with the model built in each
`decode.precision` (same weights), interleaved.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import keras
import numpy as np
from omegaconf import OmegaConf

from seq2seq.config import DecodeConfig, ModelConfig, validate
from seq2seq.config.hardware import resolve_rnn
from seq2seq.constants import EOS_ID
from seq2seq.decoding import search
from seq2seq.model import build_model
from seq2seq.training.hardware import detect_hardware

CONF = Path(__file__).resolve().parents[1] / "conf"
SOURCE_VOCAB, TARGET_VOCAB = 32, 45


def random_sources(count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` sources of 4-12 ids in [4, SOURCE_VOCAB), the last one EOS."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 13, count)
    return [
        np.append(rng.integers(4, SOURCE_VOCAB, n - 1), EOS_ID).astype(np.int32) for n in lengths
    ]


def make_batches(sources: list[np.ndarray], batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Length-sorted, right-padded batches: (ids int32 (B, S), padding mask bool (B, S))."""
    ordered = sorted(sources, key=len)
    batches = []
    for start in range(0, len(ordered), batch_size):
        chunk = ordered[start : start + batch_size]
        ids = np.zeros((len(chunk), max(map(len, chunk))), np.int32)
        for row, source in enumerate(chunk):
            ids[row, : len(source)] = source
        batches.append((ids, ids != 0))
    return batches


def decode_pass(model, batches, cfg: DecodeConfig) -> tuple[float, int]:
    """Seconds to decode all `batches`, and the number of output tokens (EOS included)."""
    start, tokens = time.perf_counter(), 0
    for ids, mask in batches:
        out = search(model, ids, mask, cfg)["ids"].numpy()  # (B, N, L)
        tokens += int(out[:, 0].astype(bool).sum())
    return time.perf_counter() - start, tokens


def trained_run(args, settings: dict[str, DecodeConfig]) -> None:
    """Time the settings on a trained run's split; print speed and task scores."""
    from seq2seq.data.corpora import load_corpora
    from seq2seq.decoding import decode_corpus
    from seq2seq.evaluation import task_metrics
    from seq2seq.runs.load import load_run

    runs = {p: load_run(args.run_dir, precision=p) for p in args.precision}
    run = runs[args.precision[0]]
    corpus = load_corpora(run.cfg.data)[args.split]
    times, decoded = {name: [] for name in settings}, {}
    for repeat in range(args.repeats + 1):
        for name, cfg in settings.items():
            model = runs[cfg.precision].model
            start = time.perf_counter()
            decoded[name] = decode_corpus(model, run.tokenizers, corpus, run.cfg.data, cfg)
            if repeat > 0:
                times[name].append(time.perf_counter() - start)
    for name, cfg in settings.items():
        median, count = statistics.median(times[name]), len(decoded[name].sources)
        print(
            json.dumps(
                {
                    "decode": name,
                    "precision": cfg.precision,
                    "run_dir": str(args.run_dir),
                    "split": args.split,
                    "sentences": count,
                    "batch_size": cfg.batch_size,
                    "median_seconds": round(median, 3),
                    "sentences_per_s": round(count / median, 1),
                    "output_tokens_per_s": round(decoded[name].output_tokens / median),
                    **{
                        k: round(v, 2) for k, v in task_metrics(run.cfg.task, decoded[name]).items()
                    },
                }
            )
        )


def decode_settings(names: list[str], precisions: list[str]) -> dict[str, DecodeConfig]:
    """conf/decode/<name>.yaml for each name and precision: {"greedy" or
    "greedy@mixed_bfloat16": DecodeConfig}. A name may carry overrides of that file's keys:
    "beam5:early_stopping=false,batch_size=128"."""
    settings = {}
    for name in names:
        file, _, overrides = name.partition(":")
        cfg = OmegaConf.load(CONF / "decode" / f"{file}.yaml")
        cfg = OmegaConf.merge(
            cfg, OmegaConf.from_dotlist(overrides.split(",") if overrides else [])
        )
        for precision in precisions:
            key = name if precision == "float32" else f"{name}@{precision}"
            settings[key] = validate(OmegaConf.merge(cfg, {"precision": precision}), DecodeConfig)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gru_luong", help="a conf/model/*.yaml name")
    parser.add_argument(
        "--decode", nargs="+", default=["greedy", "beam5"], help="conf/decode/*.yaml names"
    )
    parser.add_argument("--sentences", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per setting")
    parser.add_argument("--run-dir", help="a trained run: decode its --split instead")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--precision", nargs="+", default=["float32"], help="decode.precision values to time"
    )
    args = parser.parse_args()
    settings = decode_settings(args.decode, args.precision)
    if args.run_dir:
        trained_run(args, settings)
        return

    model_cfg = validate(OmegaConf.load(CONF / "model" / f"{args.model}.yaml"), ModelConfig)
    model_cfg = resolve_rnn(model_cfg, detect_hardware())  # model.rnn=auto as training would
    keras.utils.set_random_seed(0)  # same weights, hence same output lengths, on every run
    models = {p: build_model(model_cfg, SOURCE_VOCAB, TARGET_VOCAB, p) for p in args.precision}
    weights = models[args.precision[0]].get_weights()
    for model in models.values():
        model.set_weights(weights)
    sources = random_sources(args.sentences)
    batches = {name: make_batches(sources, cfg.batch_size) for name, cfg in settings.items()}
    times, tokens = {name: [] for name in settings}, {}
    for repeat in range(args.repeats + 1):
        for name, cfg in settings.items():
            seconds, tokens[name] = decode_pass(models[cfg.precision], batches[name], cfg)
            if repeat > 0:
                times[name].append(seconds)
    for name, cfg in settings.items():
        median = statistics.median(times[name])
        print(
            json.dumps(
                {
                    "decode": name,
                    "precision": cfg.precision,
                    "strategy": cfg.strategy,
                    "beam_size": cfg.beam_size,
                    "model": args.model,
                    "sentences": args.sentences,
                    "batch_size": cfg.batch_size,
                    "median_seconds": round(median, 3),
                    "sentences_per_s": round(args.sentences / median, 1),
                    "output_tokens_per_sentence": round(tokens[name] / args.sentences, 2),
                    "seconds": [round(t, 3) for t in times[name]],
                }
            )
        )


if __name__ == "__main__":
    main()
