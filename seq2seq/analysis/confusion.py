"""Which phonemes a G2P model confuses: each hypothesis aligned to its closest reference by
edit distance, and the substitutions, deletions and insertions counted.

EMPTY stands for the missing side: (ref, EMPTY) is a deletion, (EMPTY, hyp) an insertion.
"""

from collections import Counter
from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

EMPTY = "∅"


def align(reference: list[str], hypothesis: list[str]) -> list[tuple[str, str]]:
    """A minimum-edit alignment as (reference token, hypothesis token) pairs, EMPTY for the
    missing side. Ties prefer a match or substitution, then a deletion."""
    n, m = len(reference), len(hypothesis)
    cost = np.zeros((n + 1, m + 1), dtype=np.int64)  # (n+1, m+1)
    cost[:, 0], cost[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diagonal = cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1])
            cost[i, j] = min(diagonal, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs = []
    i, j = n, m
    while i > 0 or j > 0:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            pairs.append((reference[i - 1], hypothesis[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            pairs.append((reference[i - 1], EMPTY))
            i -= 1
        else:
            pairs.append((EMPTY, hypothesis[j - 1]))
            j -= 1
    return pairs[::-1]


def confusion_counts(pairs: Iterable[tuple[str, str]]) -> Counter:
    """{(reference, hypothesis): count} over (closest reference, hypothesis) string pairs of
    space-separated phonemes; matches included."""
    counts: Counter = Counter()
    for reference, hypothesis in pairs:
        counts.update(align(reference.split(), hypothesis.split()))
    return counts


def top_confusions(counts: Counter, top: int = 20) -> pd.DataFrame:
    """The most frequent errors: reference, hypothesis, count, and the share of that reference
    phoneme's occurrences (insertions: of all insertions)."""
    totals: Counter = Counter()
    for (ref, _), count in counts.items():
        totals[ref] += count
    errors = [(pair, c) for pair, c in counts.items() if pair[0] != pair[1]]
    errors.sort(key=lambda item: (-item[1], item[0]))
    rows = [
        {"reference": ref, "hypothesis": hyp, "count": c, "share": c / totals[ref]}
        for (ref, hyp), c in errors[:top]
    ]
    return pd.DataFrame(rows, columns=["reference", "hypothesis", "count", "share"])


def confusion_matrix(counts: Counter, phonemes: int = 20) -> pd.DataFrame:
    """Reference x hypothesis shares over the `phonemes` most frequent reference phonemes
    (plus EMPTY): each cell is the count over all occurrences of the row's phoneme (so a row
    sums to less than 1 when its phoneme also became one outside the matrix)."""
    totals: Counter = Counter()
    for (ref, _), count in counts.items():
        totals[ref] += count
    labels = [
        p for p, _ in Counter({k: v for k, v in totals.items() if k != EMPTY}).most_common(phonemes)
    ]
    labels.append(EMPTY)
    matrix = pd.DataFrame(0.0, index=labels, columns=labels)
    for (ref, hyp), count in counts.items():
        if ref in matrix.index and hyp in matrix.columns:
            matrix.loc[ref, hyp] += count / totals[ref]
    return matrix


def plot_confusion(matrix: pd.DataFrame) -> plt.Figure:
    """The matrix of shares as a heatmap, log-scaled colors so that rare errors show."""
    size = 2 + 0.3 * len(matrix)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(np.log10(matrix.to_numpy() + 1e-3), cmap="magma")
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(matrix.index)), matrix.index, fontsize=7)
    ax.set_xlabel("hypothesis")
    ax.set_ylabel("reference")
    fig.colorbar(image, ax=ax, label="log10 share of the reference phoneme")
    fig.tight_layout()
    return fig
