"""The run directory: atomic writes, the stored run config, the code version.

Layout (see README): .hydra/, run_config.yaml, tokenizer/, checkpoints/, tensorboard/,
metrics.jsonl (one JSON object per logged event), metrics.json (final summary), git.txt.
"""

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from seq2seq.errors import RunDirError
from seq2seq.files import atomic_write_text

RUN_CONFIG = "run_config.yaml"
# Sections that define what a run *is*: resuming with different values would mix two runs.
IDENTITY_SECTIONS = ("data", "tokenizer", "model", "task")


def git_commit(root: Path | None = None) -> str:
    """The code's git commit (with `-dirty` when the tree has changes), or `unknown`."""
    root = root or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
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


def store_or_check_run_config(run_dir: Path, cfg: Any) -> bool:
    """Store the resolved config on a run's first start; on later starts check it matches.

    Returns True when the run directory already held this run (a resume). Differences in
    `train`, `logger`, `decode` (e.g. a larger max_steps) are allowed; differences in what
    defines the run (data, tokenizer, model, task) raise RunDirError naming the first key.
    """
    path = run_dir / RUN_CONFIG
    new = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)
    if not path.exists():
        atomic_write_text(path, OmegaConf.to_yaml(new))
        return False
    old = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    for section in IDENTITY_SECTIONS:
        diff = _first_difference(old.get(section), new.get(section), section)
        if diff:
            raise RunDirError(
                f"{run_dir} holds a different run ({diff}); use a new hydra.run.dir "
                "or the same settings to resume"
            )
    atomic_write_text(path, OmegaConf.to_yaml(new))
    return True


def _first_difference(old: Any, new: Any, key: str) -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            diff = _first_difference(old.get(k), new.get(k), f"{key}.{k}")
            if diff:
                return diff
        return None
    return None if old == new else f"{key}: {old!r} there, {new!r} now"
