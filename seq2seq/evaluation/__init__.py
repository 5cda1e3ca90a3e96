"""Task scores of decoded strings: G2P (WER, PER) and translation (BLEU, chrF, TER)."""

from seq2seq.evaluation.g2p import per, wer
from seq2seq.evaluation.score import score
from seq2seq.evaluation.translation import reference_streams, translation_scores

__all__ = ["per", "reference_streams", "score", "translation_scores", "wer"]
