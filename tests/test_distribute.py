"""tf.distribute training (train.strategy): the loss is normalised over all replicas' real
target tokens, so a mirrored step equals the one-device step on the same global batch.

Logical CPU devices must be configured before TensorFlow starts: the checks run in a fresh
process (tests/distribute_helpers.py)."""

import json
import math
import subprocess

import pytest

from seq2seq.config import TrainConfig
from seq2seq.config.resolvers import is_chief, worker_log_suffix
from seq2seq.errors import ConfigError
from tests.cli_helpers import BIN, ENV, run_python, run_verb
from tests.distribute_helpers import free_ports, tf_config
from tests.train_helpers import tiny_train_overrides, train_losses


def _run(function: str, *args: str):
    proc = run_python(
        f"import sys; from tests.distribute_helpers import {function}; {function}(*sys.argv[1:])",
        *args,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_mirrored_step_equals_the_one_device_step_and_per_replica_means_would_not():
    out = _run("mirrored_step_against_one_device", "0,0.05")
    unclipped, clipped = out["sgd"]
    for case in (unclipped, clipped):
        # The halves hold very different numbers of real target tokens.
        assert case["half_tokens"] == [25.0, 3.0]
        assert case["mirrored_loss"] == pytest.approx(case["single_loss"], abs=1e-5)
        assert case["update_diff"] < 1e-5, case
        assert case["replicas_equal"]
        for key in ("tokens", "positions", "correct", "examples", "source_tokens"):
            assert case["mirrored"][key] == case["single"][key], key
        assert case["mirrored"]["grad_norm"] == pytest.approx(case["single"]["grad_norm"], 1e-5)
    # Averaging per-replica means would weight the 3 short-half tokens like the 25 long ones:
    # another loss and another update, far outside the tolerance above.
    assert abs(unclipped["per_replica_mean_loss"] - unclipped["single_loss"]) > 100 * 1e-5
    assert unclipped["per_replica_mean_update_diff"] > 100 * 1e-5
    # Clipping by the global norm of the summed gradients: active here, and equal.
    assert clipped["single"]["grad_norm"] > 0.05
    assert clipped["update_size"] <= 0.05
    # Three Adam steps (embedding gradients as slices, as on one device) stay together.
    for single, mirrored in out["adam"]:
        assert mirrored == pytest.approx(single, abs=1e-5)


@pytest.mark.slow  # the adapter's probe and fallback: tests/test_keras_private.py (fast)
def test_without_the_keras_private_the_mirrored_step_still_equals_the_one_device_step():
    """If Keras drops `_all_reduce_sum_gradients`, the step hands it each replica's share of
    the summed gradients (Keras sums them again): the same SGD update, with a warning."""
    proc = run_python(
        "import sys; from tests.distribute_helpers import mirrored_step_without_keras_private;"
        " mirrored_step_without_keras_private('0,0.05')"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "skip_gradient_all_reduce found no way" in proc.stderr
    for case in json.loads(proc.stdout.splitlines()[-1])["sgd"]:
        assert case["mirrored_loss"] == pytest.approx(case["single_loss"], abs=1e-5)
        assert case["update_diff"] < 1e-5, case
        assert case["replicas_equal"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"strategy": "horovod"}, "train.strategy must be default, mirrored or multi_worker"),
        ({"strategy": "default", "devices": 2}, "train.devices=2"),
        ({"strategy": "mirrored", "jit_compile": True}, "jit_compile"),
    ],
)
def test_strategy_settings_are_validated(fields, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**fields)


@pytest.mark.slow
def test_mirrored_run_resumes_exactly(tmp_path):
    """Resumed in a new process, as a user resumes. (Two MirroredStrategy runs in one process
    failed with a collective shape mismatch between them: see issue 13's note.)"""
    full = _run("mirrored_resume", str(tmp_path), "full")["losses"]
    out = _run("mirrored_resume", str(tmp_path), "resume")
    assert out["metrics"]["resumed_from_step"] == 6 and out["metrics"]["steps"] == 12
    resumed = out["losses"]
    assert sorted(full) == sorted(resumed) and len(full) == 6
    for step in full:
        assert resumed[step] == pytest.approx(full[step], abs=1e-6), step


