"""What `model.rnn=auto` and `train.precision=auto` become on a machine: plain rules over the
facts a `Hardware` holds (detected by `seq2seq.training.hardware`; tests make them up).

    model.rnn=auto        fused  where the fused GRU kernel loaded and training runs on the CPU
                          keras  on a GPU (cuDNN), or where the kernel did not load
    train.precision=auto  mixed_bfloat16  where the CPU has AVX-512 BF16 or AMX (avx512_bf16,
                                          amx_bf16) or every GPU has compute capability >= 8.0
                          float32         elsewhere (a CPU whose flags are unknown included)

A resumed run keeps what its run_config.yaml recorded for a key set to `auto`, so a run started
on one machine resumes on another (and after a change of these rules) as it was started.
"""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

AUTO = "auto"
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# The settings that may be `auto`, as dotted config keys.
AUTO_KEYS = ("model.rnn", "train.precision")


@dataclass(frozen=True)
class Hardware:
    """What decides `auto`: the visible GPUs' compute capabilities ((major, minor), or None when
    TensorFlow does not report it), the CPU flags (None: unknown, e.g. not Linux) and whether
    the fused GRU kernel loaded."""

    gpus: tuple[tuple[int, int] | None, ...] = ()
    cpu_flags: frozenset[str] | None = None
    fused_kernel: bool = False

    @property
    def native_bfloat16(self) -> bool:
        """bfloat16 matmuls in hardware: every GPU >= 8.0 (Ampere on), or, without a GPU, a
        CPU with AVX-512 BF16 or AMX."""
        if self.gpus:
            return all(capability is not None and capability >= (8, 0) for capability in self.gpus)
        return bool(self.cpu_flags and self.cpu_flags & BFLOAT16_CPU_FLAGS)

    def describe(self) -> str:
        """`2 GPUs (compute capability 8.0, 8.6)` or `CPU (avx512_bf16), no GPU`, and the
        kernel: one line for the log."""
        if self.gpus:
            capabilities = ", ".join("?" if c is None else f"{c[0]}.{c[1]}" for c in self.gpus)
            devices = f"{len(self.gpus)} GPU(s) (compute capability {capabilities})"
        elif self.cpu_flags is None:
            devices = "CPU (flags unknown), no GPU"
        else:
            bf16 = sorted(self.cpu_flags & BFLOAT16_CPU_FLAGS)
            devices = f"CPU ({', '.join(bf16) or 'no bfloat16 instructions'}), no GPU"
        kernel = "loaded" if self.fused_kernel else "not loaded"
        return f"{devices}, fused GRU kernel {kernel}"


def read_cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str] | None:
    """The `flags` of the first CPU in /proc/cpuinfo; None where it cannot be read."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def choose_rnn(hardware: Hardware) -> str:
    return "fused" if hardware.fused_kernel and not hardware.gpus else "keras"


def choose_precision(hardware: Hardware) -> str:
    return "mixed_bfloat16" if hardware.native_bfloat16 else "float32"


def resolve_rnn(model: Any, hardware: Hardware) -> Any:
    """A ModelConfig with `rnn=auto` resolved for `hardware` (others unchanged): for tools that
    build a model outside training (benchmarks)."""
    return replace(model, rnn=choose_rnn(hardware)) if model.rnn == AUTO else model


def resolve_auto(cfg: Any, hardware: Hardware, recorded: dict | None = None) -> tuple[Any, dict]:
    """`cfg` (a TrainRunConfig) with `model.rnn` and `train.precision` resolved where they are
    `auto`, and {dotted key: (value, why)} for every key of AUTO_KEYS, `why` being "auto"
    (chosen for `hardware`), "recorded" (a resume: `recorded`, the run's stored run_config.yaml
    as a dict, holds a value) or "set" (not auto)."""
    choose = {"model.rnn": choose_rnn, "train.precision": choose_precision}
    values, choices = {}, {}
    for key in AUTO_KEYS:
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value != AUTO:
            choices[key] = (value, "set")
            continue
        stored = (recorded or {}).get(section, {}).get(name)
        if stored not in (None, AUTO):
            values[key], choices[key] = stored, (stored, "recorded")
        else:
            values[key] = choose[key](hardware)
            choices[key] = (values[key], "auto")
    model = replace(cfg.model, rnn=values.get("model.rnn", cfg.model.rnn))
    train = replace(cfg.train, precision=values.get("train.precision", cfg.train.precision))
    return replace(cfg, model=model, train=train), choices


def describe_choices(choices: dict) -> str:
    """`model.rnn=auto -> fused, train.precision=float32 (set)`."""
    parts = []
    for key, (value, why) in choices.items():
        if why == "set":
            parts.append(f"{key}={value}")
        else:
            recorded = " (recorded by the run)" if why == "recorded" else ""
            parts.append(f"{key}=auto -> {value}{recorded}")
    return ", ".join(parts)
