"""seq2seq: masked GRU sequence-to-sequence models for research (TensorFlow 2, Keras 3, Hydra)."""

from seq2seq.quiet import quiet_by_default

__version__ = "0.1.0"

quiet_by_default()  # TensorFlow's start-up chatter off (SEQ2SEQ_VERBOSE=1 keeps it)
