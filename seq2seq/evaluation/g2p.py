"""Grapheme-to-phoneme scores: word error rate and phoneme error rate, in percent.

Each entry is one distinct word: its hypothesis (space-separated phonemes) and all its reference
pronunciations. Phoneme strings are compared as token lists, so spacing does not matter.
"""

from collections.abc import Sequence

import editdistance


def wer(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Percentage of words whose hypothesis equals none of their reference pronunciations."""
    _check(hypotheses, references)
    wrong = sum(
        hyp.split() not in [ref.split() for ref in refs]
        for hyp, refs in zip(hypotheses, references)
    )
    return 100.0 * wrong / len(hypotheses)


def per(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Phoneme error rate in percent: sum of edit distances to each word's closest reference,
    divided by the summed lengths (in phonemes) of those closest references.

    Ties: among references at the same minimal distance, the shortest one counts, so a tie never
    lowers the rate; the result does not depend on the order of the references.
    """
    _check(hypotheses, references)
    errors = total = 0
    for hyp, refs in zip(hypotheses, references):
        hyp_tokens = hyp.split()
        distance, length = min(
            (editdistance.eval(hyp_tokens, ref.split()), len(ref.split())) for ref in refs
        )
        errors += distance
        total += length
    if total == 0:
        raise ValueError("the closest references are all empty")
    return 100.0 * errors / total


def _check(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if not hypotheses:
        raise ValueError("no hypotheses to score")
    if any(len(refs) == 0 for refs in references):
        raise ValueError("every hypothesis needs at least one reference")