@pytest.mark.slow
def test_multi_worker_matches_one_process_and_only_the_chief_writes(tmp_path):
    """Two worker processes on 127.0.0.1 (TF_CONFIG) against one process, same global batches."""
    overrides = tiny_train_overrides(
        tmp_path,
        "model.dropout=0.0",  # replicas draw other dropout masks than one device
        "train.max_steps=4",
        "train.log_every=1",
        "train.validate_every=4",
        "train.val_decode_examples=10",
        "train.save_every_minutes=0",  # on a loaded machine a timed checkpoint adds files
    )
    single = run_verb("train", *overrides, f"hydra.run.dir={tmp_path / 'single'}")
    assert single.returncode == 0, single.stderr[-3000:]
    ports, scratch = free_ports(2), tmp_path / "tmp"
    scratch.mkdir()
    workers = [
        subprocess.Popen(
            [str(BIN / "seq2seq-train"), *overrides, "train.strategy=multi_worker"]
            + [f"hydra.run.dir={tmp_path / 'run'}"],
            env=dict(ENV, TF_CONFIG=tf_config(ports, i), TMPDIR=str(scratch)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    logs = [w.communicate(timeout=600)[1] for w in workers]
    for worker, log in zip(workers, logs):
        assert worker.returncode == 0, log[-3000:]
    assert "worker:1: writing to" in logs[1] and "(chief)" in logs[0]
    # Each worker its own log file: train.log is the chief's.
    assert "(chief)" in (tmp_path / "run/train.log").read_text()
    assert "worker:1: writing to" in (tmp_path / "run/train.worker1.log").read_text()
    assert "worker:1" not in (tmp_path / "run/train.log").read_text()
    losses, expected = train_losses(tmp_path / "run"), train_losses(tmp_path / "single")
    assert sorted(losses) == sorted(expected) == [1, 2, 3, 4]
    for step in expected:
        assert losses[step] == pytest.approx(expected[step], abs=1e-5), step
    # The chief wrote what one process writes; the other worker's directory is gone.
    assert _files(tmp_path / "run", "checkpoints") == _files(tmp_path / "single", "checkpoints")
    assert len(_files(tmp_path / "run", "tensorboard")) == len(
        _files(tmp_path / "single", "tensorboard")
    )
    assert not list(scratch.iterdir())


def _files(run_dir, sub: str) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in (run_dir / sub).rglob("*") if p.is_file())


@pytest.mark.slow
def test_the_default_experiment_runs_mirrored_on_two_logical_cpus(tmp_path):
    proc = run_verb(
        "train",
        "experiment=g2p_cmudict",
        "debug=smoke",
        "train.strategy=mirrored",
        "train.devices=2",
        f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mirrored over /cpu:0, /cpu:1" in proc.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 20 and metrics["stop_reason"] == "max_steps"
    assert math.isfinite(metrics["best/val/wer"]) and math.isfinite(metrics["best/test/loss"])


def _task(cluster: dict, kind: str, index: int) -> dict:
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


TWO_WORKERS, CHIEF_AND_WORKER = {"worker": ["a", "b"]}, {"chief": ["a"], "worker": ["b"]}


@pytest.mark.parametrize(
    "strategy, env, suffix",
    [
        ("default", _task(TWO_WORKERS, "worker", 1), ""),
        ("multi_worker", {}, ""),
        ("multi_worker", _task(TWO_WORKERS, "worker", 0), ""),
        ("multi_worker", _task(TWO_WORKERS, "worker", 1), ".worker1"),
        ("multi_worker", _task(CHIEF_AND_WORKER, "worker", 0), ".worker0"),
        ("multi_worker", _task(CHIEF_AND_WORKER, "chief", 0), ""),
        ("multi_worker", {"SLURM_PROCID": "2"}, ".worker2"),
        ("multi_worker", {"SLURM_PROCID": "0"}, ""),
    ],
)
def test_each_worker_logs_to_its_own_file(monkeypatch, strategy, env, suffix):
    """train.log is the chief's (and a single process's); the other workers' get a suffix."""
    for key in ("TF_CONFIG", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert worker_log_suffix(strategy) == suffix


@pytest.mark.parametrize(
    "cluster, task_type, index",
    [(TWO_WORKERS, "worker", 0), (TWO_WORKERS, "worker", 1), (CHIEF_AND_WORKER, "worker", 0),
     (CHIEF_AND_WORKER, "chief", 0)],
)  # fmt: skip
def test_log_file_and_strategy_agree_on_the_chief(monkeypatch, cluster, task_type, index):
    """The log-file rule (TF_CONFIG read before TensorFlow starts) and the strategy's (from
    TensorFlow's cluster resolver) name the same chief."""
    import tensorflow as tf

    monkeypatch.setenv("TF_CONFIG", _task(cluster, task_type, index)["TF_CONFIG"])
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    chief = is_chief(resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict())
    assert chief == (worker_log_suffix("multi_worker") == "")
    assert chief == (task_type == "chief" or cluster is TWO_WORKERS and index == 0)


def test_hydra_opens_the_workers_own_log_file(tmp_path):
    """A second worker's process (TF_CONFIG index 1) stopped by a config error before it joins
    the cluster: Hydra opened train.worker1.log for it, not the chief's train.log."""
    env = dict(ENV, TF_CONFIG=tf_config(free_ports(2), 1))
    proc = subprocess.run(
        [str(BIN / "seq2seq-train"), "train.strategy=multi_worker", "model.encoder_units=0"]
        + [f"hydra.run.dir={tmp_path}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert (tmp_path / "train.worker1.log").exists() and not (tmp_path / "train.log").exists()
