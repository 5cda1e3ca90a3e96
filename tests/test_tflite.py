"""The LiteRT export (`seq2seq-export format=tflite`, seq2seq/inference/tflite.py): the fast
SentencePiece tokenizer against the one training uses, the dense source ids against the
preprocessor's, and the exported `.tflite` file run by the `ai-edge-litert` interpreter against
`seq2seq-translate` (the SavedModel's search)."""

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from seq2seq.config import DecodeConfig, ExportRunConfig, SideTokenizerConfig
from seq2seq.constants import UNK_ID
from seq2seq.data.preprocessor import Preprocessor
from seq2seq.errors import ConfigError
from seq2seq.inference.tflite import TFTEXT_OPS, custom_ops, dense_sources
from seq2seq.inference.translate import translate_lines
from seq2seq.runs.load import load_run
from tests.cli_helpers import LINES, check_outputs, run_verb, verb_config
from tests.run_helpers import rewrite_model_config

# Inputs without leading whitespace: upper case and compatibility forms (case-folded and
# NFKC-normalized by the G2P source model), unknown letters, inner and trailing whitespace.
TEXTS = [
    "abc",
    "ABC",
    "Hgfe",
    "ａｂｃ",
    "ﬁ",
    "a b",
    "a\tb  c",
    "dd  ",
    "#a",
    "x",
    "",
    "   ",
    "ÉCOLE",
]


@pytest.fixture(scope="module")
def g2p_like_tokenizers(toy_corpus, toy_tokenizer_config):
    """Toy tokenizers with the G2P source settings (conf/tokenizer/g2p.yaml): one piece per
    letter, case-folding normalization, no dummy prefix."""
    from seq2seq.data.tokenizer import train_tokenizers

    source = SideTokenizerConfig(
        model_type="char",
        vocab_size=toy_tokenizer_config.source.vocab_size,
        add_dummy_prefix=False,
        normalization_rule_name="nmt_nfkc_cf",
    )
    return train_tokenizers(replace(toy_tokenizer_config, source=source), toy_corpus)


def test_fast_tokenizer_equals_training_tokenizer_except_leading_whitespace(g2p_like_tokenizers):
    proto = g2p_like_tokenizers.source.model_proto
    slow = tf_text.SentencepieceTokenizer(model=proto, out_type=tf.int32)
    fast = tf_text.FastSentencepieceTokenizer(proto)
    assert fast.tokenize(TEXTS).to_list() == slow.tokenize(TEXTS).to_list()
    assert slow.tokenize(["ABC"]).to_list() == slow.tokenize(["abc"]).to_list()  # case-folded
    # The documented difference (docs/export-litert.md): leading whitespace becomes one unknown
    # piece in the fast tokenizer of a model without a dummy prefix; training's drops it.
    leading = [" abc", "\t abc", "\u3000abc"]
    expected = [[UNK_ID] + ids for ids in slow.tokenize(leading).to_list()]
    assert fast.tokenize(leading).to_list() == expected


def test_fast_detokenizer_equals_training_detokenizer(g2p_like_tokenizers):
    target = g2p_like_tokenizers.target
    ids = tf.ragged.constant([[4, 5, 6], [7], [], [5, 5]], dtype=tf.int32)
    fast = tf_text.FastSentencepieceTokenizer(target.model_proto).detokenize(ids)
    assert fast.numpy().tolist() == target.tf_tokenizer().detokenize(ids).numpy().tolist()


@pytest.mark.parametrize("max_length", [3, 16])
def test_dense_sources_equal_the_preprocessors(g2p_like_tokenizers, max_length):
    tokenizer = g2p_like_tokenizers.source.tf_tokenizer()
    expected = Preprocessor(tokenizer, max_source_length=max_length).encode_sources(TEXTS)
    ids, mask = dense_sources(tokenizer.tokenize(TEXTS), max_length)
    assert ids.numpy().tolist() == expected[0].numpy().tolist()  # truncated, EOS, PAD
    assert mask.numpy().tolist() == expected[1].numpy().tolist()
    empty = dense_sources(tf.ragged.constant([[]], dtype=tf.int32, ragged_rank=1), max_length)
    assert empty[0].numpy().tolist() == [[3]]  # no pieces: EOS only, gathers stay in range


