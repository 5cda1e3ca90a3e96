"""`score()`: the metrics of a task family on decoded strings."""

from collections.abc import Sequence

from seq2seq.evaluation.g2p import per, wer
from seq2seq.evaluation.translation import translation_scores

TASKS = ("g2p", "translation")


def score(
    task: str, hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """g2p -> {"wer", "per"}; translation -> {"bleu", "chrf", "ter"}; all in percent (0-100).

    hypotheses[i] is scored against all of references[i]. For g2p each entry is one distinct word.
    """
    if task == "g2p":
        return {"wer": wer(hypotheses, references), "per": per(hypotheses, references)}
    if task == "translation":
        return translation_scores(hypotheses, references)[0]
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")
