"""The OmegaConf resolvers that the configs under conf/ use, registered when `seq2seq.config` is
imported (before any of them is composed: the entry points, tests and notebooks import it)."""

import json
import os

from omegaconf import OmegaConf

from seq2seq.resources import shipped_data


def existing_dir_or(path: str, fallback: str) -> str:
    """`path` if it is an existing directory, else `fallback`.

    `${existing_dir_or:...}` places the outputs of the verbs that read a run directory
    (conf/evaluate.yaml, translate.yaml, export.yaml) under it, so that a mistyped `run_dir` is
    reported in one line without Hydra first creating directories at the typo; their outputs
    then go under `fallback` (logs/<verb>).
    """
    return path if path and os.path.isdir(path) else fallback


def export_suffix(export_format: str) -> str:
    """The file name suffix of `seq2seq-export`'s default output for `format`
    (conf/export.yaml): ".tflite" for tflite, "" for a SavedModel directory."""
    return ".tflite" if export_format == "tflite" else ""


def is_chief(task_type: str, index: int, cluster_jobs) -> bool:
    """The multi-worker rule for the one task that writes checkpoints, logs and summaries:
    the "chief" task, or worker 0 when the cluster has no chief job (`cluster_jobs`: the
    cluster spec's job names). `seq2seq.training.distribute` applies it to TensorFlow's cluster
    resolver, `worker_log_suffix` to TF_CONFIG before TensorFlow is imported."""
    return task_type == "chief" or (
        task_type == "worker" and int(index) == 0 and "chief" not in cluster_jobs
    )


def worker_log_suffix(strategy: str) -> str:
    """ "" for a single process and for the chief of `train.strategy=multi_worker`, else
    ".<task type><index>" (".worker1"): `${worker_log_suffix:...}` in conf/hydra/default.yaml
    gives every worker of a multi-worker run its own log file in the shared run directory
    (train.log is the chief's, train.worker1.log the next worker's), read from TF_CONFIG or,
    without it, SLURM_PROCID, as `seq2seq.training.distribute.cluster_resolver` reads them."""
    if strategy != "multi_worker":
        return ""
    if os.environ.get("TF_CONFIG"):
        tf_config = json.loads(os.environ["TF_CONFIG"])
        task = tf_config.get("task", {})
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
        return "" if is_chief(kind, index, tf_config.get("cluster", {})) else f".{kind}{index}"
    index = int(os.environ.get("SLURM_PROCID", "0") or 0)
    return f".worker{index}" if index else ""


def register() -> None:
    OmegaConf.register_new_resolver("existing_dir_or", existing_dir_or, replace=True)
    OmegaConf.register_new_resolver("export_suffix", export_suffix, replace=True)
    OmegaConf.register_new_resolver("worker_log_suffix", worker_log_suffix, replace=True)
    # `${shipped_data:tatoeba_spa_eng/spa.txt.gz}`: a file of the checkout's data/, also inside
    # an installed wheel (seq2seq/resources.py), whatever the working directory.
    OmegaConf.register_new_resolver("shipped_data", shipped_data, replace=True)
