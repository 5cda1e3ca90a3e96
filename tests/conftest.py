"""Shared fixtures.

Data: a toy grapheme-to-phoneme corpus generated at test time (words over 8 letters -> one
phoneme per letter, doubled letters collapsed, so targets are often shorter than sources),
and tokenizers trained on it (char source model, word target model; 8 pieces + 4 specials).
"""

import json
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

# Under pytest-xdist (`make test` runs `-n auto`) each worker's TensorFlow, and the verbs the
# tests start in subprocesses, get their share of the cores instead of all of them each.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(_share))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(_share))

TOY_PHONES = {"a": "AA", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH"}


def toy_pairs(n: int = 600, seed: int = 0, max_letters: int = 14) -> list[tuple[str, str]]:
    """`n` (word, phonemes) pairs; words have 1..max_letters letters."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        word = "".join(rng.choice(list(TOY_PHONES)) for _ in range(rng.randint(1, max_letters)))
        collapsed = [c for i, c in enumerate(word) if i == 0 or c != word[i - 1]]
        pairs.append((word, " ".join(TOY_PHONES[c] for c in collapsed)))
    return pairs


@pytest.fixture(scope="session")
def toy_files(tmp_path_factory) -> dict[str, Path]:
    """The toy corpus as aligned text files ("source", "target") and as a TSV ("tsv")."""
    directory = tmp_path_factory.mktemp("toy_corpus")
    pairs = toy_pairs()
    files = {
        "source": directory / "toy.src",
        "target": directory / "toy.tgt",
        "tsv": directory / "toy.tsv",
    }
    files["source"].write_text("".join(f"{s}\n" for s, _ in pairs), encoding="utf-8")
    files["target"].write_text("".join(f"{t}\n" for _, t in pairs), encoding="utf-8")
    files["tsv"].write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return files


@pytest.fixture(scope="session")
def toy_corpus(toy_files):
    from seq2seq.data.corpora import read_parallel_text

    return read_parallel_text(toy_files["source"], toy_files["target"])


@pytest.fixture(scope="session")
def toy_tokenizer_config():
    from seq2seq.config import SideTokenizerConfig, TokenizerConfig

    size = 4 + len(TOY_PHONES)
    return TokenizerConfig(
        source=SideTokenizerConfig(model_type="char", vocab_size=size, add_dummy_prefix=False),
        target=SideTokenizerConfig(model_type="word", vocab_size=size),
    )


@pytest.fixture(scope="session")
def toy_tokenizers(toy_corpus, toy_tokenizer_config):
    from seq2seq.data.tokenizer import train_tokenizers

    return train_tokenizers(toy_tokenizer_config, toy_corpus)


@pytest.fixture
def toy_data_config(toy_files):
    """A DataConfig reading the toy text files; small budget so batches are many."""
    from seq2seq.config import DataConfig, SplitFiles

    return DataConfig(
        name="toy",
        format="text",
        train=SplitFiles(source=str(toy_files["source"]), target=str(toy_files["target"])),
        max_source_length=16,
        max_target_length=16,
        batch_tokens=64,
        batch_size=16,
        shuffle_buffer=1000,
        eval_batch_size=32,
    )


class SmokeRun(NamedTuple):
    cfg: object  # TrainRunConfig
    run_dir: Path
    metrics: dict  # metrics.json
    log: str  # what `seq2seq-train` wrote to stderr


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Iterator[SmokeRun]:
    """A tiny model trained 12 steps (train.deterministic=true) on a generated corpus by the
    real `seq2seq-train` command, in a subprocess: TensorFlow op determinism, which cannot be
    switched off cleanly, stays in that process instead of changing every later test.

    Read-only: tests that write into a run directory use `smoke_run_copy`. The directory is
    checked unchanged at the end of the session.
    """
    from seq2seq.config import TrainRunConfig, validate
    from tests.cli_helpers import compose_verb, run_verb
    from tests.train_helpers import tiny_train_overrides

    tmp = tmp_path_factory.mktemp("smoke")
    overrides = tiny_train_overrides(tmp, "train.deterministic=true")
    run_dir = tmp / "run"
    proc = run_verb("train", *overrides, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = validate(compose_verb("train", *overrides), TrainRunConfig)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    before = _snapshot(run_dir)
    yield SmokeRun(cfg, run_dir, metrics, proc.stderr)
    after = _snapshot(run_dir)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, (
        f"a test wrote into the shared smoke run ({changed[:5]}); use smoke_run_copy"
    )


@pytest.fixture
def smoke_run_copy(smoke_run, tmp_path) -> Path:
    """A private copy of the smoke run directory (tmp_path/"run") for tests that write."""
    copy = tmp_path / "run"
    shutil.copytree(smoke_run.run_dir, copy, symlinks=True)
    return copy


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime_ns)} of everything under `directory`."""
    return {
        str(p.relative_to(directory)): (
            p.stat().st_size if p.is_file() else -1,
            p.stat().st_mtime_ns,
        )
        for p in directory.rglob("*")
    }


# Property-based tests: random examples locally, a fixed (derandomized) set on CI so that a
# CI run is reproducible; `HYPOTHESIS_PROFILE=ci` selects it by hand.
import os as _os  # noqa: E402

from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if _os.environ.get("CI") or _os.environ.get("HYPOTHESIS_PROFILE") == "ci":
    _hypothesis_settings.load_profile("ci")
