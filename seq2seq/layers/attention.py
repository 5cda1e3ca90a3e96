"""Attention layers by name: `make_attention("dot" | "general" | "additive", units)`."""

from seq2seq.layers.attention_base import AttentionBase, masked_softmax
from seq2seq.layers.bahdanau_attention import BahdanauAttention
from seq2seq.layers.luong_attention import LuongAttention

ATTENTION_TYPES = ("dot", "general", "additive")

__all__ = [
    "ATTENTION_TYPES",
    "AttentionBase",
    "BahdanauAttention",
    "LuongAttention",
    "make_attention",
    "masked_softmax",
]


def make_attention(kind, units=None, name="attention"):
    """A new attention layer: dot/general -> LuongAttention, additive -> BahdanauAttention."""
    if kind in ("dot", "general"):
        return LuongAttention(score_mode=kind, name=name)
    if kind == "additive":
        if units is None:
            raise ValueError("additive attention needs units")
        return BahdanauAttention(units, name=name)
    raise ValueError(f"attention must be one of {ATTENTION_TYPES}, got {kind!r}")
