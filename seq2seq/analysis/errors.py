"""Sentence-level error analysis of a run's predictions: one row per distinct source with its
hypothesis, references, length and score; the worst rows per length bucket; score vs length.

Scores per row: G2P `per` (edit distance to the closest reference over its length, in %) and
`correct` (matches any reference); translation `chrf` (sacrebleu sentence chrF against all
references). Lengths are in characters for G2P (letters) and in words for translation.
"""

from pathlib import Path

import editdistance
import matplotlib.pyplot as plt
import pandas as pd
from sacrebleu.metrics import CHRF

from seq2seq.runs import RunDir

EVAL_FILES = ("sources.txt", "hypotheses.txt", "references.txt")  # seq2seq-evaluate's output


def latest_evaluation(run_dir: str | Path, split: str) -> Path | None:
    """The newest `seq2seq-evaluate` output of `split` in the run (evaluations/<split>_*)."""
    found = [
        p
        for p in RunDir(run_dir).evaluations.glob(f"{split}_*")
        if all((p / name).is_file() for name in EVAL_FILES)
    ]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def read_evaluation(directory: str | Path) -> pd.DataFrame:
    """Rows source, hypothesis, references (list) from a `seq2seq-evaluate` output directory."""
    directory = Path(directory)
    sources, hypotheses, references = (
        (directory / name).read_text(encoding="utf-8").split("\n")[:-1] for name in EVAL_FILES
    )
    if not len(sources) == len(hypotheses) == len(references):
        raise ValueError(f"{directory}: {EVAL_FILES} have different line counts")
    return pd.DataFrame(
        {
            "source": sources,
            "hypothesis": hypotheses,
            "references": [line.split("\t") for line in references],
        }
    )


def decode_split(run, split: str, limit: int = 0) -> pd.DataFrame:
    """Decode `split` of a loaded run (`seq2seq.runs.load.load_run`) with its decode config;
    rows as `read_evaluation`. `limit`: only the first distinct sources if > 0."""
    from seq2seq.data.corpora import load_corpora
    from seq2seq.decoding import decode_corpus

    corpus = load_corpora(run.cfg.data)[split]
    decoded = decode_corpus(run.model, run.tokenizers, corpus, run.cfg.data, run.cfg.decode, limit)
    return pd.DataFrame(
        {
            "source": decoded.sources,
            "hypothesis": decoded.hypotheses,
            "references": decoded.references,
        }
    )


def score_sentences(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """The rows with `length` and the task's sentence scores (see the module docstring)."""
    frame = frame.copy()
    if task == "g2p":
        frame["length"] = frame["source"].str.len()
        closest = [_closest(h, refs) for h, refs in zip(frame["hypothesis"], frame["references"])]
        frame["closest"] = [ref for ref, _ in closest]
        frame["per"] = [100.0 * d / max(len(ref.split()), 1) for ref, d in closest]
        frame["correct"] = [d == 0 for _, d in closest]
    elif task == "translation":
        frame["length"] = frame["source"].str.split().str.len()
        chrf = CHRF()
        frame["chrf"] = [
            chrf.sentence_score(h, list(refs)).score
            for h, refs in zip(frame["hypothesis"], frame["references"])
        ]
    else:
        raise ValueError(f"task must be g2p or translation, got {task!r}")
    return frame


def error_column(task: str) -> tuple[str, bool]:
    """(the sentence score column, True if higher is worse) of a task."""
    return ("per", True) if task == "g2p" else ("chrf", False)


def length_buckets(frame: pd.DataFrame, buckets: int = 4) -> pd.Series:
    """Each row's length bucket: `buckets` quantile ranges of `length` (fewer when lengths
    repeat), labelled like "3-5"."""
    codes = pd.qcut(frame["length"], buckets, labels=False, duplicates="drop")
    spans = frame.groupby(codes)["length"].agg(["min", "max"])
    names = {code: f"{lo}-{hi}" if lo != hi else f"{lo}" for code, (lo, hi) in spans.iterrows()}
    return codes.map(names).rename("length_bucket")


def worst_by_length(
    frame: pd.DataFrame, task: str, buckets: int = 4, per_bucket: int = 3
) -> pd.DataFrame:
    """The `per_bucket` worst rows of each length bucket (shortest bucket first), worst first."""
    column, higher_is_worse = error_column(task)
    frame = frame.assign(length_bucket=length_buckets(frame, buckets))
    ordered = frame.sort_values(["length", column], ascending=[True, not higher_is_worse])
    order = list(dict.fromkeys(ordered["length_bucket"]))
    worst = frame.sort_values(column, ascending=not higher_is_worse, kind="stable")
    picked = worst.groupby("length_bucket", sort=False).head(per_bucket)
    picked = picked.assign(_bucket=picked["length_bucket"].map(order.index))
    columns = ["length_bucket", "length", "source", "hypothesis", "references", column]
    return picked.sort_values("_bucket", kind="stable")[columns].reset_index(drop=True)


def by_length(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Mean sentence score, sentences and (G2P) word error rate per length."""
    column, _ = error_column(task)
    table = frame.groupby("length").agg(sentences=("source", "size"), **{column: (column, "mean")})
    if task == "g2p":
        table["wer"] = 100.0 * (1 - frame.groupby("length")["correct"].mean())
    return table


def plot_score_vs_length(frame: pd.DataFrame, task: str) -> plt.Figure:
    """Each sentence's score against its length, with the mean per length as a line."""
    column, _ = error_column(task)
    means = by_length(frame, task)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.scatter(frame["length"], frame[column], s=8, alpha=0.3, label="sentence")
    ax.plot(means.index, means[column], color="C1", marker="o", label="mean per length")
    unit = "letters" if task == "g2p" else "words"
    ax.set_xlabel(f"source length ({unit})")
    ax.set_ylabel(f"sentence {column}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def show_images(images: list, titles: list[str]) -> plt.Figure:
    """Images (H, W, 3) side by side, e.g. attention heatmaps
    (`seq2seq.inference.attention.heatmap`)."""
    count = max(len(images), 1)  # an empty figure when there is nothing to show
    fig, axes = plt.subplots(1, count, figsize=(4 * count, 4), squeeze=False)
    for ax, image, title in zip(axes[0], images, titles):
        ax.imshow(image)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def _closest(hypothesis: str, references: list[str]) -> tuple[str, int]:
    """(closest reference, its edit distance in tokens); ties go to the shortest, as in
    `seq2seq.evaluation.per`."""
    tokens = hypothesis.split()
    distance, _, ref = min(
        (editdistance.eval(tokens, r.split()), len(r.split()), r) for r in references
    )
    return ref, distance
