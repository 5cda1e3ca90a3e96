"""The training loop: steps, periodic logging, validation, checkpoints, early stopping.

`Trainer` holds the state that a checkpoint saves (model, optimizer, data iterator, counters)
so that an interrupted and resumed run continues exactly where it stopped.
"""

import logging
import math
import time
from dataclasses import dataclass, field

import keras
import tensorflow as tf

from seq2seq.config import TrainRunConfig
from seq2seq.data.pipeline import make_eval_dataset
from seq2seq.decoding import decode_corpus
from seq2seq.errors import Seq2SeqError
from seq2seq.evaluation import sample_lines, task_metrics
from seq2seq.runs import RunDir
from seq2seq.runs.checkpoints import Checkpoints, random_states
from seq2seq.training.run_logger import RunLogger
from seq2seq.training.schedules import PlateauTracker, learning_rate
from seq2seq.training.steps import make_eval_step, make_train_step, select_inputs
from seq2seq.training.validation import evaluate_loss

log = logging.getLogger("seq2seq.train")


class NonFiniteLossError(Seq2SeqError):
    """The loss became NaN or Inf; the last good checkpoint is kept."""


@dataclass
class Interval:
    """Sums of the batch statistics since the last log line."""

    sums: dict[str, float] = field(default_factory=dict)
    grad_norm_sum: float = 0.0
    steps: int = 0
    start: float = field(default_factory=time.perf_counter)

    def add(self, out: dict) -> None:
        for key, value in out.items():
            if key != "grad_norm":
                self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.grad_norm_sum += float(out["grad_norm"])
        self.steps += 1

    def summary(self) -> dict[str, float]:
        s, seconds = self.sums, max(time.perf_counter() - self.start, 1e-9)
        return {
            "train/loss": s["loss_sum"] / max(s["tokens"], 1.0),
            "train/token_accuracy": s["correct"] / max(s["tokens"], 1.0),
            "train/grad_norm": self.grad_norm_sum / max(self.steps, 1),
            "train/real_tokens_per_sec": s["tokens"] / seconds,
            "train/padded_positions_per_sec": (s["positions"] - s["tokens"]) / seconds,
            "train/real_token_fraction": s["tokens"] / max(s["positions"], 1.0),
            "train/source_real_token_fraction": s["source_tokens"]
            / max(s["source_positions"], 1.0),
        }


