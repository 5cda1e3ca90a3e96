"""Keras layers of the seq2seq model; each takes plain typed kwargs and serializes."""

from seq2seq.layers.attention import (
    ATTENTION_TYPES,
    AttentionBase,
    BahdanauAttention,
    LuongAttention,
    make_attention,
    masked_softmax,
)
from seq2seq.layers.attention_base import Memory
from seq2seq.layers.bahdanau_decoder import BahdanauDecoder
from seq2seq.layers.bridge import BRIDGE_TYPES, Bridge
from seq2seq.layers.decoder_base import DecoderBase
from seq2seq.layers.encoder import MaskedGRUEncoder
from seq2seq.layers.luong_decoder import LuongDecoder
from seq2seq.layers.masked_gru import MaskedBiGRU, MaskedGRU

__all__ = [
    "ATTENTION_TYPES",
    "AttentionBase",
    "BahdanauAttention",
    "BahdanauDecoder",
    "BRIDGE_TYPES",
    "Bridge",
    "DecoderBase",
    "LuongAttention",
    "LuongDecoder",
    "MaskedBiGRU",
    "Memory",
    "MaskedGRU",
    "MaskedGRUEncoder",
    "make_attention",
    "masked_softmax",
]
