"""Reading runs for analysis in notebooks: curves from metrics.jsonl, summaries from
metrics.json, settings from run_config.yaml. Plain Python (no TensorFlow import)."""

import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from seq2seq.runs import RunDir
from seq2seq.runs.run_dir import RUN_CONFIG


def find_runs(root: str | Path = "logs/train") -> list[Path]:
    """Run directories under `root` (single runs and multirun jobs), oldest first."""
    runs = [RunDir(p.parent) for p in Path(root).rglob(RUN_CONFIG)]
    return [r.path for r in sorted(runs, key=lambda r: r.config.stat().st_mtime)]


def read_curves(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} from metrics.jsonl; a step logged twice keeps the last."""
    curves: dict[str, dict[int, float]] = {}
    path = RunDir(run_dir).metrics_log
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        step = record.pop("step")
        record.pop("time", None)
        for tag, value in record.items():
            curves.setdefault(tag, {})[step] = value
    return {tag: sorted(points.items()) for tag, points in curves.items()}


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """One row: the run's config (dotted keys), then its metrics.json (if finished)."""
    run_dir = Path(run_dir)
    row: dict[str, Any] = {"run_dir": str(run_dir)}
    row.update(flatten(OmegaConf.to_container(OmegaConf.load(RunDir(run_dir).config))))
    metrics = RunDir(run_dir).metrics
    if metrics.exists():
        row.update(flatten(json.loads(metrics.read_text(encoding="utf-8"))))
    return row


def varying_keys(rows: list[dict[str, Any]]) -> list[str]:
    """Config keys whose values differ between `rows` (what a sweep changed)."""
    keys = {k for row in rows for k in row if not k.startswith(("best", "run_dir", "git"))}
    return sorted(
        k
        for k in keys
        if len({repr(row.get(k)) for row in rows}) > 1
        and "/" not in k
        and not k.startswith(("train_seconds", "steps", "real_"))
    )
