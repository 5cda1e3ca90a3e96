"""Streamed training corpora: same pairs and batches as in memory, file checks, exact resume."""

import dataclasses
import gzip
import json
import shutil
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.config import DataConfig, SplitFiles
from seq2seq.data.corpora import load_corpora
from seq2seq.data.pipeline import limit_bucket_grid, make_train_dataset
from seq2seq.data.streaming import count_lines, load_training_data, should_stream
from seq2seq.data.streaming_files import next_pairs
from seq2seq.errors import ConfigError, DataError
from tests.cli_helpers import run_python, run_verb
from tests.conftest import toy_pairs
from tests.test_pipeline import rows
from tests.train_helpers import tiny_train_overrides, train_losses


def numpy_batches(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in dataset]


def epochs(cfg, tokenizers, seed=0, repeat=False):
    """One epoch of batches in memory and streamed (`cfg` with streaming false / true)."""
    out = []
    for streaming in ("false", "true"):
        run_cfg = dataclasses.replace(cfg, streaming=streaming)
        data = load_training_data(run_cfg)
        assert (data.stream is not None) == (streaming == "true")
        dataset = make_train_dataset(
            data.corpora["train"], tokenizers, run_cfg, seed, repeat=repeat, stream=data.stream
        )
        out.append(numpy_batches(dataset))
    return out


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for (xa, ya, wa), (xb, yb, wb) in zip(a, b):
        assert set(xa) == set(xb)
        for key in xa:
            np.testing.assert_array_equal(xa[key], xb[key])
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("batching", ["bucketed", "random"])
def test_streamed_batches_equal_the_in_memory_ones(toy_tokenizers, toy_data_config, batching):
    """Every pair fits and the buffer holds the corpus: same batches in the same order, with
    valid/test cut from the training file on both paths."""
    cfg = dataclasses.replace(toy_data_config, batching=batching)
    memory, streamed = epochs(cfg, toy_tokenizers, seed=3)
    assert len(memory) > 10
    assert_same_batches(memory, streamed)


def test_streamed_drops_over_long_pairs_like_in_memory(toy_tokenizers, toy_data_config):
    """Limits that drop pairs: the order differs (dropped after shuffling), but an epoch holds
    the same rows, and the same number of batches of each shape under the same budget."""
    cfg = dataclasses.replace(toy_data_config, max_source_length=9, max_target_length=7)
    memory, streamed = epochs(cfg, toy_tokenizers)
    assert Counter(map(str, rows(memory))) == Counter(map(str, rows(streamed)))
    n_rows = sum(len(y) for _, y, _ in memory)
    assert 100 < n_rows < len(load_corpora(cfg)["train"])  # some pairs dropped, many kept

    def shapes(batches):
        return Counter(x["source_ids"].shape + y.shape[1:] for x, y, _ in batches)

    assert shapes(memory) == shapes(streamed)
    grid = limit_bucket_grid(cfg)
    sizes = grid.batch_sizes()
    for x, y, _ in streamed:
        key = grid.keys(tf.constant([x["source_ids"].shape[1]]), tf.constant([y.shape[1]]))
        assert len(y) <= sizes[int(key[0])]  # the token budget of its bucket


def test_tsv_gzip_stream_reads_the_pairs_of_load_corpora(tmp_path, toy_files):
    """TSV in gzip with empty lines and empty fields, lower-casing and max_examples: the
    streamed pairs are load_corpora's training pairs, in file order."""
    lines = [f"{s.upper()}\t{t}\textra" for s, t in toy_pairs(300, seed=5)]
    lines[10:10] = ["", "  ", "word\t", "\tAA"]
    path = tmp_path / "train.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    cfg = DataConfig(
        format="tsv",
        train=SplitFiles(path=str(path)),
        lowercase=True,
        max_examples=200,
        streaming="true",
    )
    expected = load_corpora(cfg)
    data = load_training_data(cfg)
    pairs = [(s.decode(), t.decode()) for s, t in data.stream.pairs().as_numpy_iterator()]
    assert pairs == list(zip(expected["train"].sources, expected["train"].targets))
    assert len(pairs) == 200 and data.stream.num_pairs == 200
    for split in ("train", "valid", "test"):  # train: the sample (all 200 pairs here)
        assert data.corpora[split].sources == expected[split].sources
        assert data.corpora[split].targets == expected[split].targets


def test_explicit_valid_files_skip_the_pass_and_estimate_the_pairs(toy_files, toy_data_config):
    cfg = dataclasses.replace(
        toy_data_config,
        streaming="true",
        stream_sample_size=50,
        valid=toy_data_config.train,
        test=toy_data_config.train,
    )
    data = load_training_data(cfg)
    assert len(data.corpora["train"]) == 50  # the sample only
    assert count_lines(toy_files["source"]) == 600
    assert abs(data.stream.num_pairs - 600) < 100  # from the file size and the sample's bytes
    assert not data.stream.counted and len(data.stream.held_out) == 0
    assert len(data.corpora["valid"]) == 600
    whole = load_training_data(dataclasses.replace(cfg, stream_sample_size=600))
    assert whole.stream.counted and whole.stream.num_pairs == 600  # the sample is every pair


