"""Build the fused GRU kernel (`gru_sequence.cc`) against the installed TensorFlow.

    .venv/bin/python seq2seq/layers/kernels/build.py      # `make` runs this after installing

Writes `_gru_sequence.so` next to this file (not in git). Needs a C++17 compiler (`g++`, or
$CXX) and the headers that the TensorFlow wheel ships. `seq2seq.layers.masked_gru` loads the
library when it is there and falls back to plain TensorFlow ops otherwise, so a failed build
only costs speed. Exit status 0 either way; the reason is printed.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("gru_sequence.cc")
LIBRARY = Path(__file__).with_name("_gru_sequence.so")


def compile_command(output: Path) -> list[str]:
    import tensorflow as tf

    compiler = os.environ.get("CXX", "g++")
    flags = ["-shared", "-fPIC", "-O3", "-march=native", "-ffast-math", "-fopenmp-simd", "-w"]
    return [
        compiler, *flags, str(SOURCE), "-o", str(output),
        *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags(), "-lmvec",
    ]  # fmt: skip


def build() -> Path | None:
    """Compile into a temporary file, then rename (a concurrent loader never sees half a file)."""
    tmp = LIBRARY.with_suffix(f".{os.getpid()}.tmp")
    command = compile_command(tmp)
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        print(
            f"fused GRU kernel not built ({detail.strip().splitlines()[-1][:200]}); "
            f"model.rnn=fused will use plain TensorFlow ops.\n  {shlex.join(command)}"
        )
        tmp.unlink(missing_ok=True)
        return None
    tmp.rename(LIBRARY)
    print(f"built {LIBRARY}")
    return LIBRARY


if __name__ == "__main__":
    build()
    sys.exit(0)
