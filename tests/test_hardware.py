"""`model.rnn=auto` and `train.precision=auto`: the rules over made-up machines, detection with
a faked device list and CPU flags, and a run that records (and on resume keeps) its choice."""

import dataclasses
import logging

import pytest
import tensorflow as tf
from omegaconf import OmegaConf

import seq2seq.training.hardware as hardware_module
from seq2seq.config.hardware import (
    Hardware,
    choose_precision,
    choose_rnn,
    describe_choices,
    read_cpu_flags,
    resolve_auto,
    resolve_rnn,
)
from seq2seq.runs.load import load_run
from seq2seq.training.hardware import detect_hardware
from seq2seq.training.loop import fit
from tests.model_helpers import tiny_config
from tests.train_helpers import tiny_train_config

BF16 = "mixed_bfloat16"
BF16_CPU = frozenset({"fpu", "avx2", "avx512f", "avx512_bf16"})
AMX_CPU = frozenset({"avx2", "amx_tile", "amx_bf16"})
PLAIN_CPU = frozenset({"fpu", "avx2", "avx512f"})


@pytest.mark.parametrize(
    "machine, rnn, precision",
    [
        (Hardware(cpu_flags=BF16_CPU, fused_kernel=True), "fused", BF16),
        (Hardware(cpu_flags=AMX_CPU, fused_kernel=True), "fused", BF16),
        (Hardware(cpu_flags=PLAIN_CPU, fused_kernel=True), "fused", "float32"),
        (Hardware(cpu_flags=BF16_CPU, fused_kernel=False), "keras", BF16),
        (Hardware(cpu_flags=None, fused_kernel=True), "fused", "float32"),  # not Linux
        (Hardware(gpus=((8, 0),), cpu_flags=PLAIN_CPU, fused_kernel=True), "keras", BF16),
        (Hardware(gpus=((8, 6), (9, 0)), cpu_flags=PLAIN_CPU), "keras", BF16),
        (Hardware(gpus=((7, 5),), cpu_flags=BF16_CPU, fused_kernel=True), "keras", "float32"),
        (Hardware(gpus=((8, 0), (7, 0)), cpu_flags=BF16_CPU), "keras", "float32"),
        (Hardware(gpus=(None,), cpu_flags=BF16_CPU), "keras", "float32"),  # capability unknown
    ],
)  # fmt: skip
def test_what_auto_chooses(machine, rnn, precision):
    assert (choose_rnn(machine), choose_precision(machine)) == (rnn, precision)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512_bf16 amx_bf16\n\nflags\t: other\n")
    assert read_cpu_flags(cpuinfo) == {"fpu", "avx512_bf16", "amx_bf16"}  # the first CPU's
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd\n")  # e.g. aarch64: no `flags`
    assert read_cpu_flags(cpuinfo) == frozenset()
    assert read_cpu_flags(tmp_path / "missing") is None


def fake_machine(monkeypatch, gpus=(), cpu_flags=BF16_CPU, kernel=True):
    """Make detect_hardware see `gpus` (compute capabilities), `cpu_flags` and the kernel."""
    devices = [f"/physical_device:GPU:{i}" for i in range(len(gpus))]
    details = dict(zip(devices, gpus))
    listed = lambda device_type=None: devices if device_type == "GPU" else []  # noqa: E731
    monkeypatch.setattr(tf.config, "list_physical_devices", listed)
    monkeypatch.setattr(
        tf.config.experimental,
        "get_device_details",
        lambda device: {} if details[device] is None else {"compute_capability": details[device]},
    )
    monkeypatch.setattr(hardware_module, "read_cpu_flags", lambda: cpu_flags)
    monkeypatch.setattr(hardware_module, "fused_kernel_available", lambda: kernel)


def test_detection_reads_the_devices_the_flags_and_the_kernel(monkeypatch):
    fake_machine(monkeypatch, gpus=((8, 0), None), cpu_flags=PLAIN_CPU, kernel=True)
    machine = detect_hardware()
    assert machine == Hardware(gpus=((8, 0), None), cpu_flags=PLAIN_CPU, fused_kernel=True)
    assert machine.describe() == ("2 GPU(s) (compute capability 8.0, ?), fused GRU kernel loaded")
    fake_machine(monkeypatch, cpu_flags=BF16_CPU, kernel=False)
    machine = detect_hardware()
    assert machine == Hardware(cpu_flags=BF16_CPU, fused_kernel=False)
    assert machine.describe() == "CPU (avx512_bf16), no GPU, fused GRU kernel not loaded"


