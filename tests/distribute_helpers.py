"""Checks of tf.distribute training that run in a fresh process (`tests.cli_helpers.run_python`):
logical CPU devices and multi-worker strategies must be set up before TensorFlow starts.

Each function prints one JSON line for the test to read."""

import json

import numpy as np

# A global batch of 4 rows whose halves (one per replica) hold very different numbers of real
# target tokens: rows 0-1 have 13 and 12, rows 2-3 have 1 and 2 (pieces + eos).
LONG, SHORT = (12, 11), (0, 1)


def _global_batch():
    from tests.model_helpers import Sequence, make_batch

    rng = np.random.default_rng(7)
    seqs = [Sequence.random(rng, 6, n + 1) for n in LONG + SHORT]
    x, y = make_batch(seqs)
    return x, y, x["target_padding_mask"]


def _weights(model) -> list[np.ndarray]:
    return [np.array(v.numpy(), np.float64) for v in model.trainable_variables]


def _update(model, step, batch) -> tuple[dict, list[np.ndarray]]:
    """Run `step` (SGD, learning rate 1) on `batch`: its outputs and the update w_before - w_after
    (= the applied, possibly clipped, gradient)."""
    before = _weights(model)
    out = {k: float(v) for k, v in step(*batch).items()}
    return out, [b - a for b, a in zip(before, _weights(model))]


def mirrored_step_against_one_device(clip_norms: str = "0,0.05", adam: str = "1") -> None:
    """One SGD step on the global batch: on one device, under MirroredStrategy over 2 logical
    CPUs, and the per-replica-mean alternative (each half's own mean loss, averaged); with
    `adam` "1" also three Adam steps (`_adam_losses`)."""
    import keras
    import tensorflow as tf

    from seq2seq.training.distribute import Distribution, mirrored_strategy, split_cpu
    from seq2seq.training.distributed_step import make_distributed_train_step
    from seq2seq.training.steps import make_train_step
    from tests.model_helpers import random_model, tiny_config

    split_cpu(2)
    strategy = mirrored_strategy(["/cpu:0", "/cpu:1"])
    dist = Distribution(strategy, distributed=True)
    cfg = tiny_config(dropout=0.0)
    x, y, mask = _global_batch()
    halves = [
        tf.nest.map_structure(lambda t, rows=rows: t[rows], (x, y, mask))
        for rows in (slice(0, 2), slice(2, 4))
    ]
    results = []
    for clip in (float(c) for c in clip_norms.split(",")):
        one = random_model(cfg, seed=5)
        single, single_update = _update(
            one, make_train_step(one, keras.optimizers.SGD(1.0), clip_norm=clip), (x, y, mask)
        )
        with strategy.scope():
            mirrored_model = random_model(cfg, seed=5)
            sgd = keras.optimizers.SGD(1.0)
        step = make_distributed_train_step(strategy, mirrored_model, sgd, clip_norm=clip)
        mirrored, mirrored_update = _update(mirrored_model, step, dist.split(x, y, mask))
        replicas_equal = all(
            np.array_equal(*[c.numpy() for c in strategy.experimental_local_results(v.value)])
            for v in mirrored_model.trainable_variables
        )
        # The alternative: each replica minimises its own half's mean loss, updates averaged.
        per_half = []
        for half in halves:
            model = random_model(cfg, seed=5)
            per_half.append(_update(model, make_train_step(model, keras.optimizers.SGD(1.0)), half))
        mean_of_means = np.mean([o["loss_sum"] / o["tokens"] for o, _ in per_half])
        mean_update = [(a + b) / 2 for a, b in zip(per_half[0][1], per_half[1][1])]
        results.append(
            {
                "clip_norm": clip,
                "half_tokens": [o["tokens"] for o, _ in per_half],
                "single_loss": single["loss_sum"] / single["tokens"],
                "mirrored_loss": mirrored["loss_sum"] / mirrored["tokens"],
                "per_replica_mean_loss": float(mean_of_means),
                "single": single,
                "mirrored": mirrored,
                "update_diff": _max_diff(single_update, mirrored_update),
                "update_size": max(float(np.abs(u).max()) for u in single_update),
                "per_replica_mean_update_diff": _max_diff(single_update, mean_update),
                "replicas_equal": replicas_equal,
            }
        )
    adam_losses = _adam_losses(strategy, dist, (x, y, mask)) if adam == "1" else []
    print(json.dumps({"sgd": results, "adam": adam_losses}))


def mirrored_step_without_keras_private(clip_norms: str) -> None:
    """`mirrored_step_against_one_device` (SGD only) as on a Keras whose optimizer has no
    `_all_reduce_sum_gradients` (the name the adapter looks for is changed)."""
    from seq2seq.training import keras_private

    keras_private.ALL_REDUCE = "_all_reduce_renamed_by_a_later_keras"
    mirrored_step_against_one_device(clip_norms, adam="0")


def _adam_losses(strategy, dist, batch, steps: int = 3) -> list[list[float]]:
    """[one device, mirrored] losses of `steps` Adam steps on `batch`. Keras' Adam updates
    the second moment per embedding-gradient slice (a token seen twice adds two squares): the
    mirrored step must hand it the same slices, not their dense sum."""
    import keras

    from seq2seq.training.distributed_step import make_distributed_train_step
    from seq2seq.training.steps import make_train_step
    from tests.model_helpers import random_model, tiny_config

    cfg = tiny_config(dropout=0.0)
    one = random_model(cfg, seed=5)
    single = make_train_step(one, keras.optimizers.Adam(0.02))
    with strategy.scope():
        model = random_model(cfg, seed=5)
        adam = keras.optimizers.Adam(0.02)
        adam.build(model.trainable_variables)  # as the Trainer does: not inside the step
    mirrored = make_distributed_train_step(strategy, model, adam)
    losses = []
    for _ in range(steps):
        a, b = single(*batch), mirrored(*dist.split(*batch))
        losses.append([float(o["loss_sum"] / o["tokens"]) for o in (a, b)])
    return losses


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


def free_ports(count: int) -> list[int]:
    """Ports that were free a moment ago on 127.0.0.1."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_config(ports: list[int], index: int) -> str:
    """TF_CONFIG of worker `index` of a cluster of workers on 127.0.0.1:`ports`."""
    workers = [f"127.0.0.1:{p}" for p in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def mirrored_resume(corpus_dir: str, phase: str) -> None:
    """Under `mirrored` on 2 logical CPUs (dropout on): phase `full` trains the tiny run 12
    steps; phase `resume` (a new process, as a user resumes) trains it again from its step-6
    checkpoint. Prints the run's train losses (and the metrics)."""
    from dataclasses import replace
    from pathlib import Path

    import seq2seq.training.loop as loop
    from seq2seq.training.trainer import Trainer
    from tests.train_helpers import tiny_train_config, train_losses

    Trainer.final_evaluation = lambda self: {}  # only the training losses matter here
    run = Path(corpus_dir) / "run"
    cfg = tiny_train_config(
        Path(corpus_dir), "train.strategy=mirrored", "train.devices=2", "train.deterministic=true"
    )
    if phase == "resume":
        checkpoint = str(run / "checkpoints" / "last" / "ckpt-6")
        cfg = replace(cfg, train=replace(cfg.train, resume_from=checkpoint))
    metrics = loop.fit(cfg, run)
    print(json.dumps({"losses": train_losses(run), "metrics": metrics}))
