"""Using a trained run through the library: translate, evaluate, attention, bad input.

The verbs' command lines and the export are in test_cli.py. The smoke run is read-only here;
tests that write into a run directory use `smoke_run_copy`.
"""

import json
import shutil

import pytest

from seq2seq.config import DecodeConfig
from seq2seq.data.corpora import Corpus
from seq2seq.decoding import decode_corpus
from seq2seq.decoding.corpus import spread
from seq2seq.errors import DataError, RunDirError
from seq2seq.inference.evaluate import evaluate_run
from seq2seq.inference.translate import read_lines, translate_lines
from seq2seq.runs.load import load_run
from tests.cli_helpers import LINES, check_outputs


@pytest.fixture(scope="module")
def run(smoke_run):
    return load_run(smoke_run.run_dir)


def test_translate_keeps_order_and_empty_lines(run):
    results = translate_lines(run, LINES, DecodeConfig())
    outputs = [r[0].text for r in results]
    check_outputs(outputs)  # empty exactly for blank lines; same-length inputs differ
    alone = [translate_lines(run, [line], DecodeConfig())[0][0] for line in LINES]
    assert outputs == [h.text for h in alone]  # batching does not change outputs
    assert [r[0].score for r in results] == pytest.approx([h.score for h in alone], abs=1e-4)


def test_translate_n_best(run):
    cfg = DecodeConfig(strategy="beam", beam_size=3, n_best=3)
    results = translate_lines(run, ["abc", "hg"], cfg)
    for nbest in results:
        scores = [h.score for h in nbest]
        assert len(nbest) == 3 and scores == sorted(scores, reverse=True)


def test_upper_case_input_reads_like_lower_case(run, caplog):
    """The source model case-folds (tokenizer g2p: nmt_nfkc_cf): `Hello` reads as `hello`."""
    lines = ["abc", "hgfedcba", "bad"]
    lower = [r[0].text for r in translate_lines(run, lines, DecodeConfig())]
    mixed = [r[0].text for r in translate_lines(run, ["ABC", "HgFeDcBa", "Bad"], DecodeConfig())]
    assert mixed == lower and all(lower)
    assert "unknown" not in caplog.text


def test_unknown_pieces_are_reported_or_rejected(run, caplog):
    translate_lines(run, ["abc", "xyz", "ab"], DecodeConfig())
    assert "1 input line(s) have pieces unknown to the model (lines 2)" in caplog.text
    with pytest.raises(DataError, match=r"unknown to the model \(lines 2, 3\); strict=false"):
        translate_lines(run, ["abc", "xa", "qq"], DecodeConfig(), strict=True)


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


def test_evaluate_writes_hypotheses_references_and_metrics(smoke_run_copy, tmp_path):
    run = load_run(smoke_run_copy)  # evaluate_run adds attention images to the run's TensorBoard
    report = evaluate_run(run, "test", DecodeConfig(), tmp_path, plot_attention=2)
    metrics = report["metrics"]
    assert 0 <= metrics["wer"] <= 100 and 0 <= metrics["per"] and metrics["sentences_per_sec"] > 0
    hyps = (tmp_path / "hypotheses.txt").read_text().splitlines()
    refs = (tmp_path / "references.txt").read_text().splitlines()
    assert len(hyps) == len(refs) == metrics["sentences"] > 0
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics"]["wer"] == metrics["wer"]
    assert (tmp_path / "attention_0.png").stat().st_size > 1000
    assert (tmp_path / "attention_1.png").exists()
    assert len(set(hyps)) > 1  # not one output for every input


def test_spread_is_evenly_spaced_with_both_ends():
    assert spread(10, 4) == [0, 3, 6, 9]
    assert spread(5, 1) == [0]
    assert spread(7, 6) == [0, 1, 2, 4, 5, 6]
    assert len(set(spread(1000, 999))) == 999


def test_decode_limit_samples_the_whole_corpus_not_its_head(run):
    # Corpora are often sorted (Tatoeba by length): a limited validation decodes sources spread
    # over the whole split, each with all of its references.
    words = ["ab", "ab", "cat", "dog", "eel", "fig", "gnu", "hen", "ink", "jam", "kite"]
    corpus = Corpus(sources=words, targets=[f"t{i}" for i in range(len(words))], name="valid")
    decoded = decode_corpus(run.model, run.tokenizers, corpus, run.cfg.data, DecodeConfig(), 4)
    assert decoded.sources == ["ab", "eel", "hen", "kite"]  # of 10 distinct: 0, 3, 6, 9
    assert decoded.references[0] == ["t0", "t1"]
    assert len(decoded.hypotheses) == 4


