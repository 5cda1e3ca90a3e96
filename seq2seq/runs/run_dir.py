"""The run directory: its file names, the stored run config, the code version.

Layout (see README, "Run directory"): .hydra/, run.lock (while training runs),
run_config.yaml, git.txt, tokenizer/, checkpoints/{last,best}/, tensorboard/, metrics.jsonl
(one JSON object per logged event), metrics.json (final summary), train.log, stats.json
(prepare), evaluations/, translations/, export/; a sweep job's status.json; mlflow_run.json
(logger=mlflow). These names are written here and nowhere else (other modules take them from
`RunDir` or these constants); the files inside evaluations/NAME/, translations/ and export/
are named by the verbs that write them (`seq2seq.inference`).
"""

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from seq2seq.errors import RunDirError
from seq2seq.files import atomic_write_text
from seq2seq.resources import checkout_root

log = logging.getLogger(__name__)

RUN_CONFIG = "run_config.yaml"
METRICS_FILE = "metrics.json"  # a run's final summary; also each evaluations/NAME/ report
STATUS_FILE = "status.json"  # a sweep job's outcome (seq2seq.runs.job_status)
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
    status = property(lambda self: self.path / STATUS_FILE)  # a sweep job's outcome
    mlflow_run = property(lambda self: self.path / "mlflow_run.json")  # logger=mlflow's run id
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


def check_run_config(run: RunDir, cfg: Any) -> bool:
    """Check `cfg` against the config stored in `run` (if any) before anything is written.

    Returns True when the run directory already holds this run (a resume). Differences in
    `train`, `logger`, `decode` (e.g. a larger max_steps) are allowed; differences in what
    defines the run (data, tokenizer, model, task, train.deterministic) raise RunDirError naming
    the first key, unless the directory holds no checkpoint (a start that failed before its
    first save): then a warning says so, the stored config is replaced when training starts
    (`store_run_config`), and tokenizers trained for other data/tokenizer settings are removed.
    """
    if not run.config.exists():
        return False
    new = _plain(cfg)
    old = OmegaConf.to_container(OmegaConf.load(run.config), resolve=True)
    diffs = {
        section: _first_difference(_get(old, section), _get(new, section), section)
        for section in IDENTITY_SECTIONS
    }
    diff = next((d for d in diffs.values() if d), None)
    if diff is None:
        return True
    if has_checkpoint(run):
        raise RunDirError(
            f"{run} holds a different run ({diff}); use a new hydra.run.dir "
            "or the same settings to resume"
        )
    stale = (diffs["data"] or diffs["tokenizer"]) and run.tokenizer.exists()
    log.warning(
        "%s holds the config of a start that saved no checkpoint (%s): training with the new "
        "settings%s",
        run,
        diff,
        f"; removed {run.tokenizer} (trained for the old ones)" if stale else "",
    )
    if stale:
        shutil.rmtree(run.tokenizer)
    return False


def store_run_config(run: RunDir, cfg: Any, commit: str) -> None:
    """Commit the run directory to `cfg` (`run_config.yaml`) and the code's version
    (`git.txt`): called when training starts, so a start that fails before leaves neither."""
    atomic_write_text(run.config, OmegaConf.to_yaml(_plain(cfg)))
    atomic_write_text(run.git, commit + "\n")


def has_checkpoint(run: RunDir) -> bool:
    """True if `checkpoints/last` or `checkpoints/best` holds a checkpoint index."""
    return any((run.checkpoint_dir(w) / "checkpoint").exists() for w in ("last", "best"))


def _plain(cfg: Any) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)


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