def test_misaligned_text_files_fail_when_the_shorter_ends(tmp_path, toy_data_config):
    source, target = tmp_path / "a.src", tmp_path / "a.tgt"
    source.write_text("".join(f"w{i}\n" for i in range(2500)))
    target.write_text("".join(f"t{i}\n" for i in range(2499)))
    cfg = dataclasses.replace(
        toy_data_config,
        train=SplitFiles(source=str(source), target=str(target)),
        valid=SplitFiles(source=str(source), target=str(source)),
        test=SplitFiles(source=str(source), target=str(source)),
        streaming="true",
        stream_sample_size=10,  # a sample of the whole file fails already (DataError)
    )
    pairs = iter(load_training_data(cfg).stream.pairs())
    # What training reports (Trainer reads batches with next_pairs): one line naming both files.
    with pytest.raises(DataError, match=f"^{source} and {target} have different numbers of lines"):
        while True:
            next_pairs(pairs)


def test_a_short_tsv_row_is_named_with_file_and_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("".join(f"a{i}\tb{i}\n" for i in range(1500)) + "lonely\n")
    (tmp_path / "valid.tsv").write_text("a\tb\n")
    valid = SplitFiles(path=str(tmp_path / "valid.tsv"))
    cfg = DataConfig(
        format="tsv",
        train=SplitFiles(path=str(path)),
        valid=valid,
        test=valid,
        streaming="true",
        stream_sample_size=10,
    )
    pairs = iter(load_training_data(cfg).stream.pairs())
    with pytest.raises(DataError, match=f"^{path}:1501: expected at least 2 tab-separated"):
        while True:
            next_pairs(pairs)


def test_other_errors_pass_next_pairs_unchanged():
    failing = tf.data.Dataset.range(3).map(
        lambda i: tf.debugging.check_numerics(tf.math.log(tf.cast(i, tf.float32) - 1.0), "log")
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="log"):
        next_pairs(iter(failing))


def test_streaming_switch(toy_data_config):
    assert not should_stream(toy_data_config)  # auto: a small file stays in memory
    assert should_stream(dataclasses.replace(toy_data_config, streaming_min_mb=0.001))
    assert should_stream(dataclasses.replace(toy_data_config, streaming="True"))  # YAML true
    assert not should_stream(DataConfig(format="cmudict", streaming_min_mb=0))
    with pytest.raises(ConfigError, match="data.streaming=true needs data.format text or tsv"):
        DataConfig(format="cmudict", streaming="true")
    with pytest.raises(ConfigError, match="data.streaming must be auto, true or false"):
        DataConfig(streaming="yes")


def test_a_restored_stream_iterator_continues_exactly(tmp_path, toy_tokenizers, toy_data_config):
    """The iterator checkpoint holds the file positions, the shuffle buffer and the partial
    bucket windows: restored into a new pipeline, it gives the batches that followed."""
    cfg = dataclasses.replace(toy_data_config, streaming="true", shuffle_buffer=200)
    data = load_training_data(cfg)

    def dataset():
        return make_train_dataset(data.corpora["train"], toy_tokenizers, cfg, 0, stream=data.stream)

    def take(iterator, n):
        return [tf.nest.map_structure(lambda t: t.numpy(), next(iterator)) for _ in range(n)]

    iterator = iter(dataset())
    take(iterator, 30)  # past the first epoch (about 25 batches)
    path = tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))
    expected = take(iterator, 20)
    restored = iter(dataset())
    tf.train.Checkpoint(iterator=restored).restore(path).assert_consumed()
    assert_same_batches(expected, take(restored, 20))


@pytest.mark.slow
def test_resume_of_a_streamed_run_reproduces_the_uninterrupted_run(tmp_path):
    """`seq2seq-train` streaming its corpus, then a resume from the step-6 checkpoint: the
    same losses (train.deterministic=true, in subprocesses like the smoke run)."""
    overrides = tiny_train_overrides(tmp_path, "train.deterministic=true", "data.streaming=true")
    run_dir = tmp_path / "run"
    proc = run_verb("train", *overrides, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "streaming the training split" in proc.stderr
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    proc = run_python(
        "import sys; from tests.train_helpers import resume_from_checkpoint; "
        "resume_from_checkpoint(*sys.argv[1:])",
        str(copy),
        str(copy / "checkpoints" / "last" / "ckpt-6"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    full, resumed = train_losses(run_dir), {int(k): v for k, v in out["losses"].items()}
    assert sorted(resumed) == sorted(full) == [2, 4, 6, 8, 10, 12]
    np.testing.assert_allclose(
        [resumed[s] for s in sorted(full)], [full[s] for s in sorted(full)], atol=1e-6
    )
