"""Attention of one decoded sentence: the weights, and a heatmap image of them."""

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seq2seq.constants import EOS_ID  # noqa: E402
from seq2seq.decoding import greedy_search  # noqa: E402


@dataclass
class Alignment:
    """weights[i, j]: attention of output piece i on source piece j (rows sum to 1)."""

    source_pieces: list[str]
    output_pieces: list[str]
    weights: np.ndarray  # (L, S)


def align(
    model, tokenizers, source: str, max_length_a: float = 2.0, max_length_b: float = 10.0
) -> Alignment:
    """Greedy-decode `source` and return the attention of each output piece."""
    ids = tokenizers.source.encode([source])[0] + [EOS_ID]
    source_ids = tf.constant([ids], tf.int32)
    mask = tf.ones_like(source_ids, tf.bool)
    out = greedy_search(model, source_ids, mask, max_length_a, max_length_b, attention=True)
    out_ids = [int(i) for i in out["ids"][0, 0].numpy() if i > 0]  # ids include the final eos
    weights = out["attention"][0, 0].numpy()[: len(out_ids), : len(ids)]
    return Alignment(_pieces(tokenizers.source, ids), _pieces(tokenizers.target, out_ids), weights)


def _pieces(tokenizer, ids: list[int]) -> list[str]:
    table = tokenizer.pieces()
    return [table[i] for i in ids]


def heatmap(alignment: Alignment, path: Path | None = None) -> np.ndarray:
    """Draw the alignment; save a PNG to `path` if given; return the image (H, W, 3) uint8."""
    a = alignment
    fig, ax = plt.subplots(figsize=(1 + 0.4 * len(a.source_pieces), 1 + 0.4 * len(a.output_pieces)))
    ax.imshow(a.weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(a.source_pieces)), a.source_pieces, rotation=90)
    ax.set_yticks(range(len(a.output_pieces)), a.output_pieces)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    if path is not None:
        fig.savefig(path, dpi=100)
    plt.close(fig)
    return image
