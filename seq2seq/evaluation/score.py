"""`score()`: the metrics of a task family on decoded strings, and `score_with_signatures()`
that also names how they were computed (sacrebleu signatures for translation)."""

from collections.abc import Sequence

from seq2seq.evaluation.g2p import per, wer
from seq2seq.evaluation.translation import translation_scores

TASKS = ("g2p", "translation")


def score(
    task: str, hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """g2p -> {"wer", "per"}; translation -> {"bleu", "chrf", "ter"}; all in percent (0-100).

    hypotheses[i] is scored against all of references[i]. For g2p each entry is one distinct word.
    Translation hypotheses and references must be detokenized text (sacrebleu tokenizes them).
    """
    return score_with_signatures(task, hypotheses, references)[0]


def score_with_signatures(
    task: str, hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[dict[str, float], dict[str, str]]:
    """(`score(...)`, {metric: signature}): for translation the sacrebleu signature of each
    metric (e.g. `nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`); {} for g2p."""
    if task == "g2p":
        return {"wer": wer(hypotheses, references), "per": per(hypotheses, references)}, {}
    if task == "translation":
        return translation_scores(hypotheses, references)
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")
