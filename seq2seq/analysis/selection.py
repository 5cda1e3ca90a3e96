"""Model-selection rules replayed over a finished run's validations, without retraining: which
step `checkpoints/best` would hold under the strict rule (`train.monitor_tolerance=0`), under
tolerances t, under k standard errors (`train.monitor_tolerance_se`), and the last validation.
Plain Python (no TensorFlow import).

The validations come from the run's metrics.jsonl (the monitored metric and `val/loss` of
every validation; a step logged twice by a resumed run keeps its last record). Evaluate a
chosen step with `seq2seq-evaluate run_dir=RUN checkpoint=step:N` (while
`checkpoints/last` still keeps it: `train.keep_checkpoints`).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from seq2seq.analysis.runs import read_curves
from seq2seq.runs import RunDir
from seq2seq.runs.selection import Validated, select

STRICT, LAST = "strict", "last"


@dataclass(frozen=True)
class Choice:
    """The validation a rule selects: `rule` is `strict`, `tolerance <t>` or `last`."""

    rule: str
    step: int
    value: float  # the monitored metric at that validation
    loss: float  # its val/loss


def replay(
    history: Sequence[Validated],
    mode: str,
    tolerances: Iterable[float] = (),
    standard_errors: Iterable[float] = (),
    count: int = 0,
) -> list[Choice]:
    """For each rule the validation of `history` (in step order) it selects: `strict`, then
    `tolerance <t>` for each t > 0 of `tolerances` (`train.monitor_tolerance`), `se <k>` for
    each k > 0 of `standard_errors` (`train.monitor_tolerance_se`: k standard errors of the
    best value, a rate in percent over `count` items), then `last`; [] for an empty history."""
    if not history:
        return []
    ses = [k for k in standard_errors if k > 0]
    if ses and count <= 0:
        raise ValueError("replay: standard-error rules need count > 0 (decoded sentences)")
    rules = [(STRICT, 0.0, 0.0)] + [(f"tolerance {t:g}", t, 0.0) for t in tolerances if t > 0]
    rules += [(f"se {k:g}", 0.0, k) for k in ses]
    out = [_choice(rule, select(history, mode, t, k, count)) for rule, t, k in rules]
    return out + [_choice(LAST, history[-1])]


def replay_run(
    run_dir: str | Path,
    tolerances: Iterable[float] = (0.25, 0.5, 1.0),
    standard_errors: Iterable[float] = (),
    count: int | None = None,
    monitor: str | None = None,
    mode: str | None = None,
) -> list[Choice]:
    """`replay` over the validations of `run_dir`; `monitor` and `mode` default to the run's
    `train.monitor` and `train.monitor_mode`, `count` to its `train.val_decode_examples`
    (run_config.yaml; pass the split's size when that is larger, or 0 = all)."""
    train = OmegaConf.load(RunDir(run_dir).config).train
    return replay(
        validation_history(run_dir, monitor or train.monitor),
        mode or train.monitor_mode,
        tolerances,
        standard_errors,
        train.get("val_decode_examples", 0) if count is None else count,
    )


def validation_history(run_dir: str | Path, monitor: str) -> list[Validated]:
    """The run's validations in step order: step, `monitor` value, `val/loss` (NaN if absent);
    ValueError when metrics.jsonl has no record of `monitor`."""
    curves = read_curves(run_dir)
    if monitor not in curves:
        tags = sorted(t for t in curves if t.startswith("val/"))
        raise ValueError(f"{run_dir}: no {monitor} records in metrics.jsonl (it has {tags})")
    losses = dict(curves.get("val/loss", []))
    return [Validated(s, v, losses.get(s, math.nan)) for s, v in curves[monitor]]


def _choice(rule: str, v: Validated) -> Choice:
    return Choice(rule, v.step, v.value, v.loss)
