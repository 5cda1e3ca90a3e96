"""Reliability (issue 12): one writer per run directory, graceful preemption with an exact
resume, checkpoint cadence, non-finite guards, a failed checkpoint write.

The end-to-end test runs the real `seq2seq-train` in subprocesses; the lock and signal tests
that need no TensorFlow run small Python snippets; the rest call `fit` in-process.
"""

import io
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import seq2seq.training.steps as steps_module
import seq2seq.training.trainer as trainer_module
from seq2seq.errors import ConfigError, RunDirError
from seq2seq.runs import RunDir, RunLock
from seq2seq.training.loop import fit
from seq2seq.training.trainer import Trainer
from tests.cli_helpers import ENV, ROOT, run_verb
from tests.train_helpers import tiny_train_config, tiny_train_overrides, train_losses

HOST = socket.gethostname()


@pytest.fixture
def no_final_evaluation(monkeypatch):
    monkeypatch.setattr(Trainer, "final_evaluation", lambda self: {})


def _popen(argv: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        **kwargs,
    )


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 120) -> list[str]:
    """Read `proc`'s stderr until a line contains `needle`; return the lines read."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    proc.kill()
    raise AssertionError(f"{needle!r} never appeared:\n{''.join(lines)[-3000:]}")


# --- one writer per run directory ---------------------------------------------------------
HOLD_LOCK = (
    "import sys, time; from seq2seq.runs import RunLock; lock = RunLock(sys.argv[1]); "
    "lock.acquire(); print('locked', flush=True); time.sleep(60)"
)


def test_a_second_process_is_refused_then_a_dead_holder_is_taken_over(tmp_path, caplog):
    path = tmp_path / "run.lock"
    holder = _popen([sys.executable, "-c", HOLD_LOCK, str(path)], cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError) as error:
            RunLock(path).acquire()
        message = str(error.value)
        assert f"is in use: held by pid {holder.pid} on host {HOST} since 20" in message
        assert "\n" not in message and "another hydra.run.dir" in message
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL: the OS released the flock; the file still names the dead process.
    assert str(holder.pid) in path.read_text()
    with caplog.at_level("WARNING"), RunLock(path) as lock:
        assert lock.held and json.loads(path.read_text())["pid"] == os.getpid()
    assert f"did not exit cleanly (held by pid {holder.pid} on host {HOST}" in caplog.text
    assert not path.exists()  # released


def test_lock_file_of_a_dead_process_without_flock_support(tmp_path, monkeypatch):
    """Where flock is unsupported the recorded pid decides: a live holder keeps the lock."""
    import seq2seq.runs.lock as lock_module

    monkeypatch.setattr(lock_module, "_flock", lambda fd: None)
    path = tmp_path / "run.lock"
    path.write_text(json.dumps({"pid": os.getppid(), "host": HOST, "since": "then"}))
    with pytest.raises(RunDirError, match=f"held by pid {os.getppid()} on host {HOST}"):
        RunLock(path).acquire()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_TEXT)
    path.write_text(json.dumps({"pid": int(dead.stdout), "host": HOST, "since": "then"}))
    with RunLock(path):
        assert json.loads(path.read_text())["pid"] == os.getpid()


_TEXT = dict(capture_output=True, text=True, check=True)


def test_run_dir_names_the_lock_file(tmp_path):
    assert RunDir(tmp_path).lock == tmp_path / "run.lock"


# --- signals ------------------------------------------------------------------------------
WAIT_FOR_SIGNALS = (
    "import sys, time; from seq2seq.training.preemption import Preemption\n"
    "with Preemption() as p:\n"
    "    if sys.argv[1] == 'deferred':\n"
    "        with p.deferred():\n"
    "            print('ready', flush=True)\n"
    "            for _ in range(600):\n"
    "                time.sleep(0.1)\n"
    "    else:\n"
    "        print('ready', flush=True); time.sleep(60)\n"
)


@pytest.mark.parametrize(
    "mode, signals, status, message",
    [
        ("deferred", [signal.SIGINT, signal.SIGINT], 130, "second SIGINT: exiting now"),
        ("start-up", [signal.SIGTERM], 143, "interrupted by SIGTERM during start-up"),
        ("start-up", [signal.SIGINT], 130, "interrupted by SIGINT during start-up"),
    ],
)
def test_signal_exit_status_and_message(mode, signals, status, message):
    proc = _popen([sys.executable, "-c", WAIT_FOR_SIGNALS, mode], cwd=ROOT)
    assert proc.stdout.readline().strip() == "ready"
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.2)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == status, stderr
    assert message in stderr and "Traceback" not in stderr


# Trains like `seq2seq-train`, but step 3 waits while the file argv[1] exists.
HELD_TRAIN = """
import sys, time
from pathlib import Path
import seq2seq.training.trainer as trainer
hold, one_step = Path(sys.argv[1]), trainer.Trainer._one_step