def test_export_config_format_and_default_output():
    cfg = verb_config("export", "run_dir=RUN", "format=tflite")
    assert isinstance(cfg, ExportRunConfig) and cfg.output == "RUN/export.tflite"
    assert verb_config("export", "run_dir=RUN").output == "RUN/export"
    with pytest.raises(ConfigError, match=r"format must be savedmodel or tflite, got .onnx."):
        verb_config("export", "run_dir=RUN", "format=onnx")
    with pytest.raises(ConfigError, match=r"format=tflite needs decode\.precision=float32"):
        verb_config("export", "run_dir=RUN", "format=tflite", "decode.precision=mixed_bfloat16")


def litert_translate(path, lines: list[str]) -> tuple[list[str], list[float]]:
    """`lines` through the .tflite file in the ai-edge-litert interpreter (tensorflow-text ops
    registered), in calls of the file's static batch size."""
    from ai_edge_litert.interpreter import InterpreterWithCustomOps

    interpreter = InterpreterWithCustomOps(
        custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS, model_path=str(path)
    )
    runner = interpreter.get_signature_runner()
    batch = runner.get_input_details()["sentences"]["shape"][0]
    translations, scores = [], []
    for start in range(0, len(lines), batch):
        chunk = lines[start : start + batch]
        out = runner(sentences=np.array([s.encode() for s in chunk + [""] * (batch - len(chunk))]))
        translations += [t.decode("utf-8") for t in out["translations"][: len(chunk)]]
        scores += out["scores"][: len(chunk)].tolist()
    return translations, scores


def export_and_compare(
    run_dir, tmp_path, decode: str, batch_size: int, trained: bool = True
) -> None:
    """The exported file's outputs equal `translate_lines`' (and, for a `trained` run, are
    blank exactly for blank lines)."""
    out = tmp_path / "model.tflite"
    proc = run_verb(
        "export",
        f"run_dir={run_dir}",
        "format=tflite",
        f"decode={decode}",
        f"tflite_batch_size={batch_size}",
        f"output={out}",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(out) and out.stat().st_size > 0
    assert set(custom_ops(out.read_bytes())) == set(TFTEXT_OPS)  # no TensorFlow op left
    translations, scores = litert_translate(out, LINES + [line.upper() for line in LINES])
    if trained:
        check_outputs(translations[: len(LINES)])
    assert translations[len(LINES) :] == translations[: len(LINES)]  # case-folded in the model
    cfg = verb_config("translate", f"run_dir={run_dir}", f"decode={decode}").decode
    expected = translate_lines(load_run(run_dir), LINES, cfg)
    assert translations[: len(LINES)] == [nbest[0].text for nbest in expected]
    assert scores[: len(LINES)] == pytest.approx([nbest[0].score for nbest in expected], abs=1e-4)


def test_tflite_greedy_export_runs_in_litert_like_translate(smoke_run_copy, tmp_path):
    # A static batch of 3: LINES (8, twice) take 6 calls, the last one padded with blank lines.
    # A copy of the run: the export logs under its run directory.
    export_and_compare(smoke_run_copy, tmp_path, "greedy", 3)


@pytest.mark.slow
def test_tflite_beam_export_runs_in_litert_like_translate(smoke_run_copy, tmp_path):
    export_and_compare(smoke_run_copy, tmp_path, "beam5", 1)


def test_tflite_beam_export_of_the_bahdanau_decoder_runs_in_litert(smoke_run_copy, tmp_path):
    """Beam search over the default model's decoder (additive attention, tiny sizes, random
    weights): its step once left a strided slice that LiteRT has no builtin for."""
    rewrite_model_config(smoke_run_copy, "gru_bahdanau", "fused")
    export_and_compare(smoke_run_copy, tmp_path, "beam5", 2, trained=False)


def test_tflite_export_refuses_lowercase_in_data_config(smoke_run_copy):
    run = load_run(smoke_run_copy)
    run.cfg.data.lowercase = True
    from seq2seq.inference.tflite import LiteTranslator

    with pytest.raises(ConfigError, match=r"data\.lowercase=true needs tf\.strings\.lower"):
        LiteTranslator(run, DecodeConfig())
