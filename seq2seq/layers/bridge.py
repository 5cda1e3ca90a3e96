"""Bridge: encoder final states -> decoder initial states."""

import keras
from keras import ops

from seq2seq.errors import ConfigError

BRIDGE_TYPES = ("copy", "dense", "zero")


@keras.saving.register_keras_serializable(package="seq2seq")
class Bridge(keras.layers.Layer):
    """Maps the L_enc encoder final states to the L_dec decoder initial states.

    Args:
        mode: "copy": the top L_dec encoder states unchanged (needs H_enc == H_dec and
                L_enc >= L_dec, else ConfigError);
              "dense": tanh(W [s_1; ...; s_Lenc] + b) split into L_dec states;
              "zero": zeros.
        num_layers: L_dec, the number of decoder GRU layers.
        units: H_dec, the decoder GRU size.

    Call args:
        encoder_states: sequence of L_enc tensors (B, H_enc).

    Returns:
        tuple of L_dec tensors (B, H_dec).
    """

    def __init__(self, mode, num_layers, units, **kwargs):
        super().__init__(**kwargs)
        if mode not in BRIDGE_TYPES:
            raise ValueError(f"bridge mode must be one of {BRIDGE_TYPES}, got {mode!r}")
        self.mode = mode
        self.num_layers = num_layers
        self.units = units
        self.dense = None
        if mode == "dense":
            self.dense = keras.layers.Dense(num_layers * units, activation="tanh", name="dense")

    def build(self, encoder_states_shape):
        shapes = list(encoder_states_shape)
        encoder_units = shapes[0][-1]
        if self.mode == "copy":
            if encoder_units != self.units:
                raise ConfigError(
                    f"bridge=copy needs encoder state size ({encoder_units}) == decoder units "
                    f"({self.units}); use bridge=dense"
                )
            if len(shapes) < self.num_layers:
                raise ConfigError(
                    f"bridge=copy needs encoder layers ({len(shapes)}) >= decoder layers "
                    f"({self.num_layers})"
                )
        if self.dense is not None:
            self.dense.build((None, sum(shape[-1] for shape in shapes)))
        self.built = True

    def call(self, encoder_states):
        states = list(encoder_states)
        if self.mode == "copy":
            return tuple(states[len(states) - self.num_layers :])
        if self.mode == "zero":
            batch = ops.shape(states[0])[0]
            zeros = ops.zeros((batch, self.units), dtype=states[0].dtype)  # (B, H_dec)
            return tuple(zeros for _ in range(self.num_layers))
        flat = self.dense(ops.concatenate(states, axis=-1))  # (B, L_dec * H_dec)
        return tuple(ops.split(flat, self.num_layers, axis=-1))

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "num_layers": self.num_layers, "units": self.units})
        return config
