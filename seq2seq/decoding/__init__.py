"""Search over `model.encode` / `model.decode_step`: greedy and beam search, `search(cfg)`, and
decoding whole corpora in length-sorted batches (`decode_sources`, `decode_corpus`)."""

from seq2seq.decoding.beam import beam_search
from seq2seq.decoding.corpus import Decoded, Hypothesis, decode_corpus, decode_sources
from seq2seq.decoding.greedy import greedy_search
from seq2seq.decoding.length_penalty import length_penalty, penalized_scores
from seq2seq.decoding.search import search

__all__ = [
    "Decoded",
    "Hypothesis",
    "beam_search",
    "decode_corpus",
    "decode_sources",
    "greedy_search",
    "length_penalty",
    "penalized_scores",
    "search",
]
