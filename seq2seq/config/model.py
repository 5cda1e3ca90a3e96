"""Schema of the `model` config group."""

from dataclasses import dataclass

from seq2seq.config.checks import check_choice
from seq2seq.config.hardware import AUTO
from seq2seq.errors import ConfigError


@dataclass
class ModelConfig:
    """The model's settings. No field has a default: each conf/model/*.yaml lists every field,
    and is the one place where a model's values live (tests/test_configs.py checks that each
    composes to exactly these fields)."""

    name: str
    embedding_dim: int  # source and target embedding size
    # Encoder: GRU stack over source embeddings (units per direction).
    encoder_units: int
    encoder_layers: int
    bidirectional: bool
    # How the two directions' outputs (and final states) are merged: concat | sum.
    bidirectional_merge: str
    # Decoder: luong (GRU over the whole target, then batched attention; fast)
    #          bahdanau (attention from the previous state at each step; step loop).
    decoder: str
    decoder_units: int
    decoder_layers: int
    # Attention: dot | general (Luong) | additive (Bahdanau).
    attention: str
    attention_units: int  # additive attention hidden size
    input_feeding: bool  # bahdanau decoder only
    # Decoder initial state from the encoder final states: copy | dense | zero.
    # copy: the top `decoder_layers` encoder states, needs memory_units == decoder_units.
    bridge: str
    tie_embeddings: bool  # output projection = target embedding^T (projected if needed)
    dropout: float  # on embeddings, between GRU layers and before the output layer
    # GRU implementation of the encoder and the decoder (same weights, checkpoints load either
    # way): keras (keras.layers.GRU; cuDNN on a GPU) | fused (input projections of all steps in
    # one matmul, a C++ recurrence with a hand-written backward pass; faster on the CPU; the
    # Bahdanau decoder's fused loop covers additive attention only) | auto (fused where its
    # kernel loaded and training runs on the CPU, keras on a GPU: seq2seq/config/hardware.py;
    # resolved when training starts and recorded in run_config.yaml).
    rnn: str

    @property
    def memory_units(self) -> int:
        """Size of the encoder outputs (memory) and of each encoder final state."""
        both = self.bidirectional and self.bidirectional_merge == "concat"
        return self.encoder_units * (2 if both else 1)

    def fused_bahdanau_falls_back(self) -> bool:
        """rnn=fused with the Bahdanau decoder and an attention its fused loop does not cover
        (only additive): that decoder runs the Keras step loop."""
        return self.rnn == "fused" and self.decoder == "bahdanau" and self.attention != "additive"

    def __post_init__(self) -> None:
        self._check_choices()
        self._check_sizes()
        if self.input_feeding and self.decoder != "bahdanau":
            raise ConfigError("model.input_feeding needs model.decoder=bahdanau")

    def _check_choices(self) -> None:
        choices = {
            "decoder": ("luong", "bahdanau"),
            "attention": ("dot", "general", "additive"),
            "bridge": ("copy", "dense", "zero"),
            "bidirectional_merge": ("concat", "sum"),
            "rnn": ("keras", "fused", AUTO),
        }
        for key, allowed in choices.items():
            check_choice(f"model.{key}", getattr(self, key), allowed)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")

    def _check_sizes(self) -> None:
        for key in (
            "embedding_dim",
            "encoder_units",
            "encoder_layers",
            "decoder_units",
            "decoder_layers",
            "attention_units",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"model.{key} must be >= 1, got {getattr(self, key)}")
        if self.attention == "dot" and self.decoder_units != self.memory_units:
            raise ConfigError(
                f"model.attention=dot needs model.decoder_units ({self.decoder_units}) == encoder "
                f"memory size ({self.memory_units}); use attention=general or change the sizes"
            )
        if self.bridge == "copy":
            if self.decoder_units != self.memory_units:
                raise ConfigError(
                    f"model.bridge=copy needs model.decoder_units ({self.decoder_units}) == "
                    f"encoder state size ({self.memory_units}); "
                    "use bridge=dense or change the sizes"
                )
            if self.decoder_layers > self.encoder_layers:
                raise ConfigError(
                    f"model.bridge=copy needs model.decoder_layers ({self.decoder_layers}) <= "
                    f"model.encoder_layers ({self.encoder_layers})"
                )
