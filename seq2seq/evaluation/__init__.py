"""Task scores of decoded strings: G2P (WER, PER) and translation (BLEU, chrF, TER), and
`task_metrics` / `sample_lines` over a decoded corpus."""

from seq2seq.evaluation.g2p import per, wer
from seq2seq.evaluation.score import score, score_with_signatures
from seq2seq.evaluation.task import sample_lines, task_metrics, task_scores
from seq2seq.evaluation.translation import reference_streams, translation_scores

__all__ = [
    "per",
    "reference_streams",
    "sample_lines",
    "score",
    "score_with_signatures",
    "task_metrics",
    "task_scores",
    "translation_scores",
    "wer",
]
