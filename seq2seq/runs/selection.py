"""Best-checkpoint selection: which validations the trainer saves as `checkpoints/best`
(`train.monitor`, `train.monitor_mode`, `train.monitor_tolerance`), and the same rule replayed
over a list of validations (`select`, used by `seq2seq.analysis.selection`). Plain Python.

A validation *improves* the best when its monitored value is strictly better, or ties it with a
validation loss no higher (so a tie never keeps an untrained first checkpoint). With a
tolerance t > 0 a validation that does not improve, but is worse than the best value so far by
at most t, is *saved* too: `checkpoints/best` then holds the last checkpoint within t of the
optimum seen up to it, while the best value itself stays the optimum. Tolerance 0 saves only
improvements. Early stopping counts validations that do not improve. The tolerance may also be
a number of standard errors of the best value, a rate in percent (`tolerance_at`).
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Validated:
    """One validation of a run: its step, monitored value and validation loss."""

    step: int
    value: float
    loss: float


@dataclass(frozen=True)
class Decision:
    """What a validation does: `improved` sets a new best value (and resets early stopping);
    `saved` makes it the best checkpoint (an improvement, or within the tolerance)."""

    improved: bool
    saved: bool


def is_better(value: float, loss: float, best: float, best_loss: float, mode: str) -> bool:
    """Whether a validation with monitored `value` and validation `loss` improves on the best
    one (`best`, `best_loss`; NaN: none yet). A tie on the monitored metric (e.g. val/wer 100.0
    through the start of a run) goes to the lower loss, then to the later validation (this
    one), so that a tie never keeps an untrained first checkpoint."""
    if math.isnan(best):
        return True
    if value != best:
        return value < best if mode == "min" else value > best
    return not loss > best_loss  # also True when either loss is NaN


def within_tolerance(value: float, best: float, mode: str, tolerance: float) -> bool:
    """Whether `value` is worse than `best` by at most `tolerance` (> 0) in `mode`'s direction,
    up to float rounding (29.8 is within 0.8 of 29.0); False for a tolerance of 0, no best yet,
    or a NaN value."""
    if tolerance <= 0 or math.isnan(best):
        return False
    worse_by = value - best if mode == "min" else best - value
    return worse_by <= tolerance or math.isclose(worse_by, tolerance)  # False for NaN


def decide(
    value: float, loss: float, best: float, best_loss: float, mode: str, tolerance: float
) -> Decision:
    """The `Decision` for a validation given the best one so far (see the module text)."""
    improved = is_better(value, loss, best, best_loss, mode)
    return Decision(improved, improved or within_tolerance(value, best, mode, tolerance))


def select(
    history: Iterable[Validated],
    mode: str,
    tolerance: float = 0.0,
    standard_errors: float = 0.0,
    count: int = 0,
) -> Validated | None:
    """The validation whose checkpoint the trainer keeps as best after `history` (in step
    order) under `mode`, `tolerance` and `standard_errors` over `count` items (see
    `tolerance_at`); None for an empty history."""
    best, best_loss, saved = math.nan, math.nan, None
    for v in history:
        allowed = tolerance_at(best, tolerance, standard_errors, count)
        decision = decide(v.value, v.loss, best, best_loss, mode, allowed)
        if decision.improved:
            best, best_loss = v.value, v.loss
        if decision.saved:
            saved = v
    return saved


def tolerance_at(best: float, tolerance: float, standard_errors: float, count: int) -> float:
    """The tolerance of the next validation: `tolerance`, or when larger `standard_errors`
    standard errors of the best value so far as a rate in percent over `count` items
    (`train.monitor_tolerance_se`); `tolerance` while there is no best or no count."""
    if standard_errors <= 0 or math.isnan(best) or count <= 0:
        return tolerance
    return max(tolerance, standard_errors * standard_error(best, count))


def standard_error(rate: float, count: int) -> float:
    """The standard error, in percent, of a rate of `rate` percent (e.g. a WER over words)
    measured on `count` independent items: sqrt(p (100 - p) / n). A tolerance of one or two
    standard errors of the best value treats differences that noise explains as ties."""
    if count <= 0:
        raise ValueError(f"standard_error needs count > 0, got {count}")
    p = min(max(rate, 0.0), 100.0)
    return math.sqrt(p * (100.0 - p) / count)
