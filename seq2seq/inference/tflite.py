"""A strings-in/strings-out LiteRT (TFLite) model: tokenization, search and detokenization in
one `.tflite` file, for on-device use (docs/export-litert.md).

The graph is the SavedModel's (`seq2seq.inference.export`) with tensorflow-text's
`FastSentencepieceTokenizer` in place of `SentencepieceTokenizer` (the fast one is a LiteRT
custom op, `TFText>FastSentencepieceTokenize` / `...Detokenize`) and ragged tensors replaced by
dense ops that have LiteRT builtins. Run it with the tensorflow-text ops registered:

    import numpy as np
    import tensorflow_text as tf_text
    from ai_edge_litert.interpreter import InterpreterWithCustomOps
    interp = InterpreterWithCustomOps(
        custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS, model_path=PATH)
    out = interp.get_signature_runner()(sentences=np.array([b"hello"]))
    out["translations"]  # bytes (B,)
"""

import logging
import tempfile
from pathlib import Path

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from seq2seq.config import DecodeConfig
from seq2seq.constants import EOS_ID, PAD_ID
from seq2seq.decoding import search
from seq2seq.errors import ConfigError
from seq2seq.files import atomic_write_bytes
from seq2seq.layers.masked_gru import plain_tensorflow_ops
from seq2seq.runs.load import LoadedRun

log = logging.getLogger("seq2seq.export")
# The custom ops a file may hold: tensorflow-text's, registered by its LiteRT op resolver.
TFTEXT_OPS = ("TFText>FastSentencepieceTokenize", "TFText>FastSentencepieceDetokenize")
SIGNATURE = "serving_default"


