"""The project's train step at the PyTorch peer's sizes, interleaved with the peer; and MFU.

    .venv/bin/python benchmarks/bench_peer.py [--decoders luong bahdanau] [--variants full var]
        [--rnn keras fused] [--rounds 2] [--steps 20] [--torch-python ../torchbench/bin/python]

Sizes of `../shared/bench/torch_gru_seq2seq.py`: embedding 256, one unidirectional GRU 512
encoder, GRU 512 decoder (luong: general attention; bahdanau: additive attention 512), dense
bridge, vocab 8000 both sides, no dropout, Adam 1e-3; batches of 64 random sentences, lengths 30
(`full`) or U[5, 30] per side right-padded to 30 (`var`). Each round times every variant of
ours in this process, then the peer in a subprocess (A B A B ...): the machine drifts, so the
ratio of medians is the figure. The peer needs its own venv (see ../shared/bench/README.md);
without it only our figures are printed.

MFU = model FLOPs of the real tokens (3 x forward, counted from the shapes: GRU, attention,
output projection) x steps/s / the float32 2048^2 matmul rate measured in this process.
Prints one JSON line per (decoder, variant).
"""

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from machine import matmul_gflops  # noqa: E402

from seq2seq.config import ModelConfig  # noqa: E402
from seq2seq.constants import BATCH_KEYS, BOS_ID, PAD_ID  # noqa: E402
from seq2seq.model import build_model  # noqa: E402
from seq2seq.training.optimizers import FusedAdam  # noqa: E402
from seq2seq.training.steps import make_train_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT.parent / "shared" / "bench" / "torch_gru_seq2seq.py"
VOCAB, EMB, HIDDEN, BATCH, LENGTH = 8000, 256, 512, 64, 30


def peer_config(decoder: str, rnn: str) -> ModelConfig:
    return ModelConfig(
        name=f"peer_{decoder}", embedding_dim=EMB, encoder_units=HIDDEN, encoder_layers=1,
        bidirectional=False, bidirectional_merge="concat", decoder=decoder,
        decoder_units=HIDDEN, decoder_layers=1,
        attention="general" if decoder == "luong" else "additive", attention_units=HIDDEN,
        input_feeding=False, bridge="dense", tie_embeddings=False, dropout=0.0, rnn=rnn,
    )  # fmt: skip


def make_batches(count: int, variable: bool, seed: int = 1234):
    """The peer's batches: random pieces in [4, V), lengths L or U[5, L], right-padded to L."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        lengths = [rng.integers(5, LENGTH + 1, BATCH) if variable else np.full(BATCH, LENGTH)
                   for _ in range(2)]  # fmt: skip
        masks = [np.arange(LENGTH)[None] < n[:, None] for n in lengths]
        source = np.where(masks[0], rng.integers(4, VOCAB, (BATCH, LENGTH)), PAD_ID)
        target_out = np.where(masks[1], rng.integers(4, VOCAB, (BATCH, LENGTH)), PAD_ID)
        target_in = np.concatenate([np.full((BATCH, 1), BOS_ID), target_out[:, :-1]], axis=1)
        target_in = np.where(masks[1], target_in, PAD_ID)
        values = (source, masks[0], target_in, masks[1])
        x = {k: tf.constant(v, tf.int32 if v.dtype != bool else tf.bool)
             for k, v in zip(BATCH_KEYS, values)}  # fmt: skip
        batches.append((x, tf.constant(target_out, tf.int32), lengths))
    return batches


def forward_flops(decoder: str, source_len: int, target_len: int) -> float:
    """Multiply-adds x 2 of one sentence's forward pass (real tokens only)."""
    gru = lambda inputs: 2 * inputs * 3 * HIDDEN + 2 * HIDDEN * 3 * HIDDEN  # noqa: E731
    flops = source_len * gru(EMB) + 2 * HIDDEN * HIDDEN  # encoder + bridge
    attention_read = 2 * source_len * HIDDEN  # context: weights @ memory
    per_target = 2 * 2 * HIDDEN * HIDDEN + 2 * HIDDEN * VOCAB  # attentional layer + output
    if decoder == "luong":
        flops += source_len * 2 * HIDDEN * HIDDEN  # keys (general)
        per_target += gru(EMB) + 2 * source_len * HIDDEN + attention_read
    else:
        flops += source_len * 2 * HIDDEN * HIDDEN  # keys (additive memory projection)
        per_target += gru(EMB + HIDDEN) + 2 * HIDDEN * HIDDEN + 3 * source_len * HIDDEN
        per_target += attention_read
    return flops + target_len * per_target


def time_ours(step, decoder: str, batches, steps: int) -> dict:
    tokens, flops = 0, 0.0
    start = time.perf_counter()
    for i in range(steps):
        x, y, (source_lens, target_lens) = batches[i % len(batches)]
        step(x, y, x["target_padding_mask"])["loss_sum"].numpy()
        tokens += int(target_lens.sum())
        flops += sum(3 * forward_flops(decoder, s, t) for s, t in zip(source_lens, target_lens))
    seconds = time.perf_counter() - start
    return {"tokens_per_sec": tokens / seconds, "flops_per_sec": flops / seconds}


def time_peer(python: str, decoder: str, variant: str, steps: int) -> float | None:
    if not Path(python).exists():
        return None
    command = [python, str(PEER), "--decoder", decoder, "--variant", variant, "--steps", str(steps)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["median_tgt_tok_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decoders", nargs="+", default=["luong", "bahdanau"])
    parser.add_argument("--variants", nargs="+", default=["full", "var"])
    parser.add_argument("--rnn", nargs="+", default=["keras", "fused"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--torch-python", default=str(ROOT.parent / "torchbench/bin/python"))
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    gflops = matmul_gflops()
    for decoder in args.decoders:
        for variant in args.variants:
            batches = make_batches(8, variant == "var")
            steps = {}
            for rnn in args.rnn:
                model = build_model(peer_config(decoder, rnn), VOCAB, VOCAB)
                steps[rnn] = make_train_step(model, FusedAdam(1e-3))
                time_ours(steps[rnn], decoder, batches, 3)  # trace, warm up
            ours = {rnn: [] for rnn in steps}
            peer = []
            for _ in range(args.rounds):
                for rnn, step in steps.items():
                    ours[rnn].append(time_ours(step, decoder, batches, args.steps))
                rate = time_peer(args.torch_python, decoder, variant, max(args.steps, 10))
                if rate is not None:
                    peer.append(rate)
            print(json.dumps(_report(decoder, variant, ours, peer, gflops)))


def _report(decoder, variant, ours, peer, gflops) -> dict:
    report = {"decoder": decoder, "variant": variant, "matmul_2048_gflops": round(gflops, 1)}
    peer_rate = statistics.median(peer) if peer else None
    report["peer_tokens_per_sec"] = peer_rate and round(peer_rate)
    for rnn, rounds in ours.items():
        rate = statistics.median(r["tokens_per_sec"] for r in rounds)
        flops = statistics.median(r["flops_per_sec"] for r in rounds)
        report[f"{rnn}_tokens_per_sec"] = round(rate)
        report[f"{rnn}_mfu"] = round(flops / (gflops * 1e9), 3)
        report[f"{rnn}_over_peer"] = peer_rate and round(rate / peer_rate, 2)
    return report


if __name__ == "__main__":
    main()
