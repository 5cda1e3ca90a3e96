"""Scores of a decoded corpus as plain floats, and sample lines for TensorBoard text."""

import numpy as np

from seq2seq.decoding import Decoded
from seq2seq.evaluation.score import score_with_signatures


def task_metrics(task: str, decoded: Decoded) -> dict[str, float]:
    """Task scores (g2p: wer, per; translation: bleu, chrf, ter) as plain floats."""
    return task_scores(task, decoded)[0]


def task_scores(task: str, decoded: Decoded) -> tuple[dict[str, float], dict[str, str]]:
    """(`task_metrics`, {metric: sacrebleu signature} for translation, {} for g2p).

    `decoded.hypotheses` are detokenized strings (SentencePiece decode of the output pieces),
    never pieces: BLEU and chrF tokenize them with sacrebleu's defaults.
    """
    scores, signatures = score_with_signatures(task, decoded.hypotheses, decoded.references)
    floats = {k: float(v) for k, v in scores.items() if isinstance(v, (int, float, np.floating))}
    return floats, signatures


def sample_lines(decoded: Decoded, count: int) -> list[str]:
    """A few `source → hypothesis (reference)` lines for TensorBoard text."""
    lines = []
    for src, hyp, refs in list(zip(decoded.sources, decoded.hypotheses, decoded.references))[
        :count
    ]:
        mark = "✓" if hyp in refs else "✗"
        lines.append(f"{mark} `{src}` → `{hyp}` (reference: `{refs[0]}`)")
    return lines