def dense_sources(pieces: tf.RaggedTensor, max_length: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Ragged piece ids (B, None) -> source_ids int32 (B, S) = the first `max_length - 1` pieces
    of each row, then EOS, right-padded with PAD; and source_padding_mask bool (B, S).

    The same ids as `Preprocessor.encode_sources`, with builtin ops only (no ragged slicing)."""
    starts, lengths = pieces.row_splits[:-1], pieces.row_lengths()
    lengths = tf.minimum(tf.cast(lengths, tf.int32), max_length - 1)  # (B,)
    width = tf.maximum(tf.reduce_max(lengths), 0) + 1  # S: longest row + EOS (B = 0: 1)
    positions = tf.range(width)[None, :]  # (1, S)
    index = tf.cast(starts, tf.int32)[:, None] + positions  # (B, S)
    is_piece = positions < lengths[:, None]
    # Gather from the pieces plus one PAD (index `total`): every index is in range, also when
    # there are no pieces at all.
    values = tf.concat([pieces.values, tf.fill([1], PAD_ID)], axis=0)
    total = tf.shape(pieces.values)[0]
    source_ids = tf.gather(values, tf.where(is_piece, index, total))
    source_ids = tf.where(positions == lengths[:, None], EOS_ID, source_ids)
    return source_ids, source_ids != PAD_ID


def ragged_outputs(ids: tf.Tensor, keep: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Output ids int32 (B, L) -> (values, row_splits) of the real tokens of each row: before
    EOS, not PAD, and none for rows where `keep` bool (B,) is False."""
    before_eos = tf.cumsum(tf.cast(ids == EOS_ID, tf.int32), axis=1) == 0
    real = (ids != PAD_ID) & before_eos & keep[:, None]  # (B, L)
    counts = tf.reduce_sum(tf.cast(real, tf.int32), axis=1)  # (B,)
    row_splits = tf.concat([tf.zeros([1], tf.int32), tf.cumsum(counts)], axis=0)
    return tf.boolean_mask(ids, real), row_splits


class LiteTranslator(tf.Module):
    """`translate(sentences: tf.string (B,)) -> {"translations": (B,), "scores": (B,)}`, as
    the SavedModel's, built from ops that LiteRT runs."""

    def __init__(self, run: LoadedRun, decode_cfg: DecodeConfig, batch_size: int = 1) -> None:
        super().__init__(name="lite_translator")
        if run.cfg.data.lowercase:
            raise ConfigError(
                "format=tflite: data.lowercase=true needs tf.strings.lower, which LiteRT has no "
                "builtin for; case-fold in the SentencePiece model (normalization_rule_name: "
                "nmt_nfkc_cf) instead"
            )
        self.model = run.model
        self.source_tokenizer = tf_text.FastSentencepieceTokenizer(
            run.tokenizers.source.model_proto
        )
        self.target_tokenizer = tf_text.FastSentencepieceTokenizer(
            run.tokenizers.target.model_proto
        )
        self.max_source_length = run.cfg.data.max_source_length
        self.decode_cfg = decode_cfg
        self.batch_size = batch_size
        spec = tf.TensorSpec([batch_size], tf.string, name="sentences")
        self.translate = tf.function(self._translate, input_signature=[spec])

    def _translate(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        pieces = self.source_tokenizer.tokenize(sentences)  # int32 ragged (B, None)
        pieces.row_splits.set_shape([self.batch_size + 1])  # the custom op's shape is unknown
        source_ids, mask = dense_sources(pieces, self.max_source_length)
        out = search(self.model, source_ids, mask, self.decode_cfg)
        ids, scores = out["ids"][:, 0], out["scores"][:, 0]  # the best of the n-best
        # A sentence without pieces (blank) gets "" and score 0, as in the SavedModel.
        nonempty = pieces.row_lengths() > 0
        values, row_splits = ragged_outputs(ids, nonempty)
        translations = self.target_tokenizer.detokenize(
            tf.RaggedTensor.from_row_splits(values, row_splits, validate=False)
        )
        return {"translations": translations, "scores": tf.where(nonempty, scores, 0.0)}


def convert(translator: LiteTranslator) -> bytes:
    """The `.tflite` flatbuffer of `translator.translate` (LiteRT builtins plus the
    tensorflow-text custom ops)."""
    with plain_tensorflow_ops():  # stock ops, not the fused GRU kernel's
        concrete = translator.translate.get_concrete_function()
    # The weights as constants: left as resource variables, those read inside the search
    # loop came out unassigned (READ_VARIABLE failed in the interpreter).
    frozen = convert_variables_to_constants_v2(concrete)

    @tf.function(input_signature=concrete.structured_input_signature[0])
    def serving_default(sentences):  # the output names, which freezing drops
        return tf.nest.pack_sequence_as(concrete.structured_outputs, frozen(sentences))

    # Converted from a SavedModel saved here without gradient functions: the plain-TensorFlow
    # GRU's custom gradient cannot be saved, and `from_concrete_functions` then silently falls
    # back to a path that writes no signature (`get_signature_runner()` fails on the file).
    with tempfile.TemporaryDirectory() as saved:
        tf.saved_model.save(
            tf.Module(),
            saved,
            signatures={SIGNATURE: serving_default.get_concrete_function()},
            options=tf.saved_model.SaveOptions(experimental_custom_gradients=False),
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.allow_custom_ops = True  # the tensorflow-text ops; any other is refused below
        flatbuffer = converter.convert()
    if signatures(flatbuffer) != [SIGNATURE]:
        raise RuntimeError(
            f"format=tflite: the converter wrote signatures {signatures(flatbuffer)}, "
            f"not [{SIGNATURE!r}]"
        )
    unsupported = sorted(set(custom_ops(flatbuffer)) - set(TFTEXT_OPS))
    if unsupported:
        raise ConfigError(
            f"format=tflite: the converted graph needs ops that LiteRT has no kernel for: "
            f"{', '.join(unsupported)} (docs/export-litert.md)"
        )
    return flatbuffer


def signatures(flatbuffer: bytes) -> list[str]:
    """The signature keys of a `.tflite` flatbuffer."""
    model = schema.Model.GetRootAs(flatbuffer, 0)
    return [
        model.SignatureDefs(i).SignatureKey().decode() for i in range(model.SignatureDefsLength())
    ]


def custom_ops(flatbuffer: bytes) -> list[str]:
    """The custom (non-builtin) op names of a `.tflite` flatbuffer."""
    model = schema.Model.GetRootAs(flatbuffer, 0)
    codes = (model.OperatorCodes(i).CustomCode() for i in range(model.OperatorCodesLength()))
    return [code.decode() for code in codes if code]


def export_tflite(
    run: LoadedRun, decode_cfg: DecodeConfig, out_path: Path, batch_size: int = 1
) -> Path:
    """Write the `.tflite` file to `out_path` (a new file)."""
    atomic_write_bytes(out_path, convert(LiteTranslator(run, decode_cfg, batch_size)))
    log.info("exported %s (%d bytes)", out_path, out_path.stat().st_size)
    return out_path
