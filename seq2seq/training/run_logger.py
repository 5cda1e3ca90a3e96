"""Where training figures go: TensorBoard, `metrics.jsonl` (one JSON object per event, for
notebooks), MLflow with `logger=mlflow`, and a console line per interval with rate and ETA."""

import json
import logging
import time
from pathlib import Path

import tensorflow as tf

from seq2seq.files import atomic_write_text
from seq2seq.runs import RunDir
from seq2seq.runs.mlflow_run import MlflowRun
from seq2seq.runs.scalar_descriptions import describe

log = logging.getLogger("seq2seq.train")


class RunLogger:
    """Writes scalars and texts under tags like `train/loss`, `val/wer`.

    Args:
        run_dir: the run directory; TensorBoard events go to its `tensorboard/`.
        tensorboard: write TensorBoard events.
        max_steps: used for the ETA on the console.
        resume_step: the step a resumed run restarts from (0 for a fresh start). Records of
            later steps (written before a crash or kill, which a resume logs again) and a
            truncated last line are dropped from metrics.jsonl; TensorBoard purges its own
            when it sees the step again (MLflow keeps both values of such a step).
        mlflow: the run's MLflow run (`logger=mlflow`), which gets the same scalars.
    """

    def __init__(
        self,
        run_dir: RunDir,
        tensorboard: bool,
        max_steps: int,
        resume_step: int = 0,
        mlflow: MlflowRun | None = None,
    ) -> None:
        self.writer = (
            tf.summary.create_file_writer(str(run_dir.tensorboard)) if tensorboard else None
        )
        path = run_dir.metrics_log
        if path.exists():
            _drop_records_after(path, resume_step)
        self.jsonl = open(path, "a", encoding="utf-8")
        self.max_steps = max_steps
        self.mlflow = mlflow
        self.start_time = time.time()
        self.start_step: int | None = None

    def scalars(self, step: int, values: dict[str, float]) -> None:
        record = {"step": int(step), "time": round(time.time(), 3)}
        record.update({k: float(v) for k, v in values.items()})
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        if self.writer is not None:
            with self.writer.as_default(step=step):
                for tag, value in values.items():
                    tf.summary.scalar(tag, value, description=describe(tag))
            self.writer.flush()
        if self.mlflow is not None:
            self.mlflow.log_metrics(step, values)

    def text(self, step: int, tag: str, lines: list[str]) -> None:
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.text(tag, "\n\n".join(lines))

    def console(self, step: int, values: dict[str, float]) -> None:
        """One human-readable line: step, loss, accuracy, lr, tokens/s, ETA."""
        if self.start_step is None:
            self.start_step, self.start_time = step, time.time()
        rate = (step - self.start_step) / max(time.time() - self.start_time, 1e-6)
        eta = (self.max_steps - step) / rate if rate > 0 and self.max_steps > 0 else float("nan")
        parts = [f"step {step}/{self.max_steps}"]
        for key, fmt in (
            ("train/epoch", "epoch {:.2f}"),
            ("train/loss", "loss {:.4f}"),
            ("train/token_accuracy", "acc {:.3f}"),
            ("train/learning_rate", "lr {:.2e}"),
            ("train/real_tokens_per_sec", "{:,.0f} tok/s"),
            ("train/real_token_fraction", "real {:.3f}"),
        ):
            if key in values:
                parts.append(fmt.format(values[key]))
        parts.append(f"ETA {_duration(eta)}")
        log.info(" | ".join(parts))

    def close(self) -> None:
        self.jsonl.close()
        if self.writer is not None:
            self.writer.close()


def _drop_records_after(path: Path, step: int) -> None:
    """Keep the records of steps <= `step`; drop later and unreadable (half-written) ones."""
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line + "\n")
        except (ValueError, KeyError, TypeError):
            continue
    atomic_write_text(path, "".join(kept))


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "?"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{sec:02d}s"
