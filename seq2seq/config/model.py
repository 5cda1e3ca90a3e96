"""Schema of the `model` config group."""

from dataclasses import dataclass

from seq2seq.errors import ConfigError


@dataclass
class ModelConfig:
    name: str = "gru_luong"
    embedding_dim: int = 128
    # Encoder: GRU stack over source embeddings.
    encoder_units: int = 256
    encoder_layers: int = 2
    bidirectional: bool = True
    # How the two directions' outputs are merged: concat | sum.
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
    # Decoder initial state from the encoder final state: copy | dense | zero.
    bridge: str = "dense"
    tie_embeddings: bool = False
    dropout: float = 0.1

    def __post_init__(self) -> None:
        choices = {
            "decoder": ("luong", "bahdanau"),
            "attention": ("dot", "general", "additive"),
            "bridge": ("copy", "dense", "zero"),
            "bidirectional_merge": ("concat", "sum"),
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"model.{key} must be one of {allowed}, got {getattr(self, key)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if self.encoder_layers < 1 or self.decoder_layers < 1:
            raise ConfigError("model.encoder_layers and model.decoder_layers must be >= 1")
        if self.input_feeding and self.decoder != "bahdanau":
            raise ConfigError("model.input_feeding needs model.decoder=bahdanau")