def held_step(self, interval):
    while int(self.step.numpy()) == 2 and hold.exists():
        time.sleep(0.05)
    one_step(self, interval)

trainer.Trainer._one_step = held_step
from seq2seq.cli.train import main
sys.argv = ["seq2seq-train", *sys.argv[2:]]
main()
"""


def test_sigterm_in_a_step_saves_that_step_and_exits_143(tmp_path, monkeypatch, caplog):
    """In-process and quick: the signal arrives during step 3; step 3 ends, is saved, and
    fit raises Interrupted (SystemExit 143) with one log line. The slow test below runs the
    real command and checks the resume."""
    one_step = trainer_module.Trainer._one_step

    def step(self, interval):
        if int(self.step.numpy()) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        one_step(self, interval)

    monkeypatch.setattr(trainer_module.Trainer, "_one_step", step)
    handler = signal.getsignal(signal.SIGTERM)
    run_dir = tmp_path / "run"
    with caplog.at_level("WARNING"), pytest.raises(SystemExit) as stop:
        fit(tiny_train_config(tmp_path, "train.validate_every=100"), run_dir)
    assert stop.value.code == 143 and signal.getsignal(signal.SIGTERM) == handler
    checkpoint = run_dir / "checkpoints" / "last" / "ckpt-3"
    assert caplog.messages[-1] == (
        f"interrupted by SIGTERM at step 3: saved {checkpoint}; run the same command to "
        "resume from it"
    )
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints" / "last")) == str(checkpoint)
    assert sorted(train_losses(run_dir)) == [2] and not (run_dir / "run.lock").exists()


@pytest.mark.slow
def test_sigterm_saves_the_step_a_second_writer_is_refused_and_resume_is_exact(smoke_run, tmp_path):
    """`seq2seq-train` A holds at step 3; B on the same run directory exits with the lock
    message; SIGTERM to A ends step 3 with a checkpoint and status 143; the same command
    resumes and logs exactly the losses of the uninterrupted smoke run."""
    overrides = tiny_train_overrides(tmp_path, "train.deterministic=true")
    run_dir = tmp_path / "run"
    command = [*overrides, f"hydra.run.dir={run_dir}"]
    hold = tmp_path / "hold"
    hold.touch()
    a = _popen([sys.executable, "-c", HELD_TRAIN, str(hold), *command], cwd=ROOT)
    try:
        _wait_for_line(a, "step 2/12")
        b = run_verb("train", *command)
        assert b.returncode == 2, b.stderr[-2000:]
        error = b.stderr.strip().splitlines()[-1]
        assert error.startswith(f"error: {run_dir} is in use: held by pid {a.pid} on host {HOST}")
        a.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the signal arrives while step 3 waits
        hold.unlink()
        _, rest = a.communicate(timeout=120)
    finally:
        a.kill()
    assert a.returncode == 143, rest[-3000:]
    checkpoint = run_dir / "checkpoints" / "last" / "ckpt-3"
    assert f"interrupted by SIGTERM at step 3: saved {checkpoint}; run the same command" in rest
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints" / "last")) == str(checkpoint)
    assert not (run_dir / "run.lock").exists() and not (run_dir / "metrics.json").exists()

    resumed = run_verb("train", *command)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["resumed_from_step"] == 3 and metrics["steps"] == 12
    losses, reference = train_losses(run_dir), train_losses(smoke_run.run_dir)
    assert losses == reference  # exactly, at steps 2, 4, ..., 12
    assert logged(run_dir) == logged(smoke_run.run_dir)  # nothing missing or twice
    for key in ("best/val/loss", "best/val/wer", "best/test/per"):
        assert metrics[key] == smoke_run.metrics[key], key


def logged(run_dir: Path) -> list[tuple]:
    """(step, keys) of each metrics.jsonl record, in order."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    return [(r["step"], sorted(r)) for r in records]


# --- guards -------------------------------------------------------------------------------
def test_skip_nonfinite_steps(tmp_path, monkeypatch, no_final_evaluation):
    """on_nonfinite=skip: a NaN step changes no weight and is counted; two in a row stop
    the run (max_skipped_in_a_row=2). save_every_minutes ~0 writes a checkpoint every step."""
    poison = tf.Variable(1.0)
    real_loss = steps_module.real_token_cross_entropy

    def poisoned_loss(*args, **kwargs):
        loss_sum, tokens = real_loss(*args, **kwargs)
        return loss_sum * poison, tokens

    monkeypatch.setattr(steps_module, "real_token_cross_entropy", poisoned_loss)
    one_step, changed = trainer_module.Trainer._one_step, {}

    def step(self, interval):
        number = int(self.step.numpy()) + 1
        poison.assign(float("nan") if number in (3, 7, 8) else 1.0)
        before = [w.numpy().copy() for w in self.model.trainable_weights]
        one_step(self, interval)
        after = self.model.trainable_weights
        changed[number] = any(not np.array_equal(b, a.numpy()) for b, a in zip(before, after))

    monkeypatch.setattr(trainer_module.Trainer, "_one_step", step)
    cfg = tiny_train_config(
        tmp_path,
        "train.on_nonfinite=skip",
        "train.max_skipped_in_a_row=2",
        "train.save_every_minutes=1e-9",
        "train.validate_every=100",
        "train.max_steps=20",
    )
    run_dir = tmp_path / "run"
    with pytest.raises(
        trainer_module.NonFiniteLossError,
        match=r"2 steps in a row \(to step 8\) .* last checkpoint is .*ckpt-7$",
    ):
        fit(cfg, run_dir)
    assert changed == {1: True, 2: True, 3: False, 4: True, 5: True, 6: True, 7: False}
    skipped = {}
    for line in (run_dir / "metrics.jsonl").open():
        record = json.loads(line)
        skipped[record["step"]] = record["train/skipped_steps"]
    assert skipped == {2: 0, 4: 1, 6: 1}
    assert not (run_dir / "run.lock").exists()


