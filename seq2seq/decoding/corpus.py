"""Decode lists of source strings with a model, in length-sorted batches, in input order."""

from dataclasses import dataclass, replace

import numpy as np

from seq2seq.config import DataConfig, DecodeConfig
from seq2seq.data.corpora import Corpus
from seq2seq.data.pipeline import make_eval_dataset
from seq2seq.decoding.search import search
from seq2seq.progress import progress_bar


@dataclass
class Hypothesis:
    text: str
    score: float  # length-penalized log-probability (greedy: plain log-probability)
    num_tokens: int


def decode_sources(
    model,
    tokenizers,
    sources: list[str],
    data_cfg: DataConfig,
    decode_cfg: DecodeConfig,
    progress: bool = False,
) -> list[list[Hypothesis]]:
    """The n-best hypotheses of each source, best first, in the order of `sources`.

    Batches are built by the evaluation pipeline (in-graph tokenization, sorted by length,
    over-long sources truncated) and put back into input order with `example_index`. With
    `progress`, a bar on stderr counts decoded sentences (rate, ETA) when stderr is a terminal.
    """
    corpus = Corpus(sources=list(sources), targets=[""] * len(sources), name="input")
    data_cfg = _with_batch_size(data_cfg, decode_cfg.batch_size)
    results: list[list[Hypothesis] | None] = [None] * len(sources)
    with progress_bar(len(sources), "decoding", "sent", progress) as bar:
        for x, _, _ in make_eval_dataset(corpus, tokenizers, data_cfg):
            out = search(model, x["source_ids"], x["source_padding_mask"], decode_cfg)
            ids, scores = out["ids"].numpy(), out["scores"].numpy()  # (B, N, L), (B, N)
            for row_ids, row_scores, index in zip(ids, scores, x["example_index"].numpy()):
                results[int(index)] = [
                    _hypothesis(tokenizers, i, s) for i, s in zip(row_ids, row_scores)
                ]
            bar.update(len(ids))
    assert all(r is not None for r in results), "the evaluation pipeline lost sentences"
    return results


def _hypothesis(tokenizers, ids: np.ndarray, score: float) -> Hypothesis:
    tokens = [int(t) for t in ids if t > 0]
    return Hypothesis(tokenizers.target.decode(tokens), float(score), len(tokens))


def _with_batch_size(cfg: DataConfig, batch_size: int) -> DataConfig:
    return replace(cfg, eval_batch_size=batch_size)


def spread(count: int, limit: int) -> list[int]:
    """`limit` increasing indices in [0, count), evenly spaced, the first and last included
    (0 < limit < count)."""
    if limit == 1:
        return [0]
    return [round(i * (count - 1) / (limit - 1)) for i in range(limit)]


@dataclass
class Decoded:
    """Best hypotheses of the distinct sources of a corpus, with all their references."""

    sources: list[str]
    hypotheses: list[str]
    references: list[list[str]]
    output_tokens: int


def decode_corpus(
    model,
    tokenizers,
    corpus: Corpus,
    data_cfg: DataConfig,
    decode_cfg: DecodeConfig,
    limit: int = 0,
    progress: bool = False,
) -> Decoded:
    """Decode the distinct sources of `corpus` in corpus order; with `limit` > 0 only `limit` of
    them, evenly spaced over the corpus (`spread`: corpora are often sorted, e.g. by length, so
    the first `limit` would not be a fair sample). `progress`: see `decode_sources`."""
    sources, references = corpus.references()
    if 0 < limit < len(sources):
        keep = spread(len(sources), limit)
        sources, references = [sources[i] for i in keep], [references[i] for i in keep]
    nbest = decode_sources(model, tokenizers, sources, data_cfg, decode_cfg, progress)
    return Decoded(
        sources, [h[0].text for h in nbest], references, sum(h[0].num_tokens for h in nbest)
    )
