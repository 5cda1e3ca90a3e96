"""`seq2seq-distill`: the teacher's outputs as a corpus (sequence-level distillation).

- The distilled corpus is what `seq2seq-translate` outputs for the same sources, and the copied
  splits are the teacher's own; distill.json says who taught with what.
- A SIGKILL mid-way, then the same command: the same files, byte for byte.
- Resuming with other settings, or over a finished distillation, is a one-line error.
- A student trains on it with the overrides distill.json prints.
"""

import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from seq2seq.cli.distill import distill
from seq2seq.config import DecodeConfig
from seq2seq.data.corpora import load_corpora
from seq2seq.errors import RunDirError
from seq2seq.inference.distill import PARTIAL, SETTINGS, _distilled_pairs
from seq2seq.inference.distill_files import encode_corpus
from seq2seq.inference.translate import translate_lines
from seq2seq.runs.load import load_run
from tests.cli_helpers import BIN, ENV, run_verb, verb_config

CHUNK = 40  # sources per chunk: the smoke run's ~320 training sources make 8 chunks


@pytest.fixture(scope="module")
def distilled(smoke_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("distill") / "corpus"
    proc = run_verb(
        "distill", f"run_dir={smoke_run.run_dir}", f"output={out}", f"chunk_size={CHUNK}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def tsv_rows(path: Path) -> list[tuple[str, str]]:
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines]


def test_distilled_targets_are_the_translations(smoke_run, distilled):
    run = load_run(smoke_run.run_dir)
    corpora = load_corpora(run.cfg.data)
    sources, _ = corpora["train"].references()
    beam5 = verb_config("translate", f"run_dir={smoke_run.run_dir}", "decode=beam5").decode
    expected = [nbest[0].text for nbest in translate_lines(run, sources, beam5)]
    rows = tsv_rows(distilled / "train.tsv.gz")
    assert [s for s, _ in rows] == [s for s, e in zip(sources, expected) if e]
    assert [t for _, t in rows] == [e for e in expected if e]
    assert len(set(expected)) > 20  # the outputs depend on the sources
    for split in ("valid", "test"):
        assert tsv_rows(distilled / f"{split}.tsv.gz") == list(
            zip(corpora[split].sources, corpora[split].targets)
        )
    report = json.loads((distilled / "distill.json").read_text())
    teacher = report["teachers"][0]
    assert teacher["run_dir"] == str(smoke_run.run_dir)
    assert teacher["commit"] == (smoke_run.run_dir / "git.txt").read_text().strip()
    assert teacher["checkpoint"].startswith("best/ckpt-")
    assert report["decode"]["beam_size"] == 5 and report["split"] == "train"
    assert report["code_commit"] != ""
    assert report["counts"]["train"]["sources"] == len(sources)
    assert report["counts"]["train"]["pairs"] == len(rows)
    assert "data.train.path=" in report["train_with"]
    assert not (distilled / PARTIAL).exists()


def test_sigkill_then_resume_gives_the_same_files(smoke_run, distilled, tmp_path):
    out = tmp_path / "corpus"
    args = [f"run_dir={smoke_run.run_dir}", f"output={out}", f"chunk_size={CHUNK}"]
    proc = subprocess.Popen(
        [str(BIN / "seq2seq-distill"), *args],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list((out / PARTIAL).glob("train-*.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, "distill ended before it could be killed"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    chunks = list((out / PARTIAL).glob("train-*.json"))
    assert 1 <= len(chunks) < 8 and not (out / "distill.json").exists()
    resumed = run_verb("distill", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming the partial distillation" in resumed.stderr
    for name in ("train.tsv.gz", "valid.tsv.gz", "test.tsv.gz"):
        assert (out / name).read_bytes() == (distilled / name).read_bytes(), name


def test_other_settings_do_not_resume_a_partial_output(smoke_run, tmp_path):
    out = tmp_path / "corpus"
    (out / PARTIAL).mkdir(parents=True)
    (out / PARTIAL / SETTINGS).write_text(json.dumps({"chunk_size": 1}))
    cfg = verb_config("distill", f"run_dir={smoke_run.run_dir}", f"output={out}")
    with pytest.raises(RunDirError, match="partial distillation made with other settings"):
        distill(cfg)


def test_a_finished_distillation_is_not_overwritten(distilled, smoke_run):
    before = (distilled / "train.tsv.gz").read_bytes()
    cfg = verb_config("distill", f"run_dir={smoke_run.run_dir}", f"output={distilled}")
    with pytest.raises(RunDirError, match="already holds a finished distillation"):
        distill(cfg)
    assert (distilled / "train.tsv.gz").read_bytes() == before


def test_include_original_and_empty_hypotheses():
    pairs, counts = _distilled_pairs(
        ["a", "b", "c"], [["A", "A2"], ["B"], ["C"]], ["A", "X", ""], with_original=True
    )
    assert pairs == [("a", "A"), ("a", "A2"), ("b", "X"), ("b", "B"), ("c", "C")]
    assert (counts.empty, counts.same_as_original, counts.original_pairs) == (1, 1, 3)
    pairs, counts = _distilled_pairs(["a", "c"], [["A"], ["C"]], ["Y", ""], with_original=False)
    assert pairs == [("a", "Y")] and counts.empty == 1


def test_text_format_and_bad_characters():
    files = encode_corpus([("a b", "x\ty")], "train", "text", compress=False)
    assert files == {"train.source": b"a b\n", "train.target": b"x\ty\n"}
    with pytest.raises(Exception, match="train, row 1: .* holds a tab or newline"):
        encode_corpus([("a", "x\ty")], "train", "tsv", compress=True)


@pytest.mark.slow  # ~15 s; the docs' command composes in test_docs.py, the recipes train on it
def test_a_student_trains_on_the_distilled_corpus(smoke_run, distilled, tmp_path):
    report = json.loads((distilled / "distill.json").read_text())
    overrides = [o for o in smoke_run_overrides(tmp_path) if not o.startswith("data")]
    proc = run_verb(
        "train",
        *overrides,
        *report["train_with"].split(),
        "data.batch_tokens=256",
        "data.max_source_length=16",
        "data.max_target_length=16",
        "tokenizer.target.vocab_size=auto",  # a weak teacher's outputs miss some letters
        "train.max_steps=4",
        "train.validate_every=4",
        f"hydra.run.dir={tmp_path / 'student'}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "best/test/wer" in json.loads((tmp_path / "student" / "metrics.json").read_text())
    config = (tmp_path / "student" / "run_config.yaml").read_text()
    assert f"path: {distilled / 'train.tsv.gz'}" in config


def smoke_run_overrides(directory: Path) -> list[str]:
    """The smoke run's tokenizer, model and train overrides (its data replaced by the caller)."""
    from tests.train_helpers import tiny_train_overrides

    return [
        o
        for o in tiny_train_overrides(directory)
        if not o.startswith(("train.max_steps", "train.validate_every"))
    ]


def test_decode_default_is_beam5():
    cfg = verb_config("distill", "run_dir=RUN", "output=OUT")
    assert cfg.decode.beam_size == 5 and cfg.decode.strategy == "beam"
    assert cfg.copy_splits == ["valid", "test"] and isinstance(cfg.decode, DecodeConfig)
