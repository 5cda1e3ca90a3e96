"""A warning for a best checkpoint that is the run's first validated one while later ones exist:
a metric that never improved after the first validation (e.g. val/wer 100.0 through a short
run) may have picked a model that is barely trained."""

import json
import re
from pathlib import Path

from seq2seq.runs.run_dir import RunDir

_STEP = re.compile(r"ckpt-(\d+)$")


def first_best_warning(run: RunDir, checkpoint: str, monitor: str) -> str | None:
    """The warning text when `checkpoint` (a path `.../best/ckpt-N`) holds the first of the
    run's validations (the steps of the `val/loss` records of metrics.jsonl) and the run
    validated later; None otherwise or when metrics.jsonl does not tell."""
    step = _STEP.search(checkpoint)
    steps = validated_steps(run.metrics_log)
    if step is None or len(steps) < 2 or int(step.group(1)) != steps[0]:
        return None
    return (
        f"the best checkpoint ({Path(checkpoint).name}) is from the run's first validation, at "
        f"step {steps[0]}, though it validated up to step {steps[-1]}: {monitor} never improved "
        "after it, so this model may be barely trained (empty or repeated outputs). Compare "
        "checkpoint=last, and the val/* records of metrics.jsonl"
    )


def validated_steps(metrics_log: Path) -> list[int]:
    """Sorted distinct steps with a `val/loss` record in metrics.jsonl ([] if it is absent)."""
    if not metrics_log.exists():
        return []
    steps = set()
    for line in metrics_log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "val/loss" in record and "step" in record:
            steps.add(int(record["step"]))
    return sorted(steps)