class Trainer:
    """Runs `cfg.train` on built pieces. Use `run()`; see `seq2seq.training.loop.fit`."""

    def __init__(
        self,
        cfg: TrainRunConfig,
        run_dir: RunDir,
        model: keras.Model,
        tokenizers,
        corpora: dict,
        train_dataset: tf.data.Dataset,
        num_train_examples: int,
    ) -> None:
        self.cfg, self.run_dir, self.model = cfg, run_dir, model
        self.tokenizers, self.corpora = tokenizers, corpora
        self.num_train_examples = max(num_train_examples, 1)
        self.optimizer = build_optimizer(cfg)
        self.optimizer.build(model.trainable_variables)
        self.iterator = iter(train_dataset)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.examples_seen = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.plateau = PlateauTracker(
            cfg.train.schedule.factor, cfg.train.schedule.patience, cfg.train.monitor_mode
        )
        # [best monitored value (NaN = none yet), validations without improvement, plateau x3]
        self.progress = tf.Variable(
            [math.nan, 0.0] + self.plateau.state(), dtype=tf.float64, trainable=False
        )
        self.checkpoints = Checkpoints(
            run_dir.checkpoints,
            state=dict(
                model=model,
                optimizer=self.optimizer,
                iterator=self.iterator,
                random=random_states(model),
                step=self.step,
                examples_seen=self.examples_seen,
                progress=self.progress,
            ),
            model=model,
            keep=cfg.train.keep_checkpoints,
        )
        t = cfg.train
        self.train_step = make_train_step(
            model, self.optimizer, t.label_smoothing, t.optimizer.clip_norm, t.jit_compile
        )
        self.eval_step = make_eval_step(model)
        self.logger: RunLogger | None = None

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> dict[str, float]:
        """Train until a stop condition; return the final summary (also in metrics.json)."""
        restored = self.checkpoints.restore_latest(self.cfg.train.resume_from)
        self.plateau.load_state(self.progress.numpy()[2:].tolist())
        start_step, start_time = int(self.step.numpy()), time.time()
        self.logger = RunLogger(
            self.run_dir,
            self.cfg.logger.tensorboard,
            self.cfg.train.max_steps,
            resume_step=start_step,
        )
        if restored:
            log.info("resuming at step %d from %s", start_step, restored)
        interval, stop_reason = Interval(), None
        while stop_reason is None:
            stop_reason = self._stop_reason(start_time)
            if stop_reason:
                break
            self._one_step(interval)
            step = int(self.step.numpy())
            if step % self.cfg.train.log_every == 0:
                self._log_interval(step, interval)
                interval = Interval()
            if step % self.cfg.train.validate_every == 0:
                paused = time.perf_counter()
                stop_reason = self._validate_and_save(step)
                interval.start += time.perf_counter() - paused  # rates exclude validation
        step = int(self.step.numpy())
        if step % self.cfg.train.validate_every != 0 and step > start_step:
            self._validate_and_save(step)
        log.info("stopped at step %d: %s", step, stop_reason)
        self.logger.close()
        return {
            "stop_reason": stop_reason,
            "steps": step,
            "train_seconds": time.time() - start_time,
            "resumed_from_step": start_step,
        }

    def _one_step(self, interval: Interval) -> None:
        x, y, mask = next(self.iterator)
        lr = learning_rate(int(self.step.numpy()), self.cfg.train) * self.plateau.scale
        self.optimizer.learning_rate.assign(lr)
        out = self.train_step(select_inputs(x), y, mask)
        loss = float(out["loss_sum"]) / max(float(out["tokens"]), 1.0)
        if not math.isfinite(loss) or not math.isfinite(float(out["grad_norm"])):
            raise NonFiniteLossError(
                f"loss is {loss} at step {int(self.step.numpy()) + 1}; stopped. The last good "
                f"checkpoint is {self.checkpoints.last.latest_checkpoint} (try a lower "
                "train.optimizer.learning_rate or train.optimizer.clip_norm)"
            )
        interval.add(out)
        self.step.assign_add(1)
        self.examples_seen.assign_add(float(out["examples"]))

    def _stop_reason(self, start_time: float) -> str | None:
        t = self.cfg.train
        if t.max_steps > 0 and int(self.step.numpy()) >= t.max_steps:
            return "max_steps"
        if t.max_epochs > 0 and self.epoch >= t.max_epochs:
            return "max_epochs"
        if t.max_minutes > 0 and time.time() - start_time >= 60 * t.max_minutes:
            return "max_minutes"
        patience = t.early_stopping_patience
        if patience > 0 and self.progress.numpy()[1] >= patience:
            return "early_stopping"
        return None

    @property
    def epoch(self) -> float:
        return float(self.examples_seen.numpy()) / self.num_train_examples

    def _log_interval(self, step: int, interval: Interval) -> None:
        values = interval.summary()
        values["train/learning_rate"] = float(self.optimizer.learning_rate.numpy())
        values["train/epoch"] = self.epoch
        self.logger.scalars(step, values)
        if self.cfg.logger.console_every and step % self.cfg.logger.console_every == 0:
            self.logger.console(step, values)

    # --- validation and checkpoints -------------------------------------------------------
    def validate(
        self, split: str = "valid", decode_limit: int | None = None
    ) -> tuple[dict[str, float], list[str]]:
        """Loss, accuracy, perplexity on `split`, and task metrics from decoding the first
        `decode_limit` distinct sources (default `train.val_decode_examples`; 0 = all)."""
        corpus = self.corpora[split]
        metrics = evaluate_loss(
            self.eval_step, make_eval_dataset(corpus, self.tokenizers, self.cfg.data)
        )
        samples: list[str] = []
        limit = self.cfg.train.val_decode_examples if decode_limit is None else decode_limit
        if limit >= 0:
            decoded = decode_corpus(
                self.model, self.tokenizers, corpus, self.cfg.data, self.cfg.decode, limit
            )
            metrics.update(task_metrics(self.cfg.task, decoded))
            samples = sample_lines(decoded, self.cfg.train.num_samples)
        return {f"{split_prefix(split)}/{k}": v for k, v in metrics.items()}, samples

    def _validate_and_save(self, step: int) -> str | None:
        """Validate, save the training state (and the best model); return a stop reason."""
        started = time.perf_counter()
        metrics, samples = self.validate("valid")
        self.logger.scalars(step, metrics)
        self.logger.text(step, "val/samples", samples)
        monitor = self.cfg.train.monitor
        if monitor not in metrics:
            raise Seq2SeqError(
                f"train.monitor={monitor!r} is not a validation metric; "
                f"choose one of {sorted(metrics)}"
            )
        value, best = metrics[monitor], self.progress.numpy()[0]
        better = math.isnan(best) or (
            value < best if self.cfg.train.monitor_mode == "min" else value > best
        )
        if self.cfg.train.schedule.name == "plateau":
            self.plateau.update(value)
        progress = [value if better else best, 0.0 if better else self.progress.numpy()[1] + 1]
        self.progress.assign(progress + self.plateau.state())
        self.checkpoints.save(step)
        if better:
            self.checkpoints.save_best(step)
        log.info(
            "validation at step %d (%.1fs): %s%s",
            step,
            time.perf_counter() - started,
            " | ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
            " (best)" if better else "",
        )
        return None


def split_prefix(split: str) -> str:
    return {"valid": "val"}.get(split, split)


def build_optimizer(cfg: TrainRunConfig) -> keras.optimizers.Optimizer:
    """The optimizer of `cfg.train.optimizer`; its learning rate is set by the trainer."""
    o = cfg.train.optimizer
    if o.name == "sgd":
        return keras.optimizers.SGD(learning_rate=o.learning_rate)
    kwargs = dict(
        learning_rate=o.learning_rate, beta_1=o.beta_1, beta_2=o.beta_2, epsilon=o.epsilon
    )
    if o.name == "adamw":
        return keras.optimizers.AdamW(weight_decay=o.weight_decay, **kwargs)
    return keras.optimizers.Adam(**kwargs)
