"""Search over `model.encode` / `model.decode_step`: one graph-mode loop (`decode`,
`search_loop`) run by a strategy object (`GreedySearch`, `BeamSearch`), `search(cfg)`, and
decoding whole corpora in length-sorted batches (`decode_sources`, `decode_corpus`), and
`Ensemble` (several models searched as one).

Every search returns ids int32 (B, N, L) and scores, log_probs float32 / lengths int32 (B, N);
see `seq2seq.decoding.loop`."""

from seq2seq.decoding.beam import BeamSearch, beam_search
from seq2seq.decoding.corpus import Decoded, Hypothesis, decode_corpus, decode_sources
from seq2seq.decoding.ensemble import Ensemble
from seq2seq.decoding.greedy import GreedySearch, greedy_search
from seq2seq.decoding.length_penalty import length_penalty, penalized_scores
from seq2seq.decoding.loop import decode, search_loop
from seq2seq.decoding.model_step import start_model
from seq2seq.decoding.search import make_strategy, search
from seq2seq.decoding.strategy import SearchStrategy

__all__ = [
    "BeamSearch",
    "Decoded",
    "Ensemble",
    "GreedySearch",
    "Hypothesis",
    "SearchStrategy",
    "beam_search",
    "decode",
    "decode_corpus",
    "decode_sources",
    "greedy_search",
    "length_penalty",
    "make_strategy",
    "penalized_scores",
    "search",
    "search_loop",
    "start_model",
]
