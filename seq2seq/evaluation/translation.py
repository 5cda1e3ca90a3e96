"""Translation scores with sacrebleu: corpus BLEU, chrF and TER on detokenized strings.

Sentences may have different numbers of references: sacrebleu takes one stream per reference
index, and a sentence with fewer references gets `None` in the extra streams, which sacrebleu
skips (an empty string would count as a real, empty reference).
"""

from collections.abc import Sequence

from sacrebleu.metrics import BLEU, CHRF, TER


def translation_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[dict[str, float], dict[str, str]]:
    """Default sacrebleu BLEU (13a), chrF2 and TER of `hypotheses` against `references`.

    references[i] holds the reference translations of hypotheses[i] (at least one).
    Returns ({"bleu", "chrf", "ter"} -> score, {same keys} -> sacrebleu signature).
    """
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(
            f"need equal, non-zero counts: {len(hypotheses)} hypotheses, "
            f"{len(references)} reference lists"
        )
    if any(len(refs) == 0 for refs in references):
        raise ValueError("every hypothesis needs at least one reference")
    streams = reference_streams(references)
    scores, signatures = {}, {}
    for name, metric in (("bleu", BLEU()), ("chrf", CHRF()), ("ter", TER())):
        scores[name] = metric.corpus_score(list(hypotheses), streams).score
        signatures[name] = str(metric.get_signature())
    return scores, signatures


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-sentence reference lists -> sacrebleu streams, padded with None. Shape (R_max, N)."""
    count = max(len(refs) for refs in references)
    return [[refs[i] if i < len(refs) else None for refs in references] for i in range(count)]
