"""`search()`: run the search strategy a `DecodeConfig` names."""

import tensorflow as tf

from seq2seq.config.decode import DecodeConfig
from seq2seq.decoding.beam import BeamSearch
from seq2seq.decoding.greedy import GreedySearch
from seq2seq.decoding.loop import decode
from seq2seq.decoding.strategy import SearchStrategy


def make_strategy(cfg: DecodeConfig) -> SearchStrategy:
    """`GreedySearch()` or `BeamSearch(...)` for `cfg.strategy`."""
    if cfg.strategy == "greedy":
        return GreedySearch()
    return BeamSearch(
        cfg.beam_size, cfg.n_best, cfg.length_penalty, float(cfg.alpha), cfg.early_stopping
    )


def search(
    model, source_ids, source_padding_mask, cfg: DecodeConfig, attention: bool = False
) -> dict[str, tf.Tensor]:
    """Search source_ids int32 (B, S) / source_padding_mask bool (B, S) as `cfg` says.

    Every strategy returns the same dict (`seq2seq.decoding.loop`): ids (B, N, L); scores,
    log_probs, lengths (B, N); attention (B, N, L, S) if asked for. N = cfg.n_best (1 for greedy).
    """
    return decode(
        model,
        source_ids,
        source_padding_mask,
        make_strategy(cfg),
        cfg.max_length_a,
        cfg.max_length_b,
        attention,
    )
