"""The run directory: its file names, the stored run config, the code version.

Layout (see README, "Run directory"): .hydra/, run.lock (while training runs),
run_config.yaml, git.txt, tokenizer/, checkpoints/{last,best}/, tensorboard/, metrics.jsonl
(one JSON object per logged event), metrics.json (final summary), train.log, stats.json
(prepare), evaluations/, translations/, export/; a sweep job's status.json. These names are
written here and nowhere else (other modules take them from `RunDir` or these constants); the
files inside evaluations/NAME/, translations/ and export/ are named by the verbs that write them
(`seq2seq.inference`).
"""

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from seq2seq.errors import RunDirError
from seq2seq.files import atomic_write_text
from seq2seq.resources import checkout_root

RUN_CONFIG = "run_config.yaml"
METRICS_FILE = "metrics.json"  # a run's final summary; also each evaluations/NAME/ report
STATUS_FILE = "status.json"  # a sweep job's outcome (seq2seq.analysis.sweeps)
# Sections that define what a run *is*: resuming with different values would mix two runs.
# train.deterministic too: a data-iterator checkpoint of one mode does not restore in the other.
IDENTITY_SECTIONS = ("data", "tokenizer", "model", "task", "train.deterministic")


class RunDir:
    """The paths of one run directory (nothing is created until something is written)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    config = property(lambda self: self.path / RUN_CONFIG)
    lock = property(lambda self: self.path / "run.lock")  # held by the training process
    git = property(lambda self: self.path / "git.txt")
    tokenizer = property(lambda self: self.path / "tokenizer")
    checkpoints = property(lambda self: self.path / "checkpoints")
    tensorboard = property(lambda self: self.path / "tensorboard")
    metrics_log = property(lambda self: self.path / "metrics.jsonl")
    metrics = property(lambda self: self.path / METRICS_FILE)
    stats = property(lambda self: self.path / "stats.json")
    train_log = property(lambda self: self.path / "train.log")
    evaluations = property(lambda self: self.path / "evaluations")
    translations = property(lambda self: self.path / "translations")
    export = property(lambda self: self.path / "export")

    def checkpoint_dir(self, which: str) -> Path:
        """`checkpoints/last` (full training states) or `checkpoints/best` (the best model)."""
        return self.checkpoints / which

    def is_training_run(self) -> bool:
        return self.config.exists()


def git_commit(root: Path | None = None) -> str:
    """The code's git commit (with `-dirty` when the tree has changes), or `unknown` (also for
    an installed wheel, which is no checkout)."""
    root = root or checkout_root()
    if root is None:
        return "unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return sha + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def check_writable(run_dir: Path) -> None:
    """Raise RunDirError unless `run_dir` can be created and written."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write-probe", delete=True)
        probe.close()
    except OSError as exc:
        raise RunDirError(f"run directory {run_dir} is not writable: {exc.strerror}") from None


def store_or_check_run_config(path: Path, cfg: Any) -> bool:
    """Store the resolved config on a run's first start; on later starts check it matches.

    Returns True when the run directory already held this run (a resume). Differences in
    `train`, `logger`, `decode` (e.g. a larger max_steps) are allowed; differences in what
    defines the run (data, tokenizer, model, task, train.deterministic) raise RunDirError naming
    the first key.
    """
    new = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)
    if not path.exists():
        atomic_write_text(path, OmegaConf.to_yaml(new))
        return False
    old = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    for section in IDENTITY_SECTIONS:
        diff = _first_difference(_get(old, section), _get(new, section), section)
        if diff:
            raise RunDirError(
                f"{path.parent} holds a different run ({diff}); use a new hydra.run.dir "
                "or the same settings to resume"
            )
    atomic_write_text(path, OmegaConf.to_yaml(new))
    return True


def _get(config: dict, dotted: str) -> Any:
    """config["a"]["b"] for "a.b" (None where a level is missing)."""
    for key in dotted.split("."):
        config = config.get(key) if isinstance(config, dict) else None
    return config


def _first_difference(old: Any, new: Any, key: str) -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            diff = _first_difference(old.get(k), new.get(k), f"{key}.{k}")
            if diff:
                return diff
        return None
    return None if old == new else f"{key}: {old!r} there, {new!r} now"
