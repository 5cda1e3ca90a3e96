"""A start that fails before training leaves no run config behind and logs its error in the
run's train.log; a run directory without checkpoints accepts changed settings with a warning."""

import logging
from dataclasses import replace

import pytest

from seq2seq.errors import RunDirError
from seq2seq.runs import RunDir, check_run_config, store_run_config
from tests.cli_helpers import run_verb
from tests.train_helpers import tiny_train_config, tiny_train_overrides


def test_failed_start_leaves_no_config_and_logs_the_error(tmp_path):
    run = tmp_path / "run"
    missing = tmp_path / "nowhere.src"
    overrides = tiny_train_overrides(tmp_path, f"data.train.source={missing}")
    proc = run_verb("train", *overrides, f"hydra.run.dir={run}")
    assert proc.returncode == 2
    error = f"error: {missing}: file not found"
    assert proc.stderr.strip().splitlines()[-1] == error
    log = (run / "train.log").read_text()
    assert error in log and "Traceback" in log  # the console has the line, the log both
    assert not (run / "run_config.yaml").exists() and not (run / "git.txt").exists()
    # The path fixed, the same directory starts as a new run.
    assert check_run_config(RunDir(run), tiny_train_config(tmp_path)) is False


def _config_store(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    first = tiny_train_config(tmp_path)
    store_run_config(run, first, "abc")
    changed = replace(first, data=replace(first.data, max_source_length=12))
    return run, first, changed


def test_run_without_checkpoint_accepts_changed_settings_with_a_warning(tmp_path, caplog):
    run, first, changed = _config_store(tmp_path)
    (run.tokenizer).mkdir()
    (run.tokenizer / "source.model").write_bytes(b"old")
    assert check_run_config(run, first) is True  # the same settings: a resume
    with caplog.at_level(logging.WARNING):
        assert check_run_config(run, changed) is False
    assert (
        f"{run} holds the config of a start that saved no checkpoint (data.max_source_length: "
        f"16 there, 12 now): training with the new settings; removed {run.tokenizer} (trained "
        "for the old ones)" in caplog.text
    )
    assert not run.tokenizer.exists()


def test_run_with_a_checkpoint_refuses_changed_settings(tmp_path):
    run, first, changed = _config_store(tmp_path)
    (run.checkpoint_dir("last")).mkdir(parents=True)
    (run.checkpoint_dir("last") / "checkpoint").write_text('model_checkpoint_path: "ckpt-6"\n')
    with pytest.raises(RunDirError, match=r"holds a different run \(data.max_source_length"):
        check_run_config(run, changed)
    assert check_run_config(run, replace(first, train=replace(first.train, max_steps=99)))
