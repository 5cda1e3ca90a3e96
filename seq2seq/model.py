"""The sequence-to-sequence model and its factory `build_model(cfg, ...)`."""

import dataclasses
import functools
import logging
from pathlib import Path

import keras
import tensorflow as tf

from seq2seq.config.hardware import Hardware, read_cpu_flags
from seq2seq.config.model import ModelConfig
from seq2seq.constants import BATCH_KEYS, EOS_ID
from seq2seq.layers.bahdanau_decoder import BahdanauDecoder
from seq2seq.layers.bridge import Bridge
from seq2seq.layers.encoder import MaskedGRUEncoder
from seq2seq.layers.luong_decoder import LuongDecoder

log = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package="seq2seq")
class Seq2Seq(keras.Model):
    """Masked GRU encoder -> bridge -> attentional GRU decoder (luong | bahdanau).

    Padding never changes a sequence's results: every recurrence gets its padding mask, the
    attention gives padded source positions exactly zero weight, and padded target steps only
    produce logits that the loss must mask (see `seq2seq.training.losses`).

    Training (teacher forcing):
        call(x, training=False) -> logits (B, T, V_tgt) float
            x: dict with "source_ids" int32 (B, S), "source_padding_mask" bool (B, S),
               "target_in_ids" int32 (B, T), "target_padding_mask" bool (B, T); other keys
               (e.g. "example_index") are ignored. Logits at padded target steps are garbage.
        teacher_force(x, training=False) -> (logits (B, T, V_tgt), attention (B, T, S))

    Search interface (greedy/beam search):
        encode(source_ids, source_padding_mask, training=False) -> (memory, state)
            memory: `Memory(values, keys)`: values (B, S, H_mem), zero at padded positions,
               and the attention keys (B, S, K), computed once here and not per step; a nest
               with batch first (tile/gather it with tf.nest.map_structure).
            state: flat tuple of tensors, each with leading batch dim B (tile/gather it with
               tf.nest.map_structure): (h_layer1, ..., h_layerL) each (B, H_dec), plus the
               previous attentional vector (B, H_dec) last for bahdanau + input_feeding.
        decode_step(prev_ids, state, memory, memory_padding_mask, training=False)
            -> (logits (B, V_tgt), new_state (same structure as state), attention (B, S))
            prev_ids: int32 (B,), the previous target token (BOS at the first step).
        Stepping decode_step from encode's state over target_in_ids reproduces call()'s
        logits at real positions. Both work in tf.function with None dims.

    Args: the vocabulary sizes and a `ModelConfig` (its `name` is the Keras model's name;
    `rnn` must be keras or fused: `auto` is resolved before, when training starts).
    """

    def __init__(self, source_vocab_size, target_vocab_size, config: ModelConfig, **kwargs):
        kwargs.setdefault("name", config.name)
        super().__init__(**kwargs)
        if config.rnn not in ("keras", "fused"):
            raise ValueError(
                f"model.rnn={config.rnn!r}: resolve auto first "
                "(seq2seq.config.hardware.resolve_auto, done when training starts)"
            )
        self.source_vocab_size, self.target_vocab_size = source_vocab_size, target_vocab_size
        self.model_config = config
        self.encoder = MaskedGRUEncoder(
            source_vocab_size,
            config.embedding_dim,
            config.encoder_units,
            num_layers=config.encoder_layers,
            bidirectional=config.bidirectional,
            merge_mode=config.bidirectional_merge,
            dropout=config.dropout,
            rnn=config.rnn,
            name="encoder",
        )
        self.bridge = Bridge(
            config.bridge, config.decoder_layers, config.decoder_units, name="bridge"
        )
        self.decoder = self._make_decoder(target_vocab_size)

    def _make_decoder(self, target_vocab_size):
        c = self.model_config
        common = dict(
            num_layers=c.decoder_layers,
            attention=c.attention,
            attention_units=c.attention_units,
            dropout=c.dropout,
            tie_embeddings=c.tie_embeddings,
            rnn=c.rnn,
            name="decoder",
        )
        if c.decoder == "luong":
            return LuongDecoder(target_vocab_size, c.embedding_dim, c.decoder_units, **common)
        if c.fused_bahdanau_falls_back():
            log.warning(
                "model.rnn=fused: the Bahdanau decoder's fused loop covers additive attention "
                "only; with attention=%s the decoder runs the Keras step loop (the encoder "
                "stays fused)",
                c.attention,
            )
        return BahdanauDecoder(
            target_vocab_size,
            c.embedding_dim,
            c.decoder_units,
            input_feeding=c.input_feeding,
            **common,
        )

    def build(self, x_shape=None):
        """Creates all weights; shapes are data independent, so x_shape may be None."""
        if self.built:
            return
        memory_units = self.encoder.output_units
        self.encoder.build((None, None))
        self.bridge.build([(None, memory_units)] * self.model_config.encoder_layers)
        self.decoder.build((None, None), None, (None, None, memory_units))
        self.built = True

    def encode(self, source_ids, source_padding_mask, training=False):
        """int32 (B, S), bool (B, S) -> `Memory` (values (B, S, H_mem) and attention keys),
        initial decoder state."""
        values, state = self._encode_values(source_ids, source_padding_mask, training)
        return self.decoder.memory(values), state

    def _encode_values(self, source_ids, source_padding_mask, training):
        """-> encoder outputs (B, S, H_mem), initial decoder state."""
        values, encoder_states = self.encoder(source_ids, source_padding_mask, training=training)
        return values, tuple(self.decoder.initial_state(self.bridge(encoder_states)))

    def decode_step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        """int32 (B,), state, Memory, bool (B, S) -> logits (B, V), new state, (B, S)."""
        logits, new_state, attention = self.decoder.step(
            prev_ids, tuple(state), memory, memory_padding_mask, training=training
        )
        return logits, tuple(new_state), attention

    def teacher_force(self, x, training=False, positions=None):
        """Batch dict -> logits (B, T, V_tgt), attention weights (B, T, S); with `positions`
        int64 (N, 2), logits (N, V_tgt) at those target positions only."""
        values, state = self._encode_values(x["source_ids"], x["source_padding_mask"], training)
        return self.decoder(
            x["target_in_ids"],
            x["target_padding_mask"],
            state,
            values,
            x["source_padding_mask"],
            training=training,
            positions=positions,
        )

    def real_token_logits(self, x, training=False):
        """Batch dict -> logits (N, V_tgt) at the N real target positions, and those positions
        int64 (N, 2) (row-major, `tf.where` of the target mask). What the losses need: no
        logits, softmax or scatter at padded positions."""
        positions = tf.where(tf.cast(x["target_padding_mask"], tf.bool))  # (N, 2)
        logits, _ = self.teacher_force(x, training=training, positions=positions)
        return logits, positions

    def call(self, x, training=False):
        logits, _ = self.teacher_force(x, training=training)
        return logits

    def get_config(self):
        """Keras' config plus the vocabulary sizes and every ModelConfig field but `name` (the
        Keras name)."""
        config = super().get_config()
        fields = dataclasses.asdict(self.model_config)
        del fields["name"]
        config.update(
            source_vocab_size=self.source_vocab_size,
            target_vocab_size=self.target_vocab_size,
            **fields,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        names = [f.name for f in dataclasses.fields(ModelConfig) if f.name != "name"]
        model_config = ModelConfig(name=config["name"], **{k: config.pop(k) for k in names})
        sizes = config.pop("source_vocab_size"), config.pop("target_vocab_size")
        return cls(*sizes, model_config, **config)


def build_model(
    cfg: ModelConfig, source_vocab_size: int, target_vocab_size: int, precision: str = "float32"
) -> Seq2Seq:
    """A built (all weights created) Seq2Seq for `cfg`; a dict-like cfg is validated first.

    `precision` is the Keras dtype policy of every layer (`train.precision`): with
    "mixed_bfloat16" the weights are float32 and layers compute in bfloat16; logits are then
    bfloat16 and the loss casts them to float32.
    """
    if not isinstance(cfg, ModelConfig):
        cfg = ModelConfig(**dict(cfg))
    if precision == "mixed_bfloat16" and not native_bfloat16():
        log.warning(
            "precision mixed_bfloat16: no GPU and no avx512_bf16/amx_bf16 CPU flag, so bfloat16 "
            "is emulated here and float32 is likely faster"
        )
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)  # read by each layer when it is created
    try:
        model = Seq2Seq(source_vocab_size, target_vocab_size, cfg)
        model.build()
    finally:
        keras.config.set_dtype_policy(previous)
    return model


@functools.cache
def native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True if a GPU is visible or the CPU has bfloat16 instructions (avx512_bf16, amx_bf16);
    True where the CPU flags cannot be read (not Linux: unknown, do not warn)."""
    if tf.config.list_physical_devices("GPU"):
        return True
    flags = read_cpu_flags(cpuinfo)
    return flags is None or Hardware(cpu_flags=flags).native_bfloat16


def build_variables(model: Seq2Seq) -> None:
    """Run the model once on a one-sentence batch, so every layer has traced its variables.
    Two source tokens: a softmax over one memory position makes Keras warn."""
    source = keras.ops.convert_to_tensor([[EOS_ID, EOS_ID]], "int32")
    target = keras.ops.convert_to_tensor([[EOS_ID]], "int32")
    batch = (
        source,
        keras.ops.ones_like(source, "bool"),
        target,
        keras.ops.ones_like(target, "bool"),
    )
    model(dict(zip(BATCH_KEYS, batch)), training=False)
