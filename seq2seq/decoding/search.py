"""`search()`: run the search strategy a `DecodeConfig` names."""

import tensorflow as tf

from seq2seq.config.decode import DecodeConfig
from seq2seq.decoding.beam import beam_search
from seq2seq.decoding.greedy import greedy_search


def search(model, source_ids, source_padding_mask, cfg: DecodeConfig) -> dict[str, tf.Tensor]:
    """Greedy or beam search of source_ids int32 (B, S) / source_padding_mask bool (B, S).

    Returns the chosen function's own result: `greedy_search` gives ids (B, L) with lengths and
    scores (B,); `beam_search` gives ids (B, N, L) with lengths, scores, log_probs (B, N).
    """
    if cfg.strategy == "greedy":
        return greedy_search(
            model, source_ids, source_padding_mask, cfg.max_length_a, cfg.max_length_b
        )
    return beam_search(
        model,
        source_ids,
        source_padding_mask,
        cfg.beam_size,
        cfg.n_best,
        cfg.length_penalty,
        cfg.alpha,
        cfg.max_length_a,
        cfg.max_length_b,
    )