def test_a_failed_checkpoint_write_is_one_line_and_keeps_the_previous(
    tmp_path, monkeypatch, no_final_evaluation
):
    """A write that fails for lack of space (here: the file size limit, EFBIG) raises a
    RunDirError naming the intact checkpoint, which still loads."""
    save, limit = trainer_module.Trainer.save, resource.getrlimit(resource.RLIMIT_FSIZE)
    last = tmp_path / "run" / "checkpoints" / "last"

    def save_then_fill_the_disk(self, step):
        path = save(self, step)
        size = max(f.stat().st_size for f in last.glob("ckpt-2.data-*"))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, limit[1]))
        return path

    monkeypatch.setattr(trainer_module.Trainer, "save", save_then_fill_the_disk)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cfg = tiny_train_config(tmp_path, "train.save_every=2", "train.validate_every=100")
    try:
        with pytest.raises(RunDirError) as error:
            fit(cfg, tmp_path / "run")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, previous)
    assert str(error.value) == (
        f"cannot write checkpoint {last}/ckpt-4 (File too large); the previous one, "
        f"{last}/ckpt-2, is intact. Free disk space or fix the permissions, then run the same "
        "command again to resume"
    )
    assert tf.train.latest_checkpoint(str(last)) == str(last / "ckpt-2")
    reader = tf.train.load_checkpoint(str(last / "ckpt-2"))
    assert reader.get_tensor("train_state/step/.ATTRIBUTES/VARIABLE_VALUE") == 2
    assert sorted(p.name for p in last.iterdir()) == [
        "checkpoint",
        "ckpt-2.data-00000-of-00001",
        "ckpt-2.index",
    ]
    assert not (tmp_path / "run" / "run.lock").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.on_nonfinite=ignore", "train.on_nonfinite must be stop or skip"),
        ("train.save_every=-1", "train.save_every and train.save_every_minutes must be >= 0"),
        ("train.max_skipped_in_a_row=0", "train.max_skipped_in_a_row must be >= 1"),
    ],
)
def test_reliability_settings_are_validated(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        tiny_train_config(tmp_path, override)


# --- bad input (docs/troubleshooting.md) --------------------------------------------------
def test_evaluate_and_translate_on_a_run_without_checkpoints(smoke_run, tmp_path):
    """What the verbs print after `error: ` (the CLI's one line, exit status 2)."""
    from seq2seq.cli.evaluate import evaluate
    from seq2seq.cli.translate import translate
    from tests.cli_helpers import verb_config

    run = tmp_path / "run"
    run.mkdir()
    for name in ("run_config.yaml", "tokenizer"):
        (run / name).symlink_to(smoke_run.run_dir / name)
    message = f"no checkpoint in {run}/checkpoints (was the run trained?)"
    with pytest.raises(RunDirError) as error:
        evaluate(verb_config("evaluate", f"run_dir={run}"), tmp_path / "out")
    assert str(error.value) == message
    with pytest.raises(RunDirError) as error:
        translate(verb_config("translate", f"run_dir={run}"), io.BytesIO(b"abc\n"), io.StringIO())
    assert str(error.value) == message


def test_unwritable_translation_output_is_one_line(smoke_run, tmp_path):
    from seq2seq.cli.translate import translate
    from tests.cli_helpers import verb_config

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cfg = verb_config("translate", f"run_dir={smoke_run.run_dir}", f"output={blocker}/out.txt")
    with pytest.raises(RunDirError) as error:
        translate(cfg, io.BytesIO(b"abc\n"), io.StringIO())
    assert str(error.value) == f"cannot write {blocker}/out.txt: Not a directory"
    assert blocker.read_text() == ""


def test_every_test_in_the_troubleshooting_table_exists():
    table = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    named = re.findall(r"`tests/(test_\w+\.py)::(test_\w+)`", table)
    assert len(named) >= 20
    missing = [
        f"{file}::{name}"
        for file, name in named
        if not re.search(rf"^def {name}\(", (ROOT / "tests" / file).read_text(), re.M)
    ]
    assert not missing
