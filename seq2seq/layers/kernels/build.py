"""Build the fused GRU kernel (`gru_sequence.cc`) for this CPU, once, into a cache.

    .venv/bin/python seq2seq/layers/kernels/build.py      # `make` runs this (a prebuild)

`seq2seq.layers.masked_gru` calls `ensure_built()` when it is imported: the first import on a
machine compiles the library (~20-60 s), later ones load it. The library is built for a
portable x86-64 micro-architecture level (v2, v3 or v4 = AVX-512) read from the CPU's flags,
never `-march=native` and never `-ffast-math` (NaN/Inf must reach `train.on_nonfinite`), so a
checkout shared by machines of different CPU types (a cluster's login and compute nodes) gives
each type its own library. Libraries live in a cache outside the source tree:

    $SEQ2SEQ_KERNEL_CACHE, else $XDG_CACHE_HOME/seq2seq/kernels, else ~/.cache/seq2seq/kernels
    gru_sequence-tf<TensorFlow version>-<level>-<hash of source and flags>.so

keyed by TensorFlow version, CPU level and source, with a file lock so that concurrent jobs
build once. `SEQ2SEQ_KERNEL_LIBRARY=PATH` loads a prebuilt library instead (no build).
Non-x86 machines, and machines without a C++17 compiler ($CXX or g++), get one notice and
the plain TensorFlow ops (slower, same numbers). A compile that fails leaves `<library>.failed`
(the compiler's last line and the command) so that later imports do not pay for it again;
running this script retries (and deletes it on success), as does deleting the file.
"""

import contextlib
import hashlib
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("gru_sequence.cc")
FLAGS = ("-shared", "-fPIC", "-O3", "-fopenmp-simd", "-w")
# x86-64 micro-architecture levels (the psABI's), each by the /proc/cpuinfo flags it needs.
LEVELS = {
    "x86-64-v2": {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"},
    "x86-64-v3": {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
    "x86-64-v4": {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
}


def cache_dir() -> Path:
    if os.environ.get("SEQ2SEQ_KERNEL_CACHE"):
        return Path(os.environ["SEQ2SEQ_KERNEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seq2seq" / "kernels"


def cpu_level(flags: set[str] | None = None, machine: str | None = None) -> str | None:
    """The highest x86-64 level whose flags the CPU has (`x86-64` = the baseline); None off
    x86-64. `flags` default: this CPU's, from /proc/cpuinfo (none known elsewhere)."""
    if (machine or platform.machine()).lower() not in ("x86_64", "amd64"):
        return None
    flags = _cpu_flags() if flags is None else flags
    level = "x86-64"
    for name, needed in LEVELS.items():
        if not needed <= flags:
            break
        level = name
    return level


def _cpu_flags() -> set[str]:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def compile_command(level: str, output: Path) -> list[str]:
    import tensorflow as tf

    compiler = os.environ.get("CXX", "g++")
    return [
        compiler, *FLAGS, f"-march={level}", "-mtune=generic", str(SOURCE), "-o", str(output),
        *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags(), "-lmvec",
    ]  # fmt: skip


def library_path(level: str) -> Path:
    import tensorflow as tf

    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:10]
    return cache_dir() / f"gru_sequence-tf{tf.__version__}-{level}-{digest}.so"


def ensure_built(retry: bool = False) -> tuple[Path | None, str]:
    """(the library for this CPU and TensorFlow, built now if missing, "") or (None, why not).

    Builds under an exclusive lock (`fcntl.flock`) into a temporary file, then renames: a
    concurrent job waits for the build and loads its result; no one sees half a file. A build
    that failed before is not tried again unless `retry`."""
    if os.environ.get("SEQ2SEQ_KERNEL_LIBRARY"):
        return Path(os.environ["SEQ2SEQ_KERNEL_LIBRARY"]), ""
    level = cpu_level()
    if level is None:
        return None, f"no fused GRU kernel for {platform.machine()} (x86-64 only)"
    library = library_path(level)
    if library.exists():
        return library, ""
    failed = failure_path(library)
    if failed.exists() and not retry:
        return None, f"{failed.read_text().strip()} (delete {failed} to try again)"
    import fcntl

    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        with open(library.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if library.exists():  # another job built it while this one waited
                return library, ""
            return _compile(level, library)
    except OSError as exc:  # a read-only or full cache directory
        return None, f"fused GRU kernel not built ({exc})"


def _compile(level: str, library: Path) -> tuple[Path | None, str]:
    tmp = library.with_suffix(f".{os.getpid()}.tmp")
    command = compile_command(level, tmp)
    print(f"building the fused GRU kernel for {level} into {library} (once)", file=sys.stderr)
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        tmp.unlink(missing_ok=True)
        detail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines() or [""]
        reason = f"fused GRU kernel not built ({detail[-1][:200]}): {shlex.join(command)}"
        if isinstance(exc, subprocess.CalledProcessError):  # not a missing compiler: remember
            failure_path(library).write_text(reason + "\n")
        return None, reason
    tmp.rename(library)
    failure_path(library).unlink(missing_ok=True)
    return library, ""


def failure_path(library: Path) -> Path:
    """Where a failed build of `library` says why."""
    return library.with_suffix(".failed")


if __name__ == "__main__":
    import seq2seq  # noqa: F401  (its import keeps TensorFlow's start-up chatter off stderr)

    path, reason = ensure_built(retry=True)
    print(f"fused GRU kernel: {path}" if path else f"{reason}; model.rnn=fused uses TF ops")
    sys.exit(0)
