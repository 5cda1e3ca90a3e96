"""seq2seq: masked GRU sequence-to-sequence models for research (TensorFlow 2, Keras 3, Hydra)."""

__version__ = "0.1.0"
