"""`fit(cfg, run_dir)`: the whole training job as a plain function (no Hydra), for tests,
notebooks and the `seq2seq-train` entry point.

`fit` holds the run directory's lock (one writer per run directory) and handles SIGTERM and
SIGINT (`seq2seq.training.preemption`) for its whole duration. Under `train.strategy=
multi_worker` every worker process calls `fit` with the same run directory: the chief writes
it; the others read its tokenizers and checkpoints and write to a temporary directory, removed
at the end."""

import logging
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import keras
import tensorflow as tf

from seq2seq.config import TrainRunConfig
from seq2seq.data.pipeline import make_train_dataset
from seq2seq.data.streaming import load_training_data
from seq2seq.data.tokenizer import load_or_train_tokenizers, load_tokenizers
from seq2seq.data.tokenizer_checks import warn_about_tokenizers
from seq2seq.files import atomic_write_json
from seq2seq.model import build_model, build_variables
from seq2seq.runs import (
    RunDir,
    RunLock,
    check_run_config,
    check_writable,
    git_commit,
    store_run_config,
)
from seq2seq.runs.hparams import METRIC_PREFIXES, in_sweep, write_experiment, write_trial
from seq2seq.runs.mlflow_run import MlflowRun, tracked_run
from seq2seq.training.distribute import Distribution, make_distribution
from seq2seq.training.hardware import resolve_for_run
from seq2seq.training.preemption import Preemption
from seq2seq.training.trainer import Trainer

log = logging.getLogger("seq2seq.train")


def fit(cfg: TrainRunConfig, run_dir: str | Path) -> dict:
    """Train `cfg` in `run_dir` (resuming it if it holds this run); return metrics.json.

    `model.rnn=auto` and `train.precision=auto` are resolved first (`hardware.py`; a resume
    keeps the run's recorded values), logged in the first line and stored in run_config.yaml.
    Raises RunDirError if another process trains in `run_dir`, and `Interrupted` (a
    SystemExit with status 143/130) after saving on SIGTERM/SIGINT.
    """
    run_dir = RunDir(run_dir)
    cfg = resolve_for_run(cfg, run_dir.config)
    set_threads(cfg.train.num_threads)  # both before TensorFlow starts
    dist = make_distribution(cfg.train)
    if not dist.is_chief:
        return _fit_worker(cfg, run_dir, dist)
    check_writable(run_dir.path)
    with RunLock(run_dir.lock), Preemption() as preemption:
        try:
            return _fit(cfg, run_dir, preemption, dist)
        except Exception:  # a failed trial of a sweep shows as failed in HParams
            if cfg.logger.tensorboard:
                _log_failed_trial(run_dir, cfg)
            raise


