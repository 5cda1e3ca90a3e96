"""The train step under a `mirrored` or `multi_worker` strategy (`distribute.py`).

The loss minimized is the mean over the real target tokens of *all* replicas: each replica
divides its summed token losses by the all-reduced token count, and the replicas' gradients are
summed (neither the mean of per-replica means, which weights a replica's tokens by how few it
has, nor tf.distribute's per-replica B*T mean). One step equals `steps.make_train_step` on the
whole global batch (within float rounding; tests/test_distribute.py).

Every cross-replica sum of a step is one collective over one flat float32 vector, and the
collectives follow each other by data dependencies: separate, unordered collectives could
start in different orders on different replicas and deadlock a small thread pool.
"""

from collections.abc import Callable

import keras
import tensorflow as tf

from seq2seq.training.keras_private import skip_gradient_all_reduce, warn_once
from seq2seq.training.losses import real_token_cross_entropy
from seq2seq.training.metrics import real_token_correct
from seq2seq.training.steps import batch_stats, real_token_outputs

SUM = tf.distribute.ReduceOp.SUM
STAT_KEYS = (
    "loss_sum",
    "correct",
    "tokens",
    "positions",
    "source_tokens",
    "source_positions",
    "examples",
)


def make_distributed_train_step(
    strategy: tf.distribute.Strategy,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    label_smoothing: float = 0.0,
    clip_norm: float = 0.0,
    skip_nonfinite: bool = False,
) -> Callable:
    """`step(x, y, mask) -> dict` on per-replica slices of one global batch
    (`Distribution.split`); returns the global sums of `steps.make_train_step` and the norm of
    the summed gradients, by which they are clipped. With `skip_nonfinite` the update is
    applied only when that norm is finite."""
    variables = model.trainable_variables
    # Keras 3 optimizers sum gradients over replicas inside apply_gradients (there is no public
    # switch); the step sums them itself, once, to clip by the norm of the sum.
    keras_sums = not skip_gradient_all_reduce(optimizer)
    if keras_sums:
        warn_once(
            "gradient_all_reduce",
            f"distributed step: keras_private.skip_gradient_all_reduce found no way to stop "
            f"Keras {keras.__version__} summing gradients over replicas; handing it each "
            "replica's share of the summed gradients (one more all-reduce per step, and "
            "embedding gradients as dense tensors: Adam's second moment then squares a "
            "repeated token's summed gradient)",
        )

    def replica_step(x, y, mask):
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            logits, labels = real_token_outputs(model, x, y, training=True)  # (N_r, V), (N_r,)
            loss_sum, tokens = real_token_cross_entropy(labels, logits, label_smoothing)
            all_tokens = tf.stop_gradient(context.all_reduce(SUM, tokens))
            loss = loss_sum / all_tokens  # this replica's share of the global mean
        grads = all_reduce_gradients(context, tape.gradient(loss, variables))
        grad_norm = tf.linalg.global_norm(grads)
        if clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=grad_norm)
        stats = batch_stats(x, y, mask, real_token_correct(labels, logits), loss_sum, tokens)
        with tf.control_dependencies([grad_norm]):  # after the gradients' collective
            sums = context.all_reduce(SUM, tf.stack([stats[k] for k in STAT_KEYS]))
        return grads, sums, grad_norm

    def apply(grads):
        if keras_sums:
            grads = _shares(grads, strategy.num_replicas_in_sync)
        optimizer.apply_gradients(zip(grads, variables))

    def apply_all(grads) -> tf.Tensor:
        strategy.run(apply, args=(grads,))
        return tf.constant(True)

    @tf.function(reduce_retracing=True)
    def step(x, y, mask):
        grads, sums, grad_norm = strategy.run(replica_step, args=(x, y, mask))
        grad_norm = strategy.experimental_local_results(grad_norm)[0]  # same on every replica
        if skip_nonfinite:  # a cond around strategy.run: not inside it (a merge_call in a cond)
            tf.cond(
                tf.math.is_finite(grad_norm), lambda: apply_all(grads), lambda: tf.constant(False)
            )
        else:
            apply_all(grads)
        sums = tf.unstack(strategy.experimental_local_results(sums)[0])
        return dict(zip(STAT_KEYS, sums)) | {"grad_norm": grad_norm}

    return step


