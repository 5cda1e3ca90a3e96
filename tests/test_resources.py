"""The configs and the shipped data are reached through the package (seq2seq/resources.py), so
the verbs find them from any working directory; tests/test_wheel.py checks an installed wheel."""

import os
from pathlib import Path

from omegaconf import OmegaConf

import seq2seq.config  # noqa: F401  (registers the resolvers)
from seq2seq import resources
from seq2seq.analysis.params import logs_dir
from seq2seq.cli.common import CONF_DIR
from seq2seq.runs import git_commit

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_reaches_the_checkouts_conf_and_data():
    assert Path(CONF_DIR).samefile(ROOT / "conf")
    assert resources.DATA_DIR.samefile(ROOT / "data")
    assert resources.checkout_root() == ROOT


def test_shipped_data_resolves_to_the_file_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = OmegaConf.load(ROOT / "conf" / "data" / "tatoeba_spa_eng.yaml")
    path = Path(cfg.train.path)
    assert path.is_absolute() and path.is_file()
    assert path.samefile(ROOT / "data" / "tatoeba_spa_eng" / "spa.txt.gz")


def test_outside_a_checkout_runs_go_to_the_working_directory_and_the_commit_is_unknown(
    tmp_path, monkeypatch
):
    """An installed wheel: site-packages/seq2seq has no pyproject.toml and conf/ beside it."""
    monkeypatch.setattr(resources, "PACKAGE_DIR", tmp_path / "site-packages" / "seq2seq")
    monkeypatch.delenv("PROJECT_ROOT", raising=False)
    assert resources.checkout_root() is None
    assert git_commit() == "unknown"
    monkeypatch.chdir(tmp_path)
    assert logs_dir().resolve() == tmp_path / "logs"
    monkeypatch.setenv("PROJECT_ROOT", os.fspath(tmp_path / "p"))
    assert logs_dir() == tmp_path / "p" / "logs"
