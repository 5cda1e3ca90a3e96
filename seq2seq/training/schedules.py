"""Learning-rate schedules as pure functions of the step, plus a plateau tracker.

The trainer sets `optimizer.learning_rate` from `learning_rate(step, cfg) * plateau.scale`
before each step, so a schedule is plain Python that tests can call directly.
"""

import math

from seq2seq.config import TrainConfig


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Learning rate at optimizer step `step` (0-based) for `cfg.schedule`.

    - constant: linear warmup, then the peak rate.
    - cosine: linear warmup, then cosine decay to `min_ratio * peak` at `max_steps`.
    - inverse_sqrt: linear warmup, then peak * sqrt(warmup / step).
    - plateau: linear warmup, then the peak rate (scaled by PlateauTracker).
    """
    peak = cfg.optimizer.learning_rate
    sched = cfg.schedule
    warmup = max(sched.warmup_steps, 0)
    if step < warmup:
        return peak * (step + 1) / warmup
    if sched.name == "cosine":
        total = max(cfg.max_steps - warmup, 1)
        progress = min((step - warmup) / total, 1.0)
        ratio = sched.min_ratio + (1 - sched.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        return peak * ratio
    if sched.name == "inverse_sqrt":
        return peak * math.sqrt(max(warmup, 1) / max(step, 1))
    return peak


class PlateauTracker:
    """Multiplies the rate by `factor` after `patience` validations without improvement.

    Its state (scale, best, bad count) is saved in the checkpoint by the trainer.
    """

    def __init__(self, factor: float, patience: int, mode: str = "min") -> None:
        self.factor, self.patience, self.mode = factor, patience, mode
        self.scale = 1.0
        self.best: float | None = None
        self.bad = 0

    def update(self, value: float) -> None:
        """Record one validation result."""
        improved = self.best is None or (
            value < self.best if self.mode == "min" else value > self.best
        )
        if improved:
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad >= self.patience:
            self.scale *= self.factor
            self.bad = 0

    def state(self) -> list[float]:
        return [self.scale, math.nan if self.best is None else self.best, float(self.bad)]

    def load_state(self, state: list[float]) -> None:
        self.scale = float(state[0])
        self.best = None if math.isnan(state[1]) else float(state[1])
        self.bad = int(state[2])