def test_the_real_machine_is_detected():
    """No fakes: this machine's facts, whatever they are, resolve to valid settings."""
    machine = detect_hardware()
    assert choose_rnn(machine) in ("keras", "fused")
    assert choose_precision(machine) in ("float32", "mixed_bfloat16")


def test_only_auto_is_resolved_and_a_resume_keeps_what_the_run_recorded(tmp_path):
    cfg = tiny_train_config(tmp_path, "model.rnn=auto", "train.precision=auto")
    gpu = Hardware(gpus=((8, 0),))
    resolved, choices = resolve_auto(cfg, gpu)
    assert (resolved.model.rnn, resolved.train.precision) == ("keras", "mixed_bfloat16")
    assert describe_choices(choices) == (
        "model.rnn=auto -> keras, train.precision=auto -> mixed_bfloat16"
    )
    assert dataclasses.replace(resolved.model, rnn="auto") == cfg.model  # nothing else changed
    recorded = {"model": {"rnn": "fused"}, "train": {"precision": "float32"}}
    resumed, choices = resolve_auto(cfg, gpu, recorded)
    assert (resumed.model.rnn, resumed.train.precision) == ("fused", "float32")
    assert describe_choices(choices) == (
        "model.rnn=auto -> fused (recorded by the run), "
        "train.precision=auto -> float32 (recorded by the run)"
    )
    pinned = tiny_train_config(tmp_path, "model.rnn=keras", "train.precision=float32")
    kept, choices = resolve_auto(pinned, gpu, recorded)  # set values are not resolved
    assert (kept.model.rnn, kept.train.precision) == ("keras", "float32")
    assert describe_choices(choices) == "model.rnn=keras, train.precision=float32"
    model = tiny_config(rnn="auto")
    assert resolve_rnn(model, Hardware(fused_kernel=True)).rnn == "fused"
    assert resolve_rnn(tiny_config(), Hardware(fused_kernel=True)).rnn == "keras"


def test_a_run_records_what_auto_chose_and_resumes_with_it_elsewhere(tmp_path, monkeypatch, caplog):
    """run_config.yaml and the first log line hold the resolved values; resumed on a machine
    where `auto` would choose otherwise (a GPU), the run keeps them instead of being refused;
    loading the run builds the recorded GRU."""
    overrides = ["model.rnn=auto", "train.precision=auto", "train.validate_every=2"]
    fake_machine(monkeypatch, cpu_flags=BF16_CPU, kernel=True)
    with caplog.at_level(logging.INFO):
        fit(tiny_train_config(tmp_path, *overrides, "train.max_steps=2"), tmp_path / "run")
    first = next(r for r in caplog.records if r.name.startswith("seq2seq"))
    assert first.getMessage() == (
        "hardware: CPU (avx512_bf16), no GPU, fused GRU kernel loaded; "
        "model.rnn=auto -> fused, train.precision=auto -> mixed_bfloat16"
    )
    stored = OmegaConf.load(tmp_path / "run" / "run_config.yaml")
    assert (stored.model.rnn, stored.train.precision) == ("fused", "mixed_bfloat16")

    caplog.clear()
    fake_machine(monkeypatch, gpus=((7, 0),), cpu_flags=PLAIN_CPU, kernel=True)
    with caplog.at_level(logging.INFO):
        metrics = fit(
            tiny_train_config(tmp_path, *overrides, "train.max_steps=4"), tmp_path / "run"
        )
    assert metrics["steps"] == 4
    first = next(r for r in caplog.records if r.name.startswith("seq2seq"))
    assert first.getMessage().endswith(
        "model.rnn=auto -> fused (recorded by the run), "
        "train.precision=auto -> mixed_bfloat16 (recorded by the run)"
    )
    assert "resuming a run" in caplog.text
    stored = OmegaConf.load(tmp_path / "run" / "run_config.yaml")
    assert (stored.model.rnn, stored.train.precision) == ("fused", "mixed_bfloat16")
    loaded = load_run(tmp_path / "run")
    assert loaded.cfg.model.rnn == "fused" and loaded.model.model_config.rnn == "fused"