def _shares(grads: list, replicas: int) -> list:
    """Summed gradients / replicas, dense, for an optimizer that sums them over the replicas."""
    return [None if g is None else tf.convert_to_tensor(g) / replicas for g in grads]


def all_reduce_gradients(context: tf.distribute.ReplicaContext, grads: list) -> list:
    """Gradients summed over replicas, in one collective after one for the slice lengths.

    Dense gradients are summed. IndexedSlices (embeddings) are concatenated in replica order,
    which is what one device gets for the whole global batch (its slices are in row order):
    Keras' Adam updates its second moment per slice, so their dense sum would change the
    update wherever a token occurs twice. Each replica writes its slices at its offset into
    zeros shaped for all replicas' slices; the sum of those buffers is exact (x + 0 = x).
    (TensorFlow's own IndexedSlices all-reduce, an all-gather inside a cond, failed with a
    shape mismatch between replicas of different lengths in TF 2.21.)
    """
    replica, replicas = context.replica_id_in_sync_group, context.num_replicas_in_sync
    slices = [g for g in grads if isinstance(g, tf.IndexedSlices)]
    own = tf.one_hot(replica, replicas, dtype=tf.float32)  # (R,)
    lengths = [tf.shape(g.indices)[0] for g in slices]
    # (K + 1, R): row k = every replica's length of slices k (a last zero row for K = 0).
    mine = tf.stack([own * tf.cast(n, tf.float32) for n in lengths] + [own * 0.0])
    all_lengths = iter(tf.unstack(tf.cast(context.all_reduce(SUM, mine), tf.int32)))
    parts = [
        _placed(g, next(all_lengths), replica) if isinstance(g, tf.IndexedSlices) else g
        for g in grads
    ]
    flat = [t for p in parts if p is not None for t in (p if isinstance(p, tuple) else (p,))]
    summed = iter(_sum_flat(context, flat))
    out = []
    for g, p in zip(grads, parts):
        if p is None:  # a variable the loss does not depend on (the optimizer skips it)
            out.append(None)
        elif isinstance(p, tuple):
            values, indices = next(summed), next(summed)
            out.append(tf.IndexedSlices(values, tf.cast(indices, g.indices.dtype), g.dense_shape))
        else:
            out.append(next(summed))
    return out


def _placed(slices: tf.IndexedSlices, lengths: tf.Tensor, replica) -> tuple:
    """(values (L_all, D), float32 indices (L_all,)): this replica's slices at its offset,
    zeros elsewhere. `lengths` int32 (R,): every replica's number of slices."""
    length = tf.shape(slices.indices)[0]
    positions = (tf.range(length) + tf.reduce_sum(lengths[:replica]))[:, None]  # (L, 1)
    total = tf.reduce_sum(lengths)
    shape = tf.concat([[total], tf.shape(slices.values)[1:]], 0)
    values = tf.scatter_nd(positions, slices.values, shape)
    indices = tf.scatter_nd(positions, tf.cast(slices.indices, tf.float32), [total])
    return values, indices


def _sum_flat(context: tf.distribute.ReplicaContext, tensors: list) -> list:
    """`tensors` (float32, any shapes) summed over replicas as one flat vector."""
    shapes = [t.shape if t.shape.is_fully_defined() else tf.shape(t) for t in tensors]
    sizes = tf.stack([tf.size(t) for t in tensors])
    flat = context.all_reduce(SUM, tf.concat([tf.reshape(t, [-1]) for t in tensors], 0))
    pieces = tf.split(flat, sizes, num=len(tensors))
    return [tf.reshape(p, s) for p, s in zip(pieces, shapes)]
