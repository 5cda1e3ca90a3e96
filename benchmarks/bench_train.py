"""Training throughput on real data: the project's pipeline, model and train step.

    .venv/bin/python benchmarks/bench_train.py [overrides ...] [--compare batching|rnn|KEY=A,B]
        [--steps 60] [--rounds 3] [--warmup 5]

Composes the `train` config (default: G2P on CMUdict, experiment=g2p_cmudict) with Hydra-style
overrides, then times two variants interleaved (A B A B ...) because this machine's speed
drifts: `--compare batching` (default) `bucketed` vs `random` batches, `--compare rnn`
`model.rnn=keras` vs `fused` (same batches), `--compare KEY=A,B` any config key that keeps
the corpus (e.g. `data.batch_tokens=2048,3072`, `tokenizer=unigram4k,shared8k`: each variant's
tokenizers are trained on the corpus first; list values keep their commas:
`data.bucket_boundaries=null,[8,16,24,32]`), or `--compare "O1 O2|O3"`: variants that differ in
several keys (`"model.rnn=keras|train.precision=float32 model.rnn=fused"`). `--warmup` steps
per variant run before timing (tracing; with `train.jit_compile=true` one XLA compilation per
new batch shape: warm up over all of them, `shapes_new_in_timing` says how many were left).
Prints one JSON line per variant: median real target tokens/s, padded positions/s, real-token
fraction (target and source), step time, peak RSS, the machine's matmul rate; then the ratio of
the second variant's tokens/s to the first's.
"""

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402
from machine import machine  # noqa: E402

import seq2seq.layers.masked_gru as masked_gru  # noqa: E402
from seq2seq.config import TrainRunConfig, validate  # noqa: E402
from seq2seq.config.hardware import resolve_auto  # noqa: E402
from seq2seq.data.corpora import load_corpora  # noqa: E402
from seq2seq.data.pipeline import make_train_dataset  # noqa: E402
from seq2seq.data.tokenizer import load_or_train_tokenizers  # noqa: E402
from seq2seq.model import (
    build_model,  # noqa: E402
    build_variables,  # noqa: E402
)
from seq2seq.training.hardware import detect_hardware  # noqa: E402
from seq2seq.training.loop import seed_everything  # noqa: E402
from seq2seq.training.optimizers import build_optimizer  # noqa: E402
from seq2seq.training.steps import make_train_step, select_inputs  # noqa: E402

VARIANTS = {"batching": "data.batching=bucketed,random", "rnn": "model.rnn=keras,fused"}
CONF = str(Path(__file__).resolve().parents[1] / "conf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", default=["experiment=g2p_cmudict"])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--compare", default="batching", help="batching, rnn or KEY=A,B")
    args = parser.parse_args()
    configs = {}
    chosen = variants(VARIANTS.get(args.compare, args.compare))
    key = chosen[0][0]
    for _, value, extra in chosen:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            overrides = [*args.overrides, *extra]
            typed = validate(compose("train", overrides=overrides), TrainRunConfig)
            configs[value], _ = resolve_auto(typed, detect_hardware())  # as training would
    cfg = next(iter(configs.values()))
    seed_everything(cfg.train.seed, False)
    corpora = load_corpora(cfg.data)
    trained = {}  # tokenizer config -> tokenizers: trained once per distinct config
    runs = {}
    for value, variant in configs.items():
        tokenizer_key = repr(variant.tokenizer)
        if tokenizer_key not in trained:
            directory = Path(tempfile.mkdtemp()) / "tokenizer"
            trained[tokenizer_key] = load_or_train_tokenizers(
                variant.tokenizer, corpora["train"], directory
            )
        tokenizers = trained[tokenizer_key]
        model = build_model(
            variant.model,
            tokenizers.source.vocab_size,
            tokenizers.target.vocab_size,
            variant.train.precision,
        )
        dataset = make_train_dataset(
            corpora["train"], tokenizers, variant.data, seed=variant.train.seed
        )
        build_variables(model)
        optimizer = build_optimizer(variant)
        step = make_train_step(
            model,
            optimizer,
            variant.train.label_smoothing,
            variant.train.optimizer.clip_norm,
            variant.train.jit_compile,
        )
        runs[value] = (iter(dataset), step, [], set())
        _time(runs[value], args.warmup)  # trace and warm up (and compile each shape, with XLA)
    for _ in range(args.rounds):
        for run in runs.values():
            run[2].append(_time(run, args.steps))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    speed = machine()
    rates = []
    for value, (_, _, rounds, _) in runs.items():
        summary = _summary(key, value, rounds, configs[value], peak_mb) | speed
        rates.append(summary["real_target_tokens_per_sec"])
        print(json.dumps(summary))
    first, second = list(runs)[:2] if len(runs) > 1 else (None, None)
    if second is not None:
        ratio = {f"{second}_over_{first}": round(rates[1] / max(rates[0], 1), 3)}
        print(json.dumps(ratio | {"key": key, "kernel": masked_gru.IMPLEMENTATION}))


def variants(compare: str) -> list[tuple[str, str, list[str]]]:
    """(key, value, overrides) of each variant: "KEY=A,B" (Hydra's sweep syntax, parsed by
    Hydra: "KEY=null,[8,16]" gives KEY=null and KEY=[8,16]) gives KEY=A and KEY=B; "O1 O2|O3"
    gives the override lists [O1, O2] and [O3] (key "variant", value the list as written)."""
    if "|" in compare:
        return [("variant", part.strip(), part.split()) for part in compare.split("|")]
    override = OverridesParser.create().parse_override(compare)
    values = (
        list(override.sweep_string_iterator())
        if override.is_sweep_override()
        else [override.get_value_element_as_str()]
    )
    key = override.key_or_group
    return [(key, value, [f"{key}={value}"]) for value in values]


def _time(run, steps: int) -> dict:
    """Time `steps` steps; the run's set of seen (B, S, T) shapes grows by the new ones."""
    iterator, step, _, shapes = run
    sums = {"tokens": 0.0, "positions": 0.0, "source_tokens": 0.0, "source_positions": 0.0}
    new_shapes = 0
    start = time.perf_counter()
    for _ in range(steps):
        x, y, mask = next(iterator)
        shape = (*y.shape, x["source_ids"].shape[1])
        new_shapes += shape not in shapes
        shapes.add(shape)
        out = step(select_inputs(x), y, mask)
        for key in sums:
            sums[key] += float(out[key])
    seconds = time.perf_counter() - start
    return sums | {"seconds": seconds, "steps": steps, "new_shapes": new_shapes}


def _summary(key: str, value: str, rounds: list[dict], cfg: TrainRunConfig, peak_mb: float) -> dict:
    rate = statistics.median(r["tokens"] / r["seconds"] for r in rounds)
    pad = statistics.median((r["positions"] - r["tokens"]) / r["seconds"] for r in rounds)
    total = {k: sum(r[k] for r in rounds) for k in rounds[0]}
    return {
        key: value,
        "batching": cfg.data.batching,
        "rnn": cfg.model.rnn,
        "precision": cfg.train.precision,
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
        "jit_compile": cfg.train.jit_compile,
        "shapes_new_in_timing": total["new_shapes"],
        "peak_rss_mb": round(peak_mb),
    }


if __name__ == "__main__":
    main()
