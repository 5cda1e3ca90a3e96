"""Using a trained run: translate (function and CLI), evaluate, export, attention, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seq2seq.config import DecodeConfig
from seq2seq.errors import DataError, RunDirError
from seq2seq.inference.evaluate import evaluate_run
from seq2seq.inference.export import export_run
from seq2seq.inference.translate import read_lines, translate_lines
from seq2seq.runs.load import load_run

BIN = Path(sys.executable).parent
LINES = ["abc", "", "hgfedcba", "   ", "aab", "dd"]


@pytest.fixture(scope="module")
def run(smoke_run):
    return load_run(smoke_run[1])


def test_translate_keeps_order_and_empty_lines(run):
    results = translate_lines(run, LINES, DecodeConfig())
    assert len(results) == len(LINES)
    assert results[1][0].text == "" and results[3][0].text == ""
    alone = [translate_lines(run, [line], DecodeConfig())[0][0].text for line in LINES]
    assert [r[0].text for r in results] == alone  # batching does not change outputs


def test_translate_n_best(run):
    cfg = DecodeConfig(strategy="beam", beam_size=3, n_best=3)
    results = translate_lines(run, ["abc", "hg"], cfg)
    for nbest in results:
        scores = [h.score for h in nbest]
        assert len(nbest) == 3 and scores == sorted(scores, reverse=True)


def test_over_long_input_truncated_or_rejected(run, caplog):
    long_line = "ab" * 40
    assert len(translate_lines(run, [long_line], DecodeConfig())) == 1
    assert "truncated" in caplog.text
    with pytest.raises(DataError, match=r"lines 2\b"):
        translate_lines(run, ["abc", long_line], DecodeConfig(), long_input="reject")


def test_non_utf8_input_names_the_line(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"abc\nd\xffe\n")
    with open(path, "rb") as f, pytest.raises(DataError, match=r"in.txt, line 2: not UTF-8"):
        read_lines(f, str(path))


def test_evaluate_writes_hypotheses_references_and_metrics(run, tmp_path):
    report = evaluate_run(run, "test", DecodeConfig(), tmp_path, plot_attention=2)
    metrics = report["metrics"]
    assert 0 <= metrics["wer"] <= 100 and 0 <= metrics["per"] and metrics["sentences_per_sec"] > 0
    hyps = (tmp_path / "hypotheses.txt").read_text().splitlines()
    refs = (tmp_path / "references.txt").read_text().splitlines()
    assert len(hyps) == len(refs) == metrics["sentences"] > 0
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics"]["wer"] == metrics["wer"]
    assert (tmp_path / "attention_0.png").stat().st_size > 1000
    assert (tmp_path / "attention_1.png").exists()


def test_missing_checkpoint_and_not_a_run(tmp_path, smoke_run):
    with pytest.raises(RunDirError, match="not a training run directory"):
        load_run(tmp_path)
    (tmp_path / "run_config.yaml").write_text((smoke_run[1] / "run_config.yaml").read_text())
    (tmp_path / "tokenizer").symlink_to(smoke_run[1] / "tokenizer")
    with pytest.raises(RunDirError, match="no checkpoint"):
        load_run(tmp_path)


def test_export_matches_translate_without_importing_seq2seq(run, tmp_path):
    out = export_run(run, DecodeConfig(), tmp_path / "export")
    expected = [r[0].text for r in translate_lines(run, LINES, DecodeConfig())]
    script = (
        "import json, sys, tensorflow as tf, tensorflow_text\n"
        f"f = tf.saved_model.load({str(out)!r}).signatures['serving_default']\n"
        f"out = f(tf.constant({LINES!r}))['translations'].numpy()\n"
        "assert not any(m.startswith('seq2seq') for m in sys.modules)\n"
        "print(json.dumps([s.decode('utf-8') for s in out]))\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == expected


def test_translate_cli_reads_stdin(smoke_run, tmp_path):
    proc = subprocess.run(
        [str(BIN / "seq2seq-translate"), f"run_dir={smoke_run[1]}"],
        input="abc\n\nhg\n",
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(proc.stdout.splitlines()) == 3 and proc.stdout.splitlines()[1] == ""


def test_cli_bad_input_is_one_line_error(tmp_path):
    proc = subprocess.run(
        [str(BIN / "seq2seq-translate"), f"run_dir={tmp_path}"],
        input="abc\n",
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 2
    assert "error: " in proc.stderr and "not a training run directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mismatched_tokenizer_is_a_clear_error(smoke_run, tmp_path):
    import shutil

    from seq2seq.config import SideTokenizerConfig, TokenizerConfig
    from seq2seq.data.corpora import Corpus
    from seq2seq.data.tokenizer import save_tokenizers, train_tokenizers

    copy = tmp_path / "run"
    shutil.copytree(smoke_run[1], copy)
    shutil.rmtree(copy / "tokenizer")
    side = SideTokenizerConfig(model_type="char", vocab_size=9, add_dummy_prefix=False)
    corpus = Corpus(sources=["abcde", "edcba"] * 10, targets=["ABCDE", "EDCBA"] * 10)
    save_tokenizers(
        train_tokenizers(TokenizerConfig(source=side, target=side), corpus), copy / "tokenizer"
    )
    with pytest.raises(RunDirError, match="does not match this model"):
        load_run(copy)


def test_evaluate_cli_prints_json(smoke_run):
    proc = subprocess.run(
        [
            str(BIN / "seq2seq-evaluate"),
            f"run_dir={smoke_run[1]}",
            "decode=beam5",
            "plot_attention=0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["split"] == "test" and report["decode"]["beam_size"] == 5
    assert {"wer", "per", "sentences_per_sec"} <= set(report["metrics"])