def _fit_worker(cfg: TrainRunConfig, run_dir: RunDir, dist: Distribution) -> dict:
    """A worker other than the chief: trains in step with it, writing to a temporary directory
    (checkpoints must be written by every worker), removed at the end."""
    scratch = tempfile.mkdtemp(prefix=f"seq2seq-{dist.task.replace(':', '')}-")
    log.info(
        "%s: writing to %s (removed at the end); the chief writes %s", dist.task, scratch, run_dir
    )
    try:
        with Preemption() as preemption:
            return _fit(cfg, run_dir, preemption, dist, own_dir=RunDir(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _fit(
    cfg: TrainRunConfig,
    run_dir: RunDir,
    preemption: Preemption,
    dist: Distribution,
    own_dir: RunDir | None = None,
) -> dict:
    """Train; `own_dir` is where a worker other than the chief writes (None on the chief)."""
    chief = own_dir is None
    resumed = check_run_config(run_dir, cfg) if chief else False
    commit = git_commit()  # of the code this process loaded, not of the tree at the end
    # logger=mlflow: the chief's MLflow run, ended FAILED if training raises.
    with tracked_run(cfg, run_dir, commit) if chief else nullcontext() as mlflow:
        return _train(cfg, run_dir, preemption, dist, own_dir, resumed, commit, mlflow)


def _train(
    cfg: TrainRunConfig,
    run_dir: RunDir,
    preemption: Preemption,
    dist: Distribution,
    own_dir: RunDir | None,
    resumed: bool,
    commit: str,
    mlflow: MlflowRun | None,
) -> dict:
    """`_fit` once the run directory is checked: build, train, evaluate, record."""
    chief = own_dir is None
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    corpora, stream = load_training_data(cfg.data)  # stream: None, or corpora["train"] a sample
    tokenizers = _tokenizers(cfg, corpora, run_dir, dist)
    if chief:
        warn_about_tokenizers(tokenizers, corpora)
    with dist.scope():
        model = build_model(
            cfg.model,
            tokenizers.source.vocab_size,
            tokenizers.target.vocab_size,
            cfg.train.precision,
        )
    train_ds = make_train_dataset(
        corpora["train"],
        tokenizers,
        cfg.data,
        seed=cfg.train.seed,
        stream=stream,
        sampling=cfg.tokenizer.sampling,
    )
    with dist.scope():
        build_variables(model)
    log.info(
        "model: %s parameters; %s run in %s",
        f"{model.count_params():,}",
        "resuming a" if resumed else "new",
        run_dir,
    )
    trainer = Trainer(
        cfg,
        run_dir if chief else own_dir,
        model,
        tokenizers,
        corpora,
        train_ds,
        num_train_examples=stream.num_pairs if stream else len(corpora["train"].sources),
        preemption=preemption,
        distribution=dist,
        resume_dir=None if chief else str(run_dir.checkpoint_dir("last")),
        mlflow=mlflow,
    )
    if chief:  # only now: a start that failed before leaves no run_config.yaml behind
        store_run_config(run_dir, cfg, commit)
    summary = trainer.run()
    if not chief:
        return summary
    summary.update(trainer.final_evaluation())
    summary.update(parameters=model.count_params(), git=commit)
    atomic_write_json(run_dir.metrics, summary)
    if cfg.logger.tensorboard:
        log_hparams(run_dir, cfg, summary)
    if mlflow is not None:
        mlflow.finish(summary, run_dir)
    return summary


def _tokenizers(cfg: TrainRunConfig, corpora: dict, run_dir: RunDir, dist: Distribution):
    """The run's tokenizers: trained (or loaded) by the chief, then read by the other workers."""
    if dist.is_chief:
        tokenizers = load_or_train_tokenizers(cfg.tokenizer, corpora["train"], run_dir.tokenizer)
        dist.barrier()
        return tokenizers
    dist.barrier()
    return load_tokenizers(run_dir.tokenizer)


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; optionally make TF ops deterministic."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def set_threads(num_threads: int) -> None:
    """Limit TensorFlow's thread pools (0 = leave the default)."""
    if num_threads <= 0:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(num_threads)
        tf.config.threading.set_inter_op_parallelism_threads(num_threads)
    except RuntimeError:  # TensorFlow already started in this process
        log.warning("train.num_threads=%d ignored: TensorFlow was already initialized", num_threads)


# Config sections that sweeps vary: the columns of TensorBoard's HParams dashboard.
HPARAM_SECTIONS = ("data", "tokenizer", "model", "train", "decode")


def log_hparams(run_dir: RunDir, cfg: TrainRunConfig, summary: dict, failed: bool = False) -> None:
    """The run's settings and final `best/*` metrics for TensorBoard's HParams dashboard, so
    that `tensorboard --logdir SWEEP_DIR` compares the jobs of a sweep side by side. A run
    outside a sweep also writes its experiment (a sweep writes one for all its jobs:
    seq2seq.runs.hparams)."""
    hparams: dict = {"task": cfg.task}
    tree = asdict(cfg)
    for section in HPARAM_SECTIONS:
        hparams.update(_scalar_settings(tree[section], section))
    metrics = {
        key: float(value)
        for key, value in summary.items()
        if key.startswith(METRIC_PREFIXES) and isinstance(value, int | float)
    }
    logdir = run_dir.tensorboard
    step = int(summary["steps"])
    write_trial(logdir, hparams, metrics, step, trial_id=str(run_dir), failed=failed)
    if not in_sweep():
        write_experiment(logdir, {k: [v] for k, v in hparams.items()}, sorted(metrics))


def _log_failed_trial(run_dir: RunDir, cfg: TrainRunConfig) -> None:
    """The HParams trial record of a run that raised (never masking its exception)."""
    try:
        log_hparams(run_dir, cfg, {"steps": 0}, failed=True)
    except Exception as exc:
        log.warning("could not write the failed run's HParams record: %s", exc)


def _scalar_settings(node: dict, prefix: str) -> dict:
    """{"model.dropout": 0.1, ...}: nested settings as dotted keys, lists as text, no None."""
    out: dict = {}
    for key, value in node.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            out.update(_scalar_settings(value, name))
        elif isinstance(value, list | tuple):
            out[name] = str(value)
        elif value is not None:
            out[name] = value
    return out
