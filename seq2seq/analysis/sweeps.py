"""A sweep's table: one row per job of a multirun, with its overrides, status and final metrics.

Every job of a `-m` sweep records its outcome in `<job dir>/status.json`
(`{"status": "ok" | "failed", "error": one line | null}`: `seq2seq.runs.job_status`).
`summarize_sweep(SWEEP_DIR)` reads every job directory under the sweep directory and writes
`SWEEP_DIR/summary.csv` (every override key and metric) and `SWEEP_DIR/summary.md` (what the
jobs changed), sorted by the optimized metric, failed jobs last. Plain Python (no TensorFlow).
"""

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seq2seq.files import atomic_write_text
from seq2seq.runs.job_status import OK, read_status
from seq2seq.runs.run_dir import STATUS_FILE, RunDir

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
OVERRIDES_FILE = Path(".hydra") / "overrides.yaml"
MULTIRUN_FILE = "multirun.yaml"  # Hydra's composed config of the sweep, in the sweep dir
# metrics.json keys shown besides best/val/* and best/test/*.
RUN_KEYS = ("steps", "train_seconds", "real_tokens_per_sec")
METRIC_PREFIXES = ("best/val/", "best/test/")
# Metrics (last part of the key) that are better when lower; every other one is maximized.
LOWER_IS_BETTER = ("loss", "perplexity", "wer", "per", "cer", "ter")
MINIMIZE, MAXIMIZE = "minimize", "maximize"


@dataclass
class SweepRow:
    """One job of a sweep."""

    job: str  # its directory relative to the sweep directory ("0", "1", ...)
    status: str  # ok | failed
    error: str = ""  # one line; empty when ok
    overrides: dict[str, str] = field(default_factory=dict)  # key -> value as typed
    metrics: dict[str, float] = field(default_factory=dict)  # best/val/*, best/test/*, RUN_KEYS


# --- reading a sweep ----------------------------------------------------------------------


def job_dirs(sweep_dir: str | Path) -> list[Path]:
    """Job directories under `sweep_dir` (holding .hydra/overrides.yaml or status.json), in
    job order (numeric names by number)."""
    sweep_dir = Path(sweep_dir)
    found = {p.parent.parent for p in sweep_dir.rglob(str(OVERRIDES_FILE))}
    found |= {p.parent for p in sweep_dir.rglob(STATUS_FILE)}
    found.discard(sweep_dir)

    def order(path: Path) -> tuple:
        name = str(path.relative_to(sweep_dir))
        return (0, int(name), "") if name.isdigit() else (1, 0, name)

    return sorted(found, key=order)


def read_overrides(job_dir: Path) -> dict[str, str]:
    """{key: value} of the job's command-line overrides (`+key=v`, `~key` keep their key)."""
    path = job_dir / OVERRIDES_FILE
    if not path.exists():
        return {}
    out = {}
    for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
        key, _, value = str(item).partition("=")
        out[key.lstrip("+~")] = value
    return out


def read_metrics(job_dir: Path) -> dict[str, float]:
    """The sweep-table figures of the job's metrics.json (empty if it has none)."""
    path = RunDir(job_dir).metrics
    if not path.exists():
        return {}
    metrics = json.loads(path.read_text(encoding="utf-8"))
    return {
        key: float(value)
        for key, value in metrics.items()
        if (key.startswith(METRIC_PREFIXES) or key in RUN_KEYS)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }


def sweep_rows(sweep_dir: str | Path) -> list[SweepRow]:
    """One row per job of the sweep, in job order."""
    sweep_dir = Path(sweep_dir)
    rows = []
    for job_dir in job_dirs(sweep_dir):
        status, error = read_status(job_dir)
        rows.append(
            SweepRow(
                job=str(job_dir.relative_to(sweep_dir)),
                status=status,
                error=error,
                overrides=read_overrides(job_dir),
                metrics=read_metrics(job_dir),
            )
        )
    return rows


def sweep_objective(sweep_dir: str | Path) -> tuple[str | None, str | None]:
    """(optimized_metric, the sweeper's direction or None) from the sweep's multirun.yaml, or
    from its first job's .hydra/ where there is none (hydra-optuna-sweeper writes none)."""
    path = Path(sweep_dir) / MULTIRUN_FILE
    if path.exists():
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        hydra = cfg.get("hydra") or {}
    else:
        jobs = [d / ".hydra" for d in job_dirs(sweep_dir) if (d / ".hydra/config.yaml").exists()]
        if not jobs:
            return None, None
        cfg = yaml.safe_load((jobs[0] / "config.yaml").read_text(encoding="utf-8")) or {}
        hydra_file = jobs[0] / "hydra.yaml"
        hydra = {}
        if hydra_file.exists():
            hydra = (yaml.safe_load(hydra_file.read_text(encoding="utf-8")) or {}).get("hydra", {})
    direction = (hydra.get("sweeper") or {}).get("direction")
    return cfg.get("optimized_metric"), direction if isinstance(direction, str) else None


