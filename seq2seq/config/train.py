"""Schemas of the `train`, `logger` and `paths` config groups."""

from dataclasses import dataclass, field

from seq2seq.config.checks import check_choice
from seq2seq.config.hardware import AUTO
from seq2seq.errors import ConfigError


@dataclass
class OptimizerConfig:
    name: str = "adam"  # adam | adamw | sgd
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    clip_norm: float = 5.0  # global gradient-norm clipping; 0 disables
    # adam/adamw: each variable's update in one TensorFlow kernel (seq2seq.training.optimizers;
    # the same math and slots as Keras' optimizer); false: Keras' element-wise update.
    fused: bool = True


@dataclass
class ScheduleConfig:
    # constant | cosine (warmup then cosine decay to min_ratio) | inverse_sqrt | plateau
    name: str = "cosine"
    warmup_steps: int = 200
    min_ratio: float = 0.02
    # plateau: multiply by `factor` after `patience` validations without improvement.
    factor: float = 0.5
    patience: int = 2


STRATEGIES = ("default", "mirrored", "multi_worker")
# float32 | mixed_bfloat16 (float32 weights, bfloat16 matmuls and activations; no loss scaling
# needed). float16 is not offered: it needs loss scaling, and bfloat16 runs wherever it would.
PRECISIONS = ("float32", "mixed_bfloat16")
# The metric that train.monitor_tolerance_se reads as a rate of independent items.
SE_MONITOR = "val/wer"


