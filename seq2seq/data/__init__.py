"""Data: corpora (`corpora`), SentencePiece tokenizers (`tokenizer`), the tf.data pipeline
(`pipeline`, `bucketing`) and padding statistics (`stats`).

Import from the submodules; this package imports nothing, so reading corpora does not load
TensorFlow.
"""
