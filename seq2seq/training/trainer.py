"""The training loop: steps, periodic logging, validation, checkpoints, early stopping,
non-finite guards and graceful preemption.

`Trainer` holds the state that a checkpoint saves (model, optimizer, data iterator, dropout
RNG and a `TrainState`: counters, best validation, the partial log interval) so that a run
interrupted at any step, and resumed, continues exactly where it stopped and logs the same
figures as an uninterrupted one.

Under a `mirrored` or `multi_worker` strategy (`distribute.py`) the figures are global (summed
over replicas) and every worker runs the same loop; only the chief validates and writes the run
directory; decisions taken from the clock or a signal are agreed between workers.
"""

import logging
import math
import signal
import time
from dataclasses import dataclass
from typing import NamedTuple

import keras
import tensorflow as tf

from seq2seq.config import TrainRunConfig
from seq2seq.data.pipeline import make_eval_dataset
from seq2seq.data.streaming_files import next_pairs
from seq2seq.decoding import decode_corpus
from seq2seq.errors import Seq2SeqError
from seq2seq.evaluation import sample_lines, task_scores
from seq2seq.runs import RunDir
from seq2seq.runs.checkpoints import Checkpoints, checkpoint_step, random_states, restore_model
from seq2seq.runs.mlflow_run import MlflowRun
from seq2seq.runs.selection import decide, tolerance_at
from seq2seq.training.distribute import Distribution
from seq2seq.training.distributed_step import make_distributed_train_step
from seq2seq.training.optimizers import build_optimizer
from seq2seq.training.preemption import Preemption
from seq2seq.training.run_logger import RunLogger
from seq2seq.training.schedules import learning_rate
from seq2seq.training.steps import make_eval_step, make_train_step, select_inputs
from seq2seq.training.train_state import IntervalSums, TrainState, read_older
from seq2seq.training.validation import evaluate_loss

log = logging.getLogger("seq2seq.train")


class NonFiniteLossError(Seq2SeqError):
    """The loss became NaN or Inf; the last good checkpoint is kept."""


@dataclass
class Throughput:
    """Real target tokens per second of the train steps this process ran (data, forward,
    backward, update), from its second step on: the first traces the step function."""

    tokens: float = 0.0
    seconds: float = 0.0
    steps: int = 0

    def add(self, tokens: float, seconds: float) -> None:
        self.steps += 1
        if self.steps > 1:
            self.tokens, self.seconds = self.tokens + tokens, self.seconds + seconds

    def rate(self) -> float | None:
        """Tokens per second; None before the second step."""
        return self.tokens / self.seconds if self.seconds > 0 else None


class Validation(NamedTuple):
    """What `Trainer.validate` returns for a split."""

    metrics: dict[str, float]  # "<split prefix>/<name>": loss, accuracy, perplexity, task scores
    samples: list[str]  # a few `source -> hypothesis (reference)` lines for TensorBoard
    signatures: dict[str, str]  # translation: the sacrebleu signature of each score; g2p: {}


