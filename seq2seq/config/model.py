"""Schema of the `model` config group."""

from dataclasses import dataclass

from seq2seq.config.checks import check_choice
from seq2seq.errors import ConfigError


@dataclass
class ModelConfig:
    name: str = "gru_luong"
    embedding_dim: int = 128  # source and target embedding size
    # Encoder: GRU stack over source embeddings (units per direction).
    encoder_units: int = 256
    encoder_layers: int = 2
    bidirectional: bool = True
    # How the two directions' outputs (and final states) are merged: concat | sum.
    bidirectional_merge: str = "concat"
    # Decoder: luong (GRU over the whole target, then batched attention; fast)
    #          bahdanau (attention from the previous state at each step; step loop).
    decoder: str = "luong"
    decoder_units: int = 256
    decoder_layers: int = 1
    # Attention: dot | general (Luong) | additive (Bahdanau).
    attention: str = "general"
    attention_units: int = 256  # additive attention hidden size
    input_feeding: bool = False  # bahdanau decoder only
    # Decoder initial state from the encoder final states: copy | dense | zero.
    # copy: the top `decoder_layers` encoder states, needs memory_units == decoder_units.
    bridge: str = "dense"
    tie_embeddings: bool = False  # output projection = target embedding^T (projected if needed)
    dropout: float = 0.1  # on embeddings, between GRU layers and before the output layer
    # GRU implementation of the encoder, the Luong decoder and the Bahdanau decoder's
    # teacher-forced loop with additive attention (same weights, checkpoints load either way):
    # keras (keras.layers.GRU / keras.ops.scan; cuDNN on a GPU) | fused (MaskedGRU and
    # bahdanau_recurrence: hand-written backward passes; faster on the CPU).
    rnn: str = "keras"

    @property
    def memory_units(self) -> int:
        """Size of the encoder outputs (memory) and of each encoder final state."""
        both = self.bidirectional and self.bidirectional_merge == "concat"
        return self.encoder_units * (2 if both else 1)

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
            "rnn": ("keras", "fused"),
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
