"""Schema of the `decode` config group (search settings)."""

from dataclasses import dataclass

from seq2seq.config.checks import check_choice
from seq2seq.config.train import PRECISIONS
from seq2seq.errors import ConfigError


@dataclass
class DecodeConfig:
    strategy: str = "greedy"  # greedy | beam
    beam_size: int = 1
    n_best: int = 1  # hypotheses returned per sentence by beam search, best first
    # Score = log-prob / penalty(|Y|), |Y| = output tokens including EOS.
    # gnmt: ((5 + |Y|) / 6) ** alpha (alpha=0 disables it); average: |Y|; none: 1.
    length_penalty: str = "gnmt"  # gnmt | average | none
    alpha: float = 0.6
    # beam: end a sentence once its n_best hypotheses can no longer change (the same output as
    # searching until every beam is finished; seq2seq.decoding.beam).
    early_stopping: bool = True
    # Max output tokens (EOS included) = max(1, floor(max_length_a * source_length + max_length_b)),
    # source_length counting the source EOS.
    max_length_a: float = 2.0
    max_length_b: int = 10
    batch_size: int = 256  # sentences per search batch (conf/decode/*.yaml: per strategy)
    # Compute precision of the search (float32 | mixed_bfloat16): the run's float32 weights are
    # loaded into a model built with this Keras dtype policy (with model.rnn=keras, which loads
    # the same weights); log-probabilities and scores stay float32.
    precision: str = "float32"

    def __post_init__(self) -> None:
        if self.strategy not in ("greedy", "beam"):
            raise ConfigError(f"decode.strategy must be greedy or beam, got {self.strategy!r}")
        if self.length_penalty not in ("gnmt", "average", "none"):
            raise ConfigError(
                f"decode.length_penalty must be gnmt, average or none, got {self.length_penalty!r}"
            )
        if self.beam_size < 1 or self.n_best < 1 or self.batch_size < 1:
            raise ConfigError("decode.beam_size, decode.n_best and decode.batch_size must be >= 1")
        if self.n_best > self.beam_size:
            raise ConfigError(
                f"decode.n_best ({self.n_best}) must be <= decode.beam_size ({self.beam_size})"
            )
        if self.strategy == "greedy" and self.beam_size != 1:
            raise ConfigError("decode.strategy=greedy needs decode.beam_size=1")
        check_choice("decode.precision", self.precision, PRECISIONS)
        if self.alpha < 0 or self.max_length_a < 0:
            raise ConfigError("decode.alpha and decode.max_length_a must be >= 0")
