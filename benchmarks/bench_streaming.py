"""Streamed vs in-memory training corpora: peak RSS and time to the first training step.

    nice -n 10 .venv/bin/python benchmarks/bench_streaming.py \
        [--sizes 10000 1000000 5000000] [--in-memory-sizes 10000 1000000] [--dir DIR]

Writes a synthetic parallel corpus of max(--sizes) pairs into DIR (default
/tmp/seq2seq_bench_streaming; reused when present) and its first N lines for every other size,
plus fixed 1,000-pair valid and test files, and trains a unigram tokenizer pair on 10k pairs
once. Then, for each size and mode, runs the real `fit` (seq2seq.training.loop) in a fresh
process with the tiny model, train.max_steps=1 and the prepared tokenizers, like a
`seq2seq-train` after `seq2seq-prepare`. Prints one JSON object: per run, the seconds from
process start to the end of the first training step, the whole process's seconds, peak RSS
(MB, ru_maxrss), the seconds spent reading the corpora, and the size of the step-1 checkpoint
(which holds the data iterator, so the shuffle buffer); and, per mode, each size's peak RSS
and CPU seconds to the first step relative to the smallest size (CPU seconds, because wall
time on a shared machine varies with other load).
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
STARTED = time.perf_counter()  # as early as possible: the child's "process start"

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
CHUNK = 100_000  # pairs generated per numpy call
HELD_OUT = 1000  # pairs in the valid and test files
TOKENIZER_PAIRS = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 1_000_000, 5_000_000])
    parser.add_argument("--in-memory-sizes", type=int, nargs="*", default=[10_000, 1_000_000])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/seq2seq_bench_streaming"))
    parser.add_argument("--child", nargs=3, metavar=("SIZE", "STREAMING", "RUN_DIR"))
    args = parser.parse_args()
    if args.child:
        child(args.dir, int(args.child[0]), args.child[1], Path(args.child[2]))
        return
    sizes = sorted(set(args.sizes) | set(args.in_memory_sizes))
    write_corpora(args.dir, sizes)
    prepare_tokenizers(args.dir)
    runs = []
    for streaming, chosen in (("true", args.sizes), ("false", args.in_memory_sizes)):
        for size in sorted(chosen):
            runs.append(run_child(args.dir, size, streaming))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"runs": runs, "relative": relative(runs)}, indent=2))


# --- the corpus -----------------------------------------------------------------------------
def write_corpora(directory: Path, sizes: list[int]) -> None:
    """DIR/{N}.src, {N}.tgt for each size N (prefixes of the largest), valid.*, test.*."""
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    words = np.array(
        ["".join(rng.choice(list("abcdefghijklmnoprstuvy"), n)) for n in rng.integers(2, 9, 4000)]
    )
    translation = rng.permutation(len(words))  # word i translates to word translation[i]
    largest = max(sizes)
    if not (directory / f"{largest}.tgt").exists():
        started = time.perf_counter()
        _write_pairs(directory / "full", largest, words, translation, seed=1)
        for side in ("src", "tgt"):
            (directory / f"full.{side}").rename(directory / f"{largest}.{side}")
        print(f"wrote {largest} pairs in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    for size in sizes:
        for side in ("src", "tgt"):
            path = directory / f"{size}.{side}"
            if not path.exists():
                with open(directory / f"{largest}.{side}", "rb") as src, open(path, "wb") as out:
                    for _, line in zip(range(size), src):
                        out.write(line)
    for split, seed in (("valid", 2), ("test", 3)):
        if not (directory / f"{split}.tgt").exists():
            _write_pairs(directory / split, HELD_OUT, words, translation, seed)


def _write_pairs(prefix: Path, n: int, words, translation, seed: int) -> None:
    """n pairs of 3-20 words; the target translates each word and reverses the order."""
    import numpy as np

    rng = np.random.default_rng(seed)
    with open(f"{prefix}.src", "w") as src, open(f"{prefix}.tgt", "w") as tgt:
        for start in range(0, n, CHUNK):
            count = min(CHUNK, n - start)
            lengths = rng.integers(3, 21, count)
            ids = rng.zipf(1.3, lengths.sum()) % len(words)  # Zipf-like word frequencies
            rows = np.split(ids, np.cumsum(lengths)[:-1])
            src.write("".join(" ".join(words[r]) + "\n" for r in rows))
            tgt.write("".join(" ".join(words[translation[r[::-1]]]) + "\n" for r in rows))


def prepare_tokenizers(directory: Path) -> None:
    """DIR/tokenizer/: unigram models (1000 pieces a side) trained on the first 10k pairs."""
    target = directory / "tokenizer"
    if (target / "target.model").exists():
        return
    from seq2seq.data.corpora import read_parallel_text
    from seq2seq.data.tokenizer import save_tokenizers, train_tokenizers

    corpus = read_parallel_text(directory / "10000.src", directory / "10000.tgt")
    save_tokenizers(train_tokenizers(config(directory, 10_000, "false").tokenizer, corpus), target)


# --- one measured run -------------------------------------------------------------------------
def overrides(directory: Path, size: int, streaming: str) -> list[str]:
    return [
        "data=parallel_text",
        f"data.train.source={directory}/{size}.src",
        f"data.train.target={directory}/{size}.tgt",
        f"data.valid.source={directory}/valid.src",
        f"data.valid.target={directory}/valid.tgt",
        f"data.test.source={directory}/test.src",
        f"data.test.target={directory}/test.tgt",
        f"data.streaming={streaming}",
        "data.max_source_length=64",
        "data.max_target_length=64",
        "tokenizer=unigram8k",
        "tokenizer.source.vocab_size=1000",
        "tokenizer.target.vocab_size=1000",
        "model=tiny",
        "task=translation",
        "train.max_steps=1",
        "train.val_decode_examples=10",
        "logger=none",
    ]


def config(directory: Path, size: int, streaming: str):
    from hydra import compose, initialize_config_dir

    from seq2seq.config import TrainRunConfig, validate

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return validate(
            compose("train", overrides=overrides(directory, size, streaming)), TrainRunConfig
        )


def run_child(directory: Path, size: int, streaming: str) -> dict:
    run_dir = directory / "runs" / f"{size}-{'streamed' if streaming == 'true' else 'memory'}"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(directory / "tokenizer", run_dir / "tokenizer")
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--dir",
            str(directory),
            "--child",
            str(size),
            streaming,
            str(run_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"size {size} streaming={streaming} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def child(directory: Path, size: int, streaming: str, run_dir: Path) -> None:
    """`fit` with one step; print its figures as one JSON line."""
    import seq2seq.training.loop as loop
    from seq2seq.training.trainer import Trainer

    first_step: list[tuple[float, float]] = []
    one_step, load = Trainer._one_step, loop.load_training_data
    loading: list[float] = []

    def timed_step(self, interval):
        one_step(self, interval)
        if not first_step:
            first_step.append((time.perf_counter() - STARTED, cpu_seconds()))

    def timed_load(cfg):
        started = time.perf_counter()
        data = load(cfg)
        loading.append(time.perf_counter() - started)
        return data

    Trainer._one_step = timed_step
    loop.load_training_data = timed_load
    Trainer.final_evaluation = lambda self: {}  # constant work, not the point here
    loop.fit(config(directory, size, streaming), run_dir)
    checkpoint = run_dir / "checkpoints" / "last"
    print(
        json.dumps(
            {
                "pairs": size,
                "streaming": streaming == "true",
                "corpus_mb": round(
                    sum((directory / f"{size}.{s}").stat().st_size for s in ("src", "tgt")) / 1e6, 1
                ),
                "seconds_to_first_step": round(first_step[0][0], 2),
                "cpu_seconds_to_first_step": round(first_step[0][1], 2),
                "seconds_reading_corpora": round(loading[0], 2),
                "process_seconds": round(time.perf_counter() - STARTED, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "checkpoint_mb": round(
                    sum(p.stat().st_size for p in checkpoint.glob("ckpt-1*")) / 1e6, 2
                ),
            }
        )
    )


def cpu_seconds() -> float:
    """User + system CPU time of this process (robust to other load on the machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def relative(runs: list[dict]) -> dict:
    """Per mode: peak RSS and time to the first step of each size over the smallest's."""
    out = {}
    for mode in (True, False):
        chosen = sorted((r for r in runs if r["streaming"] == mode), key=lambda r: r["pairs"])
        if len(chosen) < 2:
            continue
        base = chosen[0]
        out["streamed" if mode else "in_memory"] = {
            str(r["pairs"]): {
                "peak_rss": round(r["peak_rss_mb"] / base["peak_rss_mb"], 3),
                "cpu_seconds_to_first_step": round(
                    r["cpu_seconds_to_first_step"] / base["cpu_seconds_to_first_step"], 3
                ),
            }
            for r in chosen[1:]
        }
    return out


if __name__ == "__main__":
    main()
