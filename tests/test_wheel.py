"""The built wheel, installed into a new virtual environment, gives verbs that work from any
directory: the configs, the shipped data and the kernel source are package data
(pyproject.toml, seq2seq/resources.py), nothing is read from the checkout."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import LINES

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"


def _run(argv: list, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    """`argv` in `cwd` with an environment that cannot see the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PROJECT_ROOT")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, input=stdin, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{argv}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT], cwd=out)
    (path,) = out.glob("seq2seq-*.whl")
    return path


@pytest.mark.slow  # building the wheel takes ~30 s
def test_wheel_holds_configs_data_kernel_source_and_launcher(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "seq2seq/conf/train.yaml",
        "seq2seq/conf/debug/smoke.yaml",
        "seq2seq/conf/hydra/launcher/local.yaml",
        "seq2seq/datasets/tatoeba_spa_eng/spa.txt.gz",
        "seq2seq/datasets/tatoeba_spa_eng/LICENSE",
        "seq2seq/layers/kernels/gru_sequence.cc",
        "seq2seq/layers/kernels/build.py",
        "hydra_plugins/seq2seq_launcher/local_launcher.py",
    ):
        assert name in names
    shipped = {p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.yaml")}
    packaged = {n.removeprefix("seq2seq/conf/") for n in names if n.startswith("seq2seq/conf/")}
    assert packaged == {p for p in shipped if not p.startswith("local/")}
    assert not [n for n in names if n.endswith(".so")]


@pytest.mark.slow
def test_installed_wheel_trains_translates_and_exports_from_another_directory(wheel, tmp_path):
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    bin_dir = venv / "bin"
    _run([bin_dir / "python", "-m", "pip", "install", "-q", "-c", LOCK, wheel], cwd=tmp_path)
    where = _run([bin_dir / "python", "-c", "import seq2seq; print(seq2seq.__file__)"], work)
    assert Path(where.stdout.strip()).is_relative_to(venv)

    # The shipped Tatoeba pairs resolve into the installed package, not the working directory.
    cfg = _run(
        [bin_dir / "seq2seq-prepare", "data=tatoeba_spa_eng", "--cfg", "job", "--resolve"], work
    )
    path = Path(next(line for line in cfg.stdout.splitlines() if "spa.txt.gz" in line).split()[-1])
    assert path.is_file() and path.is_relative_to(venv)

    _run([bin_dir / "seq2seq-train", "debug=smoke"], cwd=work)
    (run_dir,) = (work / "logs" / "train" / "runs").iterdir()  # under the working directory
    assert (run_dir / "metrics.json").is_file()
    out = _run([bin_dir / "seq2seq-translate", f"run_dir={run_dir}"], work, "\n".join(LINES) + "\n")
    assert len(out.stdout.splitlines()) == len(LINES)  # one line out per line in, blank or not
    _run([bin_dir / "seq2seq-export", f"run_dir={run_dir}"], cwd=work)
    assert (run_dir / "export" / "saved_model.pb").is_file()