def test_missing_checkpoint_and_not_a_run(tmp_path, smoke_run):
    with pytest.raises(RunDirError, match="not a training run directory"):
        load_run(tmp_path)
    (tmp_path / "run_config.yaml").write_text((smoke_run.run_dir / "run_config.yaml").read_text())
    (tmp_path / "tokenizer").symlink_to(smoke_run.run_dir / "tokenizer")
    with pytest.raises(RunDirError, match="no checkpoint"):
        load_run(tmp_path)


def test_mismatched_tokenizer_is_a_clear_error(smoke_run_copy):
    from seq2seq.config import SideTokenizerConfig, TokenizerConfig
    from seq2seq.data.corpora import Corpus
    from seq2seq.data.tokenizer import save_tokenizers, train_tokenizers

    copy = smoke_run_copy
    shutil.rmtree(copy / "tokenizer")
    side = SideTokenizerConfig(model_type="char", vocab_size=9, add_dummy_prefix=False)
    corpus = Corpus(sources=["abcde", "edcba"] * 10, targets=["ABCDE", "EDCBA"] * 10)
    save_tokenizers(
        train_tokenizers(TokenizerConfig(source=side, target=side), corpus), copy / "tokenizer"
    )
    with pytest.raises(RunDirError, match="does not match this model"):
        load_run(copy)


def test_checkpoint_average_is_the_mean_of_the_last_checkpoints(smoke_run):
    import numpy as np
    import tensorflow as tf

    from seq2seq.runs.checkpoints import _load_weights

    averaged = load_run(smoke_run.run_dir, "average:2")
    paths = tf.train.get_checkpoint_state(str(averaged.run_dir.checkpoints / "last"))
    paths = list(paths.all_model_checkpoint_paths)[-2:]
    assert averaged.checkpoint == "average:2 of " + ", ".join(p.rsplit("/", 1)[1] for p in paths)
    model = load_run(smoke_run.run_dir, "last").model
    weights = []
    for path in paths:
        _load_weights(model, path)
        weights.append([w.numpy() for w in model.weights])
    expected = [(a.astype(np.float64) + b) / 2 for a, b in zip(*weights)]
    got = [w.numpy() for w in averaged.model.weights]
    assert any(not np.array_equal(a, b) for a, b in zip(*weights))  # two different states
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    single = load_run(smoke_run.run_dir, "average:1").model
    for a, b in zip(single.weights, model.weights):  # model holds the newest checkpoint
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(RunDirError, match=r"average:99 needs 99 checkpoints in .*last, found"):
        load_run(smoke_run.run_dir, "average:99")


def test_checkpoint_step_loads_the_checkpoint_of_that_step(smoke_run):
    """The smoke run validated at steps 6 and 12; `step:6` loads last/ckpt-6, which is not the
    newest; a step without a checkpoint names the steps there are."""
    import numpy as np

    from seq2seq.config.verbs import check_checkpoint
    from seq2seq.runs.checkpoints import _load_weights

    check_checkpoint("step:6")
    six = load_run(smoke_run.run_dir, "step:6")
    assert six.checkpoint == str(smoke_run.run_dir / "checkpoints" / "last" / "ckpt-6")
    model = load_run(smoke_run.run_dir, "last").model
    newest = [w.numpy() for w in model.weights]
    _load_weights(model, six.checkpoint)
    assert any(not np.array_equal(a.numpy(), b) for a, b in zip(six.model.weights, newest))
    for a, b in zip(six.model.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    steps = sorted(int(p.stem[5:]) for p in smoke_run.run_dir.glob("checkpoints/*/ckpt-*.index"))
    assert 6 in steps and 7 not in steps
    listed = ", ".join(map(str, sorted(set(steps))))
    with pytest.raises(
        RunDirError,
        match=rf"^checkpoint=step:7: no checkpoints/last/ckpt-7 .*"
        rf"the steps saved there: {listed} \(train",
    ):
        load_run(smoke_run.run_dir, "step:7")
