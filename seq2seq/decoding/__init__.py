"""Search over `model.encode` / `model.decode_step`: greedy and beam search, and `search(cfg)`."""

from seq2seq.decoding.beam import beam_search
from seq2seq.decoding.greedy import greedy_search
from seq2seq.decoding.length_penalty import length_penalty, penalized_scores
from seq2seq.decoding.search import search

__all__ = ["beam_search", "greedy_search", "length_penalty", "penalized_scores", "search"]
