"""Every experiment config composes, validates and runs with debug=smoke; a local sweep runs.

Marked slow: `make test-slow`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from seq2seq.config import TrainRunConfig, validate

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_config_validates(experiment):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = validate(compose("train", overrides=[f"experiment={experiment}"]), TrainRunConfig)
    assert cfg.train.max_steps > 0 and experiment in " ".join(cfg.tags + [experiment])


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_with_smoke(experiment, tmp_path):
    proc = subprocess.run(
        [
            str(BIN / "seq2seq-train"),
            f"experiment={experiment}",
            "debug=smoke",
            f"hydra.run.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 20 and "best/test/wer" in metrics


@pytest.mark.slow
def test_local_launcher_sweep(tmp_path):
    proc = subprocess.run(
        [
            str(BIN / "seq2seq-train"),
            "-m",
            "hydra/launcher=local",
            "experiment=g2p_cmudict",
            "debug=smoke",
            "train.num_threads=1",
            "model.dropout=0.0,0.3",
            f"hydra.sweep.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert json.loads((tmp_path / job / "metrics.json").read_text())["steps"] == 20