def lower_is_better(metric: str) -> bool:
    """True for losses and error rates (`best/val/wer`), False for scores (`best/val/bleu`)."""
    return metric.rsplit("/", 1)[-1] in LOWER_IS_BETTER


def sort_rows(rows: list[SweepRow], metric: str | None, minimize: bool) -> list[SweepRow]:
    """Best first by `metric`; jobs without it after, failed jobs last (each in job order)."""

    def key(row: SweepRow) -> tuple:
        value = row.metrics.get(metric) if metric else None
        missing = value is None or math.isnan(value)
        score = 0.0 if missing else (value if minimize else -value)
        return (row.status != OK, missing, score)

    return sorted(rows, key=key)  # stable: ties keep job order


# --- writing the tables -------------------------------------------------------------------


def summarize_sweep(
    sweep_dir: str | Path, metric: str | None = None, direction: str | None = None
) -> list[SweepRow]:
    """Write SWEEP_DIR/summary.csv and summary.md; return the rows, best first.

    `metric` defaults to the sweep's `optimized_metric` (multirun.yaml); `direction`
    (minimize | maximize) to the sweeper's, else to `lower_is_better(metric)`.
    """
    sweep_dir = Path(sweep_dir)
    stored_metric, stored_direction = sweep_objective(sweep_dir)
    metric = metric or stored_metric
    direction = direction or stored_direction
    if direction not in (None, MINIMIZE, MAXIMIZE):
        raise ValueError(f"direction must be {MINIMIZE} or {MAXIMIZE}, got {direction!r}")
    minimize = direction == MINIMIZE if direction else bool(metric and lower_is_better(metric))
    rows = sort_rows(sweep_rows(sweep_dir), metric, minimize)
    atomic_write_text(sweep_dir / SUMMARY_CSV, format_csv(rows, metric))
    atomic_write_text(sweep_dir / SUMMARY_MD, format_markdown(rows, metric, minimize, sweep_dir))
    return rows


def override_keys(rows: list[SweepRow]) -> list[str]:
    """Every override key, in order of first appearance."""
    return list(dict.fromkeys(k for row in rows for k in row.overrides))


def varying_overrides(rows: list[SweepRow]) -> list[str]:
    """Override keys whose value differs between jobs (what the sweep changed)."""
    return [k for k in override_keys(rows) if len({r.overrides.get(k) for r in rows}) > 1]


def metric_keys(rows: list[SweepRow], metric: str | None) -> list[str]:
    """The optimized metric, then best/val/*, best/test/* (sorted), then RUN_KEYS."""
    present = {k for row in rows for k in row.metrics}
    ordered = [metric] if metric in present else []
    for prefix in METRIC_PREFIXES:
        ordered += sorted(k for k in present if k.startswith(prefix) and k != metric)
    return ordered + [k for k in RUN_KEYS if k in present]


def format_csv(rows: list[SweepRow], metric: str | None) -> str:
    """job, status, every override key, every metric, error."""
    overrides, metrics = override_keys(rows), metric_keys(rows, metric)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["job", "status", *overrides, *metrics, "error"])
    for row in rows:
        writer.writerow(
            [row.job, row.status]
            + [row.overrides.get(k, "") for k in overrides]
            + [_csv_number(row.metrics.get(k)) for k in metrics]
            + [row.error]
        )
    return out.getvalue()


def format_markdown(
    rows: list[SweepRow], metric: str | None, minimize: bool, sweep_dir: Path | None = None
) -> str:
    """A heading, counts, the overrides every job shares, and a table of what differs."""
    failed = sum(row.status != OK for row in rows)
    varying = varying_overrides(rows)
    common = [k for k in override_keys(rows) if k not in varying]
    metrics = metric_keys(rows, metric)
    lines = [f"# Sweep {sweep_dir}" if sweep_dir else "# Sweep", ""]
    lines.append(f"{len(rows)} jobs: {len(rows) - failed} ok, {failed} failed.")
    if metric:
        better = "lower" if minimize else "higher"
        lines.append(f"Sorted by `{metric}` ({better} is better), failed jobs last.")
    if common and rows:
        shared = " ".join(f"{k}={rows[0].overrides.get(k, '')}" for k in common)
        lines.append(f"Every job: `{shared}`.")
    lines.append("")
    header = ["job", "status", *varying, *metrics, "error"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        cells = (
            [row.job, row.status]
            + [row.overrides.get(k, "") for k in varying]
            + [_md_number(row.metrics.get(k)) for k in metrics]
            + [row.error]
        )
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def describe_job(row: SweepRow, keys: list[str]) -> str:
    """`job 1 (model.encoder_units=0)`: the job and its values of `keys`."""
    settings = " ".join(f"{k}={row.overrides[k]}" for k in keys if k in row.overrides)
    return f"job {row.job}" + (f" ({settings})" if settings else "")


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(value)


def _md_number(value: float | None) -> str:
    if value is None:
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.0f}" if 1e3 <= abs(value) < 1e15 else f"{value:.4g}"


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|")
