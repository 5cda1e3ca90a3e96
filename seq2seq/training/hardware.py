"""`model.rnn=auto` and `train.precision=auto` resolved once, when training starts: the
machine's facts (visible GPUs and their compute capability, the CPU flags, whether the fused GRU
kernel loaded) through the rules of `seq2seq.config.hardware`. The resolved values are what
run_config.yaml records, and the first line of the training log says what was chosen."""

import logging
from pathlib import Path

import tensorflow as tf
from omegaconf import OmegaConf

from seq2seq.config import TrainRunConfig
from seq2seq.config.hardware import Hardware, describe_choices, read_cpu_flags, resolve_auto
from seq2seq.layers.masked_gru import fused_kernel_available

log = logging.getLogger("seq2seq.train")


def detect_hardware() -> Hardware:
    """The GPUs TensorFlow sees (without initializing its runtime: thread and logical-device
    settings still apply afterwards), /proc/cpuinfo's flags and the fused GRU kernel."""
    gpus = tuple(_compute_capability(gpu) for gpu in tf.config.list_physical_devices("GPU"))
    return Hardware(gpus=gpus, cpu_flags=read_cpu_flags(), fused_kernel=fused_kernel_available())


def _compute_capability(gpu) -> tuple[int, int] | None:
    try:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
    except (RuntimeError, ValueError):
        return None
    return tuple(capability) if capability else None


def resolve_for_run(cfg: TrainRunConfig, run_config: Path) -> TrainRunConfig:
    """`cfg` with `auto` resolved for this machine, or as `run_config` (the run directory's
    run_config.yaml, when it exists: a resume) recorded it; logs what was chosen."""
    recorded = OmegaConf.to_container(OmegaConf.load(run_config)) if run_config.exists() else None
    hardware = detect_hardware()
    resolved, choices = resolve_auto(cfg, hardware, recorded)
    log.info("hardware: %s; %s", hardware.describe(), describe_choices(choices))
    return resolved
