"""The sequence-to-sequence model and its factory `build_model(cfg, ...)`."""

import dataclasses
import functools
import logging
from pathlib import Path

import keras
import tensorflow as tf

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

    Args: the vocabulary sizes plus the fields of `ModelConfig` (except `name`).
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=128,
        encoder_units=256,
        encoder_layers=2,
        bidirectional=True,
        bidirectional_merge="concat",
        decoder="luong",
        decoder_units=256,
        decoder_layers=1,
        attention="general",
        attention_units=256,
        input_feeding=False,
        bridge="dense",
        tie_embeddings=False,
        dropout=0.1,
        rnn="keras",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._hparams = {
            "source_vocab_size": source_vocab_size,
            "target_vocab_size": target_vocab_size,
            "embedding_dim": embedding_dim,
            "encoder_units": encoder_units,
            "encoder_layers": encoder_layers,
            "bidirectional": bidirectional,
            "bidirectional_merge": bidirectional_merge,
            "decoder": decoder,
            "decoder_units": decoder_units,
            "decoder_layers": decoder_layers,
            "attention": attention,
            "attention_units": attention_units,
            "input_feeding": input_feeding,
            "bridge": bridge,
            "tie_embeddings": tie_embeddings,
            "dropout": dropout,
            "rnn": rnn,
        }
        self.encoder = MaskedGRUEncoder(
            source_vocab_size,
            embedding_dim,
            encoder_units,
            num_layers=encoder_layers,
            bidirectional=bidirectional,
            merge_mode=bidirectional_merge,
            dropout=dropout,
            rnn=rnn,
            name="encoder",
        )
        self.bridge = Bridge(bridge, decoder_layers, decoder_units, name="bridge")
        self.decoder = self._make_decoder(target_vocab_size)

    def _make_decoder(self, target_vocab_size):
        hp = self._hparams
        common = dict(
            num_layers=hp["decoder_layers"],
            attention=hp["attention"],
            attention_units=hp["attention_units"],
            dropout=hp["dropout"],
            tie_embeddings=hp["tie_embeddings"],
            name="decoder",
        )
        if hp["decoder"] == "luong":
            if hp["input_feeding"]:
                raise ValueError("input_feeding needs decoder='bahdanau'")
            return LuongDecoder(
                target_vocab_size,
                hp["embedding_dim"],
                hp["decoder_units"],
                rnn=hp["rnn"],
                **common,
            )
        if hp["decoder"] == "bahdanau":
            return BahdanauDecoder(
                target_vocab_size,
                hp["embedding_dim"],
                hp["decoder_units"],
                input_feeding=hp["input_feeding"],
                rnn=hp["rnn"],
                **common,
            )
        raise ValueError(f"decoder must be luong or bahdanau, got {hp['decoder']!r}")

    def build(self, x_shape=None):
        """Creates all weights; shapes are data independent, so x_shape may be None."""
        if self.built:
            return
        memory_units = self.encoder.output_units
        self.encoder.build((None, None))
        self.bridge.build([(None, memory_units)] * self._hparams["encoder_layers"])
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
        config = super().get_config()
        config.update(self._hparams)
        return config


def model_kwargs(cfg: ModelConfig) -> dict:
    """The Seq2Seq constructor kwargs of a ModelConfig (all fields but `name`)."""
    kwargs = dataclasses.asdict(cfg)
    kwargs.pop("name")
    return kwargs


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
        model = Seq2Seq(source_vocab_size, target_vocab_size, name=cfg.name, **model_kwargs(cfg))
        model.build()
    finally:
        keras.config.set_dtype_policy(previous)
    return model


@functools.cache
def native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True if a GPU is visible or the CPU has bfloat16 instructions (avx512_bf16, amx_bf16)."""
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:  # not Linux: unknown, do not warn
        return True
    return bool(flags & {"avx512_bf16", "amx_bf16"})


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
