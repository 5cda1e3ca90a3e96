"""A strings-in/strings-out SavedModel: tokenization, search and detokenization in-graph.

Load it with plain TensorFlow (no import of this package):

    import tensorflow as tf, tensorflow_text  # registers the SentencePiece ops
    translator = tf.saved_model.load("DIR/export")
    out = translator.signatures["serving_default"](tf.constant(["hello", "world"]))
    out["translations"]  # tf.string (B,)
"""

import logging
from pathlib import Path

import tensorflow as tf
import tensorflow_text as tf_text

from seq2seq.config import DecodeConfig
from seq2seq.constants import EOS_ID
from seq2seq.data.preprocessor import Preprocessor
from seq2seq.decoding import search
from seq2seq.layers.masked_gru import plain_tensorflow_ops
from seq2seq.runs.load import LoadedRun

log = logging.getLogger("seq2seq.export")


class Translator(tf.Module):
    """`translate(sentences: tf.string (B,)) -> {"translations": (B,), "scores": (B,)}`."""

    def __init__(self, run: LoadedRun, decode_cfg: DecodeConfig) -> None:
        super().__init__(name="translator")
        self.model = run.model
        # Distinct names: the SentencePiece op's resource is shared by node name, so two
        # unnamed tokenizers in one loaded SavedModel would both get the first model.
        self.source_tokenizer = tf_text.SentencepieceTokenizer(
            model=run.tokenizers.source.model_proto, name="source_sentencepiece"
        )
        self.target_tokenizer = tf_text.SentencepieceTokenizer(
            model=run.tokenizers.target.model_proto, name="target_sentencepiece"
        )
        # Lower-casing and truncation of the run's data config, as in evaluation.
        self.preprocessor = Preprocessor.for_raw_text(run.cfg.data, self.source_tokenizer)
        self.decode_cfg = decode_cfg

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def translate(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        source_ids, mask = self.preprocessor.encode_sources(sentences)  # (B, S) right-padded
        out = search(self.model, source_ids, mask, self.decode_cfg)
        ids, scores = out["ids"][:, 0], out["scores"][:, 0]  # the best of the n-best
        # Output ids stop at eos and are 0 after it; keep the real tokens.
        real = tf.logical_and(ids > 0, tf.cumsum(tf.cast(ids == EOS_ID, tf.int32), axis=1) == 0)
        tokens = tf.ragged.boolean_mask(ids, real)
        translations = self.target_tokenizer.detokenize(tokens)
        empty = tf.equal(tf.strings.length(tf.strings.strip(sentences)), 0)
        translations = tf.where(empty, tf.constant(""), translations)
        return {"translations": translations, "scores": tf.where(empty, 0.0, scores)}


def export_run(run: LoadedRun, decode_cfg: DecodeConfig, out_dir: Path) -> Path:
    """Write the SavedModel to `out_dir` (a new directory; an existing one is refused).

    Only stock TensorFlow and tensorflow-text ops: `model.rnn=fused` layers are traced with
    their plain-TensorFlow recurrence (same numbers as the C++ kernel), and no gradient
    functions are saved (`tf.custom_gradient`s would otherwise bring theirs along)."""
    translator = Translator(run, decode_cfg)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    with plain_tensorflow_ops():
        serving = translator.translate.get_concrete_function()
        tf.saved_model.save(
            translator,
            str(tmp),
            signatures={"serving_default": serving},
            options=tf.saved_model.SaveOptions(experimental_custom_gradients=False),
        )
    tmp.rename(out_dir)
    log.info("exported %s", out_dir)
    return out_dir
