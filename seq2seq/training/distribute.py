"""tf.distribute for training (`train.strategy`): the strategy, each global batch split into
per-replica slices, and the few agreements that keep several worker processes in step.

`default` is the single-device path, unchanged. `mirrored` replicates the model on the devices
of one machine (`tf.distribute.MirroredStrategy`); `multi_worker` on every device of several
processes or machines (`tf.distribute.MultiWorkerMirroredStrategy`), whose cluster comes from
`TF_CONFIG` or, without it, from SLURM (`SlurmClusterResolver`).

Every worker builds the same global batch stream (same corpus, same seed) and keeps the rows of
its own replicas: replica r of R gets rows [r*B//R, (r+1)*B//R) of each global batch of B rows.
The data iterator is therefore the single-device one, checkpointed as such, and a run resumes
exactly under any strategy. The train step (`distributed_step.py`) normalises
the loss over all replicas' real target tokens.
"""

import contextlib
import logging
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from seq2seq.config import TrainConfig
from seq2seq.config.resolvers import is_chief
from seq2seq.errors import ConfigError

log = logging.getLogger("seq2seq.train")


@dataclass
class Distribution:
    """The strategy and this process's place in it.

    Attributes:
        strategy: the tf.distribute strategy (the default one for `train.strategy=default`).
        is_chief: this process writes the run directory (checkpoints, TensorBoard, metrics).
        task: `worker:0`-like name of this process in its cluster ("" for one process).
        num_workers: worker processes in step with this one.
        distributed: `mirrored` or `multi_worker`: the step runs under `strategy.run`.
    """

    strategy: tf.distribute.Strategy
    is_chief: bool = True
    task: str = ""
    num_workers: int = 1
    distributed: bool = False

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    def scope(self):
        """Where variables are created: the strategy's scope (nothing for `default`)."""
        return self.strategy.scope() if self.distributed else contextlib.nullcontext()

    def split(self, *tensors: tf.Tensor) -> tuple:
        """Global-batch tensors (B, ...) (nests of them) -> per-replica row slices."""
        replicas = self.replicas

        def rows(ctx: tf.distribute.experimental.ValueContext):
            r = ctx.replica_id_in_sync_group
            return tf.nest.map_structure(lambda t: _rows(t, r, replicas), tensors)

        return self.strategy.experimental_distribute_values_from_function(rows)

    def any(self, flag: bool) -> bool:
        """True if `flag` is True on any worker (a decision every worker must share)."""
        if self.num_workers == 1:
            return flag
        return bool(self._sum(np.array([float(flag)]), everyone=True)[0] > 0)

    def broadcast(self, values: list[float]) -> list[float]:
        """The chief's `values` on every worker (others pass placeholders of the same length)."""
        if self.num_workers == 1:
            return values
        return self._sum(np.array(values, np.float64), everyone=False).tolist()

    def barrier(self) -> None:
        """Wait until every worker gets here."""
        if self.num_workers > 1:
            self._sum(np.zeros(1), everyone=True)

    def _sum(self, values: np.ndarray, everyone: bool) -> np.ndarray:
        """Sum over the replicas of every worker's `values` (`everyone`), or the chief's
        `values` alone (replica 0 is the chief's; the others add zeros)."""

        def value(ctx):
            keep = everyone or ctx.replica_id_in_sync_group == 0
            return tf.constant(values if keep else np.zeros_like(values), tf.float64)

        per_replica = self.strategy.experimental_distribute_values_from_function(value)
        reduced = self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return reduced.numpy()


def _rows(t: tf.Tensor, replica: int, replicas: int) -> tf.Tensor:
    """Rows [r*B//R, (r+1)*B//R) of `t` (B, ...)."""
    b = tf.shape(t)[0]
    return t[replica * b // replicas : (replica + 1) * b // replicas]


def make_distribution(cfg: TrainConfig) -> Distribution:
    """The strategy of `cfg.strategy`. Call it before any other TensorFlow operation: a
    multi-worker strategy and logical CPU devices can only be set up before TF starts."""
    if cfg.strategy != "default":
        logging.getLogger("tensorflow").setLevel(logging.WARNING)  # a line per collective
    if cfg.strategy == "mirrored":
        devices = mirrored_devices(cfg.devices)
        log.info("tf.distribute: mirrored over %s", ", ".join(devices))
        return Distribution(mirrored_strategy(devices), distributed=True)
    if cfg.strategy == "multi_worker":
        return _multi_worker()
    return Distribution(tf.distribute.get_strategy())


def mirrored_strategy(devices: list[str]) -> tf.distribute.MirroredStrategy:
    """MirroredStrategy over `devices` (GPUs, or logical CPUs; TensorFlow picks how to sum)."""
    return tf.distribute.MirroredStrategy(devices)


def mirrored_devices(count: int) -> list[str]:
    """Device names for `train.devices=count`: GPUs if there are any (0 = all of them),
    else the CPU, split into `count` logical devices when count > 1."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if count > len(gpus):
            raise ConfigError(f"train.devices={count} but this machine has {len(gpus)} GPU(s)")
        return [f"/gpu:{i}" for i in range(count or len(gpus))]
    if count <= 1:
        return ["/cpu:0"]
    split_cpu(count)
    return [f"/cpu:{i}" for i in range(count)]


def split_cpu(count: int) -> None:
    """Make the CPU `count` logical devices (each runs its replica's ops on the shared cores)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) == count:
        return  # already split so (an earlier run in this process)
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:
        raise ConfigError(
            f"train.devices={count}: the CPU cannot be split into logical devices once "
            "TensorFlow has started in this process; start a new process"
        ) from None


def _multi_worker() -> Distribution:
    resolver = cluster_resolver()
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=resolver, communication_options=options
    )
    spec = resolver.cluster_spec().as_dict()
    task_type, task_id = resolver.task_type, resolver.task_id
    workers = sum(len(spec.get(job, [])) for job in ("chief", "worker"))
    chief = is_chief(task_type, task_id, spec)
    task = f"{task_type}:{task_id}"
    log.info(
        "tf.distribute: multi_worker, %s of %d worker(s)%s, %d replica(s) in sync",
        task,
        workers,
        " (chief)" if chief else "",
        strategy.num_replicas_in_sync,
    )
    return Distribution(strategy, is_chief=chief, task=task, num_workers=workers, distributed=True)


def cluster_resolver() -> tf.distribute.cluster_resolver.ClusterResolver:
    """TF_CONFIG if set, else SLURM (inside `srun`: SLURM_PROCID, SLURM_STEP_NUM_TASKS, ...)."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if "SLURM_PROCID" in os.environ and "SLURM_STEP_NUM_TASKS" in os.environ:
        return tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=slurm_port_base(),
            gpus_per_node=int(os.environ.get("SLURM_GPUS_ON_NODE") or 0),
        )
    raise ConfigError(
        "train.strategy=multi_worker needs the cluster: set TF_CONFIG, or start one task per "
        "worker under SLURM (srun, or hydra/launcher=slurm with tasks_per_node)"
    )


def slurm_port_base() -> int:
    """The first port of this SLURM job's workers on a node (ports base, base+1, ... for the
    tasks of a node): derived from the job id, so that two jobs sharing a node rarely meet."""
    job = int(os.environ.get("SLURM_JOB_ID", "0") or 0)
    return 20000 + (job % 2000) * 16