class Trainer:
    """Runs `cfg.train` on built pieces. Use `run()`, then (on the chief) `final_evaluation()`;
    see `seq2seq.training.loop.fit`."""

    def __init__(
        self,
        cfg: TrainRunConfig,
        run_dir: RunDir,
        model: keras.Model,
        tokenizers,
        corpora: dict,
        train_dataset: tf.data.Dataset,
        num_train_examples: int,
        preemption: Preemption | None = None,
        distribution: Distribution | None = None,
        resume_dir: str | None = None,
        mlflow: MlflowRun | None = None,
    ) -> None:
        """`distribution`: the strategy (model variables must have been created in its scope;
        default: one device). `run_dir` is where this process writes (a temporary directory
        on workers other than the chief); `resume_dir`, if given, where it finds the
        checkpoint to resume from (the chief's `checkpoints/last`). `mlflow`: the chief's
        MLflow run (`logger=mlflow`), which gets the logged scalars too."""
        self.cfg, self.run_dir, self.model = cfg, run_dir, model
        self.preemption = preemption or Preemption()  # not entered: never signalled
        self.dist = distribution or Distribution(tf.distribute.get_strategy())
        self.resume_dir, self.mlflow = resume_dir, mlflow
        self.tokenizers, self.corpora = tokenizers, corpora
        self.num_train_examples = max(num_train_examples, 1)
        with self.dist.scope():
            self.optimizer = build_optimizer(cfg)
            self.optimizer.build(model.trainable_variables)
        self.iterator = iter(train_dataset)
        self.state = TrainState()
        self.step = self.state.step  # the same variable: the step count
        self._interval_start = time.perf_counter()  # of the log interval in progress
        self.checkpoints = Checkpoints(
            run_dir.checkpoints,
            state=dict(
                model=model,
                optimizer=self.optimizer,
                iterator=self.iterator,
                random=random_states(model),
                train_state=self.state,
            ),
            model=model,
            keep=cfg.train.keep_checkpoints,
        )
        self.train_step = self._make_train_step()
        self.eval_step = make_eval_step(model)
        self.logger: RunLogger | None = None
        self._saved_step = -1  # step of the newest training-state checkpoint on disk
        self._last_save = time.perf_counter()
        self.throughput = Throughput()

    def _make_train_step(self):
        t = self.cfg.train
        skip = t.on_nonfinite == "skip"  # apply the update only when every gradient is finite
        if self.dist.distributed:
            return make_distributed_train_step(
                self.dist.strategy,
                self.model,
                self.optimizer,
                t.label_smoothing,
                t.optimizer.clip_norm,
                skip_nonfinite=skip,
            )
        applier = SkipNonFinite(self.optimizer) if skip else self.optimizer
        return make_train_step(
            self.model, applier, t.label_smoothing, t.optimizer.clip_norm, t.jit_compile
        )

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> dict:
        """Train until a stop condition; return the summary of this process's training:
        `stop_reason`, `steps`, `train_seconds`, `resumed_from_step`, `real_tokens_per_sec`
        (`Throughput`; None before a second step).

        On SIGTERM/SIGINT (see `seq2seq.training.preemption`): finish the step, save, raise
        `Interrupted`.
        """
        restored = self._restore()
        start_step, start_time = int(self.step.numpy()), time.time()
        self._saved_step = start_step if restored else -1
        self._last_save = self._interval_start = time.perf_counter()
        self.logger = RunLogger(
            self.run_dir,
            self.cfg.logger.tensorboard and self.dist.is_chief,
            self.cfg.train.max_steps,
            resume_step=start_step,
            mlflow=self.mlflow,
        )
        if restored:
            log.info("resuming at step %d from %s", start_step, restored)
        try:
            with self.preemption.deferred():
                stop_reason = self._loop(start_time)
                step = int(self.step.numpy())
                if int(self.state.validated_step.numpy()) != step:
                    self._validate_and_save(step)
                self._check_preemption(step)
        finally:
            self.logger.close()
        log.info("stopped at step %d: %s", step, stop_reason)
        return {
            "stop_reason": stop_reason,
            "steps": step,
            "train_seconds": time.time() - start_time,
            "resumed_from_step": start_step,
            "real_tokens_per_sec": self.throughput.rate(),
        }

    def _restore(self) -> str | None:
        """Restore the checkpoint to resume from (train.resume_from, or the newest); return
        its path, or None for a fresh start. A checkpoint written before a `TrainState` field
        was added, or until 2026-12-06 (eaafd7d) packed by position, is read field by field
        (`read_older`)."""
        path = self.cfg.train.resume_from
        if path is None and self.resume_dir is not None:
            path = tf.train.latest_checkpoint(self.resume_dir)
        path = path or self.checkpoints.last.latest_checkpoint
        older = read_older(path) if path else None
        restored = self.checkpoints.restore_latest(path, without=("train_state",) if older else ())
        if older:
            self.state.load(older)
            log.info("read the training state of %s from its older layout", path)
        return restored

    def _loop(self, start_time: float) -> str:
        """Steps, logs, validations and checkpoints until a stop condition; return it."""
        t = self.cfg.train
        while True:
            stop_reason = self._stop_reason(start_time)
            if stop_reason:
                return stop_reason
            self._one_step(self.state.interval)
            step = int(self.step.numpy())
            if step % t.log_every == 0:
                self._log_interval(step, self.state.interval)
                self.state.interval.reset()
                self._interval_start = time.perf_counter()
            if step % t.validate_every == 0:
                paused = time.perf_counter()
                self._validate_and_save(step)
                self._interval_start += time.perf_counter() - paused  # rates exclude validation
            elif self._save_due(step):
                self.save(step)
            self._check_preemption(step)

    def _save_due(self, step: int) -> bool:
        t = self.cfg.train
        if t.save_every > 0 and step % t.save_every == 0:
            return True
        minutes = (time.perf_counter() - self._last_save) / 60
        return self.dist.any(t.save_every_minutes > 0 and minutes >= t.save_every_minutes)

    def save(self, step: int) -> str:
        """Write the full training state at `step` (checkpoints/last)."""
        path = self.checkpoints.save(step)
        self._saved_step, self._last_save = step, time.perf_counter()
        return path

    def _check_preemption(self, step: int) -> None:
        """After a SIGTERM/SIGINT (to any worker): save the state at `step` (if not saved
        yet) and exit."""
        if not self.dist.any(self.preemption.requested):
            return
        if not self.preemption.requested:
            log.warning("another worker was interrupted: stopping too")
            self.preemption.signum = signal.SIGTERM
        path = self.checkpoints.last.latest_checkpoint
        if self._saved_step != step:
            path = self.save(step)
        raise self.preemption.interrupt(
            f"at step {step}: saved {path}; run the same command to resume from it"
        )

    def _one_step(self, interval: IntervalSums) -> None:
        started = time.perf_counter()
        x, y, mask = next_pairs(self.iterator)  # a malformed streamed file: DataError
        scale = float(self.state.plateau_scale.numpy())
        lr = learning_rate(int(self.step.numpy()), self.cfg.train) * scale
        self.optimizer.learning_rate.assign(lr)
        batch = (select_inputs(x), y, mask)
        out = self.train_step(*(self.dist.split(*batch) if self.dist.distributed else batch))
        loss = float(out["loss_sum"]) / max(float(out["tokens"]), 1.0)
        if math.isfinite(loss) and math.isfinite(float(out["grad_norm"])):
            interval.add(out)
            self.state.skipped_in_a_row.assign(0)
        else:
            self._non_finite(loss, float(out["grad_norm"]))
        self.step.assign_add(1)
        self.state.examples_seen.assign_add(float(out["examples"]))
        self.throughput.add(float(out["tokens"]), time.perf_counter() - started)

    def _non_finite(self, loss: float, grad_norm: float) -> None:
        """A NaN/Inf loss or gradient: stop (train.on_nonfinite=stop), or count the skipped
        update and stop after train.max_skipped_in_a_row in a row."""
        t, step = self.cfg.train, int(self.step.numpy()) + 1
        last = self.checkpoints.last.latest_checkpoint
        if t.on_nonfinite == "stop":
            raise NonFiniteLossError(
                f"loss is {loss} at step {step}; stopped. The last good checkpoint is {last} "
                "(try a lower train.optimizer.learning_rate or train.optimizer.clip_norm, or "
                "train.on_nonfinite=skip)"
            )
        self.state.skipped_steps.assign_add(1)
        in_a_row = int(self.state.skipped_in_a_row.assign_add(1).numpy())
        log.warning(
            "step %d: loss %s, gradient norm %s: update skipped (%d in a row)",
            step,
            loss,
            grad_norm,
            in_a_row,
        )
        if in_a_row >= t.max_skipped_in_a_row:
            raise NonFiniteLossError(
                f"{in_a_row} steps in a row (to step {step}) had a non-finite loss or gradient "
                f"(train.max_skipped_in_a_row={t.max_skipped_in_a_row}); stopped. The last "
                f"checkpoint is {last}"
            )

    def _stop_reason(self, start_time: float) -> str | None:
        t = self.cfg.train
        if t.max_steps > 0 and int(self.step.numpy()) >= t.max_steps:
            return "max_steps"
        if t.max_epochs > 0 and self.epoch >= t.max_epochs:
            return "max_epochs"
        if self.dist.any(t.max_minutes > 0 and time.time() - start_time >= 60 * t.max_minutes):
            return "max_minutes"
        patience = t.early_stopping_patience
        if patience > 0 and int(self.state.stale_validations.numpy()) >= patience:
            return "early_stopping"
        return None

    @property
    def epoch(self) -> float:
        return float(self.state.examples_seen.numpy()) / self.num_train_examples

    def _log_interval(self, step: int, interval: IntervalSums) -> None:
        values = interval.summary(time.perf_counter() - self._interval_start)
        values["train/learning_rate"] = float(self.optimizer.learning_rate.numpy())
        values["train/epoch"] = self.epoch
        if self.cfg.train.on_nonfinite == "skip":
            values["train/skipped_steps"] = float(self.state.skipped_steps.numpy())
        self.logger.scalars(step, values)
        if self.cfg.logger.console_every and step % self.cfg.logger.console_every == 0:
            self.logger.console(step, values)

    # --- validation and checkpoints -------------------------------------------------------
    def validate(self, split: str = "valid", decode_limit: int | None = None) -> Validation:
        """Loss, accuracy, perplexity on `split`, and task metrics from decoding `decode_limit`
        distinct sources spread over the split (default `train.val_decode_examples`; 0 = all)."""
        corpus = self.corpora[split]
        metrics = evaluate_loss(
            self.eval_step, make_eval_dataset(corpus, self.tokenizers, self.cfg.data)
        )
        samples: list[str] = []
        signatures: dict[str, str] = {}
        limit = self.cfg.train.val_decode_examples if decode_limit is None else decode_limit
        if limit >= 0:
            decoded = decode_corpus(
                self.model, self.tokenizers, corpus, self.cfg.data, self.cfg.decode, limit
            )
            scores, signatures = task_scores(self.cfg.task, decoded)
            metrics.update(scores)
            samples = sample_lines(decoded, self.cfg.train.num_samples)
        prefix = split_prefix(split)
        return Validation({f"{prefix}/{k}": v for k, v in metrics.items()}, samples, signatures)

    def final_evaluation(self) -> dict:
        """The best checkpoint's metrics on the whole valid and test splits (those present),
        as `best/<split prefix>/<name>`, with `best_checkpoint` (its path), `best_step` and the
        sacrebleu `signatures`; {} when no step was run (no checkpoint to evaluate)."""
        if int(self.step.numpy()) == 0:  # e.g. train.max_minutes already used up
            log.warning("no training step was run: no final evaluation")
            return {}
        self.preemption.phase = "the final evaluation (training is complete)"
        path = restore_model(self.model, self.run_dir.checkpoints)
        out: dict = {"best_checkpoint": path, "best_step": checkpoint_step(path)}
        for split in ("valid", "test"):
            if split in self.corpora and self.corpora[split].sources:
                out.update(self._evaluate_best(split))
        return out

    def _evaluate_best(self, split: str) -> dict:
        started = time.perf_counter()
        metrics, _, signatures = self.validate(split, decode_limit=0)  # the whole split
        log.info(
            "best checkpoint on %s (%.1fs): %s",
            split,
            time.perf_counter() - started,
            " | ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
        )
        out: dict = {f"best/{k}": v for k, v in metrics.items()}
        if signatures:  # translation: how BLEU, chrF and TER were computed (sacrebleu)
            out["signatures"] = signatures
        return out

    def _validate_and_save(self, step: int) -> None:
        """Validate, save the best model (if better), then the training state.

        In this order, so that a kill between the two leaves a state from before this
        validation, which a resume repeats with the same outcome."""
        started = time.perf_counter()
        metrics = self._chief_validation(step)
        # Every worker takes the chief's values: the same best, patience and learning rate.
        value, loss = self.dist.broadcast(
            [metrics.get(self.cfg.train.monitor, math.nan), metrics.get("val/loss", math.nan)]
        )
        t, state = self.cfg.train, self.state
        best, best_loss = float(state.best.numpy()), float(state.best_loss.numpy())
        best_step = int(state.best_step.numpy())
        tolerance = self._tolerance(best)
        decision = decide(value, loss, best, best_loss, t.monitor_mode, tolerance)
        if t.schedule.name == "plateau":
            state.update_plateau(value, t.schedule.factor, t.schedule.patience, t.monitor_mode)
        state.record_validation(step, value, loss, decision.improved)
        if decision.saved:
            self.checkpoints.save_best(step)
        self.save(step)
        if self.dist.is_chief:
            note = ""
            if decision.improved:
                note = " (best)"
            elif decision.saved:
                at = f" at step {best_step}" if best_step >= 0 else ""
                note = f" (best: {t.monitor} {value:.4g}, within {tolerance:.3g} of {best:.4g}{at})"
            log.info(
                "validation at step %d (%.1fs): %s%s",
                step,
                time.perf_counter() - started,
                " | ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
                note,
            )

    def _tolerance(self, best: float) -> float:
        """How much worse than `best` a validation may be and still be saved as the best
        checkpoint (train.monitor_tolerance, train.monitor_tolerance_se)."""
        t = self.cfg.train
        if t.monitor_tolerance_se <= 0:
            return t.monitor_tolerance
        sources = len(self.corpora["valid"].references()[0])  # what validation decodes
        count = sources if t.val_decode_examples == 0 else min(t.val_decode_examples, sources)
        return tolerance_at(best, t.monitor_tolerance, t.monitor_tolerance_se, count)

    def _chief_validation(self, step: int) -> dict[str, float]:
        """Validate and log (on the chief; other workers get {} and wait for its value)."""
        if not self.dist.is_chief:
            return {}
        metrics, samples, _ = self.validate("valid")
        self.logger.scalars(step, metrics)
        self.logger.text(step, "val/samples", samples)
        monitor = self.cfg.train.monitor
        if monitor not in metrics:
            raise Seq2SeqError(
                f"train.monitor={monitor!r} is not a validation metric; "
                f"choose one of {sorted(metrics)}"
            )
        return metrics


class SkipNonFinite:
    """Stands in for the optimizer inside the train step: applies the update only when every
    gradient is finite (train.on_nonfinite=skip). The trainer counts the skipped steps from
    the step's loss and gradient norm; a NaN loss comes with NaN gradients."""

    def __init__(self, optimizer: keras.optimizers.Optimizer) -> None:
        self.optimizer = optimizer

    def apply_gradients(self, grads_and_vars) -> None:
        grads_and_vars = list(grads_and_vars)
        finite = tf.math.is_finite(tf.linalg.global_norm([g for g, _ in grads_and_vars]))

        def apply():
            self.optimizer.apply_gradients(grads_and_vars)
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))


def split_prefix(split: str) -> str:
    return {"valid": "val"}.get(split, split)
