"""`seq2seq-prepare`: stats.json fields, no overwriting, padding figures on CMUdict, CLI errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from seq2seq.cli.common import CONF_DIR
from seq2seq.config import PrepareRunConfig, validate
from seq2seq.data.stats import format_table
from seq2seq.errors import ConfigError, RunDirError
from seq2seq.training.prepare import prepare

SIDE_FIELDS = {"real_tokens", "padded_positions", "real_token_fraction"}
LENGTH_FIELDS = {"min", "mean", "p50", "p90", "p99", "max"}


def prepare_config(*overrides: str) -> PrepareRunConfig:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return validate(compose("prepare", overrides=list(overrides)), PrepareRunConfig)


def toy_overrides(files) -> list[str]:
    return [
        "data=parallel_text",
        f"data.train.source={files['source']}",
        f"data.train.target={files['target']}",
        "data.max_source_length=12",
        "data.max_target_length=12",
        "data.batch_tokens=96",
        "tokenizer=g2p",
        "tokenizer.source.vocab_size=12",
        "tokenizer.target.vocab_size=12",
    ]


def test_stats_json_has_the_documented_fields(toy_files, tmp_path):
    stats = prepare(prepare_config(*toy_overrides(toy_files)), tmp_path)
    assert json.loads((tmp_path / "stats.json").read_text()) == stats
    assert sorted(p.name for p in (tmp_path / "tokenizer").iterdir()) == [
        "source.model",
        "source.vocab",
        "target.model",
        "target.vocab",
    ]
    assert set(stats) == {"splits", "tokenizer", "buckets", "batching"}
    train = stats["splits"]["train"]
    assert set(train) == {
        "pairs",
        "distinct_sources",
        "skipped",
        "source_length",
        "target_length",
        "kept",
        "dropped",
    }
    assert set(stats["splits"]["valid"]) - set(train) == {"truncated"}
    assert set(train["source_length"]) == LENGTH_FIELDS
    assert train["dropped"]["source_too_long"] > 0  # toy words have up to 14 letters
    assert train["kept"] + sum(train["dropped"].values()) == train["pairs"]
    assert stats["tokenizer"]["source_vocab_size"] == 12
    for mode in ("bucketed", "random"):
        counts = stats["batching"][mode]
        assert set(counts) == {"batches", "examples", "shapes", "source", "target"}
        assert counts["examples"] == train["kept"]
        for side in ("source", "target"):
            figures = counts[side]
            assert set(figures) == SIDE_FIELDS
            total = figures["real_tokens"] + figures["padded_positions"]
            assert figures["real_token_fraction"] == round(figures["real_tokens"] / total, 4)
    assert "bucketed" in format_table(stats) and "random" in format_table(stats)


def test_auto_vocab_size_is_recorded_as_the_size_used(toy_files, tmp_path):
    overrides = toy_overrides(toy_files) + [
        "tokenizer.source.vocab_size=auto",
        "tokenizer.target.vocab_size=auto",
    ]
    stats = prepare(prepare_config(*overrides), tmp_path)
    assert stats["tokenizer"]["source_vocab_size"] == 12  # 8 letters + 4 specials
    assert stats["tokenizer"]["target_vocab_size"] == 12  # 8 phonemes + 4 specials


def test_rerun_is_idempotent_and_never_overwrites_another_run(toy_files, tmp_path):
    overrides = toy_overrides(toy_files)
    first = prepare(prepare_config(*overrides), tmp_path)
    before = (tmp_path / "stats.json").read_bytes()
    assert prepare(prepare_config(*overrides), tmp_path) == first  # resume: loads tokenizers
    with pytest.raises(RunDirError, match=r"stats\.json already exists with different content"):
        prepare(prepare_config(*overrides, "data.batch_tokens=128"), tmp_path)
    assert (tmp_path / "stats.json").read_bytes() == before


def test_default_cmudict_bucketing_reaches_95_percent_real_target_tokens(tmp_path):
    stats = prepare(prepare_config(), tmp_path)
    bucketed, random = stats["batching"]["bucketed"], stats["batching"]["random"]
    assert bucketed["target"]["real_token_fraction"] >= 0.95
    assert bucketed["source"]["real_token_fraction"] >= 0.95
    assert random["target"]["real_token_fraction"] < bucketed["target"]["real_token_fraction"] - 0.2
    assert bucketed["examples"] == random["examples"] == stats["splits"]["train"]["pairs"] > 100_000
    assert stats["tokenizer"]["target_unk_fraction"] == 0.0


@pytest.mark.parametrize(
    "overrides",
    [
        ["data=g2p_cmudict", "tokenizer=g2p"],
        ["data=parallel_text", "data.train.source=a", "data.train.target=b", "tokenizer=unigram8k"],
        ["data=tsv", "data.train.path=a.tsv.gz", "tokenizer=unigram8k", "tokenizer.shared=true"],
    ],
)
def test_config_groups_compose_and_validate(overrides):
    cfg = prepare_config(*overrides)
    assert cfg.data.name == overrides[0].split("=")[1]


def test_mandatory_paths_are_named():
    with pytest.raises(ConfigError, match=r"data\.train\.source"):
        prepare_config("data=parallel_text")


def run_cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).parent / "seq2seq-prepare"),
        f"hydra.run.dir={tmp_path / 'run'}",
        *overrides,
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={**os.environ, "PROJECT_ROOT": str(tmp_path)},
    )


def test_cli_prints_the_table(toy_files, tmp_path):
    result = run_cli(tmp_path, *toy_overrides(toy_files))
    assert result.returncode == 0, result.stderr
    assert "bucketed" in result.stdout and "random" in result.stdout
    assert (tmp_path / "run" / "stats.json").is_file()


def test_cli_bad_input_is_one_line_error_exit_2(tmp_path):
    missing = tmp_path / "missing.src"
    result = run_cli(
        tmp_path,
        "data=parallel_text",
        f"data.train.source={missing}",
        f"data.train.target={tmp_path / 'missing.tgt'}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {missing}: file not found"
    assert "Traceback" not in result.stderr