@dataclass
class TrainConfig:
    max_steps: int = 10000
    max_epochs: int = 0  # 0 = no epoch limit; stops at whichever comes first
    max_minutes: float = 0.0  # wall-clock budget, 0 = none
    label_smoothing: float = 0.0
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    log_every: int = 50
    validate_every: int = 500
    # Early stopping on a validation metric (e.g. val/loss, val/wer).
    monitor: str = "val/loss"
    monitor_mode: str = "min"  # min | max
    early_stopping_patience: int = 0  # validations without improvement; 0 disables
    # checkpoints/best robust to a noisy validation set: a later validation whose monitored
    # value is worse than the best so far by at most this much (in the metric's units, e.g.
    # 0.5 = half a WER point) becomes the best checkpoint too; the best value stays the true
    # optimum, and early stopping and the plateau schedule still count strict improvements only.
    # 0 = keep only improvements (ties: the lower val/loss, then the later step).
    monitor_tolerance: float = 0.0
    # The tolerance as this many standard errors of the best val/wer, a rate in percent of the
    # n decoded validation words (one right-or-wrong decision each): sqrt(p (100 - p) / n),
    # n = val_decode_examples or the split's distinct sources if fewer (e.g. 1.0 at a WER of
    # 30 on 1000 words: 1.45). With monitor_tolerance too, the larger applies. 0 = off.
    monitor_tolerance_se: float = 0.0
    keep_checkpoints: int = 3
    # Training-state checkpoints besides the one at each validation: every `save_every` steps
    # and/or when `save_every_minutes` have passed since the last one (0 disables either).
    save_every: int = 0
    save_every_minutes: float = 2.0
    # A step with a NaN/Inf loss or gradient: `stop` (keep the last good checkpoint) or
    # `skip` (don't apply its update, count it in train/skipped_steps, stop after
    # `max_skipped_in_a_row` consecutive skipped steps).
    on_nonfinite: str = "stop"
    max_skipped_in_a_row: int = 10
    seed: int = 1234
    deterministic: bool = False
    # Decode this many distinct validation sources (evenly spaced over the split, which may be
    # sorted by length) at each validation for task metrics
    # (0 = all, -1 = none); the final evaluation of the best checkpoint decodes all.
    val_decode_examples: int = 1000
    num_samples: int = 5  # sample predictions written to TensorBoard text
    jit_compile: bool = False
    # Compute precision of training (PRECISIONS, or auto): mixed_bfloat16 pays on CPUs with
    # AVX-512 BF16 or AMX (oneDNN), Ampere+ GPUs and TPUs; weights and checkpoints stay float32;
    # with model.rnn=fused the GRU recurrence stays in float32. auto: mixed_bfloat16 on such
    # hardware, float32 elsewhere (seq2seq/config/hardware.py; resolved when training starts
    # and recorded in run_config.yaml). Validation and the final scores of training decode with
    # this model; seq2seq-evaluate, translate and export compute in decode.precision (float32
    # by default).
    precision: str = AUTO
    # TensorFlow intra-/inter-op threads (0 = TensorFlow's default, all cores). Set it to
    # cores / n_jobs for parallel sweep jobs on one machine (hydra/launcher=local).
    num_threads: int = 0
    # Resume from this checkpoint path instead of the newest one in the run directory.
    resume_from: str | None = None
    # tf.distribute (README, "More than one device"): default (one device) | mirrored (the
    # devices of one machine) | multi_worker (several processes or machines; the cluster comes
    # from TF_CONFIG or, without it, from SLURM). Each global batch is split into equal row
    # slices, one per replica; the loss is normalised over all replicas' real target tokens.
    strategy: str = "default"
    # mirrored: replicas (0 = every GPU). Without GPUs, N > 1 splits the CPU into N logical
    # devices: no faster, but runs the distributed code path on any machine.
    devices: int = 0

    def __post_init__(self) -> None:
        if self.monitor_mode not in ("min", "max"):
            raise ConfigError(f"train.monitor_mode must be min or max, got {self.monitor_mode!r}")
        if not self.monitor_tolerance >= 0:  # also rejects NaN
            raise ConfigError(
                f"train.monitor_tolerance must be >= 0 (0 = off), got {self.monitor_tolerance}"
            )
        self._check_tolerance_se()
        if self.max_steps <= 0 and self.max_epochs <= 0 and self.max_minutes <= 0:
            raise ConfigError("set one of train.max_steps, train.max_epochs, train.max_minutes")
        if self.schedule.name not in ("constant", "cosine", "inverse_sqrt", "plateau"):
            raise ConfigError(f"train.schedule.name unknown: {self.schedule.name!r}")
        if self.optimizer.name not in ("adam", "adamw", "sgd"):
            raise ConfigError(f"train.optimizer.name unknown: {self.optimizer.name!r}")
        if self.on_nonfinite not in ("stop", "skip"):
            raise ConfigError(f"train.on_nonfinite must be stop or skip, got {self.on_nonfinite!r}")
        if self.save_every < 0 or self.save_every_minutes < 0:
            raise ConfigError(
                "train.save_every and train.save_every_minutes must be >= 0 (0 = off), got "
                f"{self.save_every} and {self.save_every_minutes}"
            )
        if self.max_skipped_in_a_row < 1:
            raise ConfigError(
                f"train.max_skipped_in_a_row must be >= 1, got {self.max_skipped_in_a_row}"
            )
        check_choice("train.strategy", self.strategy, STRATEGIES)
        if self.devices < 0 or (self.devices and self.strategy != "mirrored"):
            raise ConfigError(
                f"train.devices={self.devices}: a count >= 0, used by train.strategy=mirrored "
                "only (multi_worker uses each machine's GPUs, or its CPU)"
            )
        check_choice("train.precision", self.precision, (*PRECISIONS, AUTO))
        if self.jit_compile and self.strategy != "default":
            raise ConfigError("train.jit_compile=true works with train.strategy=default only")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(
                f"train.label_smoothing must be in [0, 1), got {self.label_smoothing}"
            )

    def _check_tolerance_se(self) -> None:
        se = self.monitor_tolerance_se
        if not se >= 0:
            raise ConfigError(f"train.monitor_tolerance_se must be >= 0 (0 = off), got {se}")
        if se > 0 and (self.monitor != SE_MONITOR or self.val_decode_examples < 0):
            raise ConfigError(
                f"train.monitor_tolerance_se={se} needs train.monitor={SE_MONITOR} (a rate of "
                "decoded words) and train.val_decode_examples >= 0, got "
                f"{self.monitor} and {self.val_decode_examples}; or use train.monitor_tolerance"
            )


@dataclass
class MlflowConfig:
    # Track the run in MLflow (the `mlflow` extra; docs/tracking.md). `logger=mlflow` sets it.
    enabled: bool = False
    # The MLflow store: a sqlite:/// database (a relative path is taken from the directory the
    # command started in, and made absolute), a tracking server's http(s):// address, or a
    # directory. One store for all runs: the default is logs/mlflow.db.
    tracking_uri: str = "sqlite:///${paths.log_dir}/mlflow.db"
    # null = the `experiment=` choice (e.g. g2p_cmudict), else the task (g2p, translation).
    experiment_name: str | None = None
    # null = the run directory's name (a sweep job: <sweep directory name>/<job number>).
    run_name: str | None = None


@dataclass
class LoggerConfig:
    tensorboard: bool = True
    # Console progress line every N steps (0 = only at validation).
    console_every: int = 50
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)


@dataclass
class PathsConfig:
    root_dir: str = "."
    log_dir: str = "logs"
