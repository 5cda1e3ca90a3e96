"""Every experiment config sets what it says and runs with debug=smoke; a local sweep runs.

The runs are marked slow: `make test-slow`."""

import json
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from seq2seq.config import TrainRunConfig, validate
from tests.cli_helpers import run_verb

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def data_files(experiment: str, files: dict | None = None) -> list[str]:
    """The command-line files an experiment for your own data needs (`files`: the toy corpus
    of conftest.toy_files; placeholders without it)."""
    files = files or {"tsv": "my.tsv", "source": "my.src", "target": "my.tgt"}
    return {
        "byo_chars": [f"data.train.path={files['tsv']}"],
        "byo_translation": [
            f"data.train.source={files['source']}",
            f"data.train.target={files['target']}",
        ],
    }.get(experiment, [])


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_settings_are_applied(experiment):
    """Every value and group choice an experiment file sets (and those of the experiments
    it extends) is in the composed, validated config."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"experiment={experiment}", *data_files(experiment)],
            return_hydra_config=True,
        )
    typed = OmegaConf.structured(validate(cfg, TrainRunConfig))
    values, choices = experiment_settings(experiment)
    assert values and typed.tags, f"{experiment} sets nothing"
    for key, value in values.items():
        assert OmegaConf.select(typed, key) == value, key
    for group, option in choices.items():
        assert cfg.hydra.runtime.choices[group] == option, group


def experiment_settings(name: str) -> tuple[dict, dict]:
    """({dotted key: value}, {group: option}) set by conf/experiment/<name>.yaml, the
    experiments in its defaults list first (its own `_self_` comes last)."""
    tree = yaml.safe_load((CONF / "experiment" / f"{name}.yaml").read_text())
    values, choices = {}, {}
    for entry in tree.pop("defaults", []):
        if isinstance(entry, str) and entry != "_self_":  # another experiment
            parent_values, parent_choices = experiment_settings(entry)
            values.update(parent_values)
            choices.update(parent_choices)
        elif isinstance(entry, dict):  # "override /model": gru_luong
            ((key, option),) = entry.items()
            choices[key.split("/")[-1]] = option
    values.update(_flatten(tree))
    return values, choices


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# The test metric each task family reports.
TASK_METRIC = {"g2p": "best/test/wer", "translation": "best/test/bleu"}


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_with_smoke(experiment, tmp_path, toy_files):
    proc = run_verb(
        "train",
        f"experiment={experiment}",
        *data_files(experiment, toy_files),
        "debug=smoke",
        f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        task = compose(
            "train", overrides=[f"experiment={experiment}", *data_files(experiment)]
        ).task
    assert metrics["steps"] == 20 and TASK_METRIC[task] in metrics


@pytest.mark.slow
def test_local_launcher_sweep(tmp_path):
    proc = run_verb(
        "train",
        "-m",
        "hydra/launcher=local",
        "experiment=g2p_cmudict",
        "debug=smoke",
        "train.num_threads=1",
        "model.dropout=0.0,0.3",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert json.loads((tmp_path / job / "metrics.json").read_text())["steps"] == 20
