"""Kill anywhere, resume exactly: SIGKILL a real training run at random moments, re-run the same
command after each kill, and compare the result with an uninterrupted run.

The run is the default experiment at `debug=smoke` size with `train.deterministic=true` and a
checkpoint every few steps (settings in `TRAIN`). A reference run goes first, uninterrupted;
then the same command runs in a second directory and is killed (SIGKILL: nothing of the
process gets to react) at `--kills` moments drawn at random from these phases:

- `startup`: a random time between launch and the first training step;
- `step`: a random time inside a step after a random target step;
- `checkpoint`: the moment a checkpoint is being written (its `ckpt-N_temp/` appears);
- `validation`: a random time inside a validation;
- `final_evaluation`: a random time inside the final evaluation of the best checkpoint.

After each kill every checkpoint listed in `checkpoints/{last,best}/checkpoint` must load, and
the next attempt runs the same command. At the end the interrupted run's `metrics.jsonl` and
`metrics.json` are compared with the reference: one JSON object is printed with the number of
kills (by phase), resumes, unreadable checkpoints, duplicated and missing logged records, and
the largest absolute difference of the logged losses, of every other logged figure (timings
excluded) and of the final metrics. All counts but kills and resumes must be 0.

    .venv/bin/python benchmarks/fault_injection.py [--kills 12] [--seed 0] [--workdir DIR]
"""

import argparse
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = Path(sys.executable).parent / "seq2seq-train"
MAX_STEPS, VALIDATE_EVERY = 30, 10
OVERRIDES = [
    "experiment=g2p_cmudict",
    "debug=smoke",
    "train.deterministic=true",
    f"train.max_steps={MAX_STEPS}",
    f"train.validate_every={VALIDATE_EVERY}",
    "train.log_every=2",
    "logger.console_every=2",
    "train.save_every=3",  # resumes fall mid log interval, so that path is checked too
]
# Figures that depend on the wall clock, left out of the comparison.
TIMING = {"time", "train/real_tokens_per_sec", "train/padded_positions_per_sec"}
NOT_FIGURES = TIMING | {"step"}
PHASES = ("step", "checkpoint", "validation")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")


class Attempt:
    """One `seq2seq-train` process; its stderr lines arrive on `lines` with their time."""

    def __init__(self, run_dir: Path, log_path: Path) -> None:
        self.run_dir, self.started, self.wall_started = run_dir, time.monotonic(), time.time()
        self.log = open(log_path, "w", encoding="utf-8")
        self.done = False  # the process's stderr has ended
        self.proc = subprocess.Popen(
            [str(TRAIN), *OVERRIDES, f"hydra.run.dir={run_dir}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            cwd=ROOT,
        )
        self.lines: queue.Queue = queue.Queue()
        self.text: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with self.log:
            for line in self.proc.stderr:
                self.log.write(line)
                self.lines.put((time.monotonic(), line))
        self.lines.put((time.monotonic(), None))

    def next_line(self, timeout: float) -> str | None:
        """The next stderr line ('' if none within `timeout`; None at the end)."""
        if self.done:
            return None
        try:
            _, line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return ""
        if line is None:
            self.done = True
        else:
            self.text.append(line)
        return line

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        while self.next_line(5.0) is not None:  # what it wrote before the kill
            pass

    def finish(self) -> int:
        while self.next_line(1.0) is not None:
            pass
        return self.proc.wait()


def console_step(line: str) -> int | None:
    """N of a console line `... step N/M | ...`."""
    if "][seq2seq.train][INFO] step " not in line:
        return None
    return int(line.split("] step ", 1)[1].split("/", 1)[0])


def writing_checkpoint(run_dir: Path, since: float) -> str | None:
    """The checkpoint being written (`last/ckpt-N`), seen by its `ckpt-N_temp/` changed after
    `since` (older ones are leftovers of killed saves); None if none is."""
    for which in ("last", "best"):
        for partial in (run_dir / "checkpoints" / which).glob("ckpt-*_temp"):
            try:
                if partial.stat().st_mtime >= since:
                    return f"{which}/{partial.name.removesuffix('_temp')}"
            except FileNotFoundError:  # the save just finished
                continue
    return None


def reference_timings(attempt: Attempt) -> dict:
    """Durations of the phases in the uninterrupted run (for drawing kill times)."""
    first_step = last_step = final_start = final_end = None
    steps, validations = [], []
    while (line := attempt.next_line(600)) is not None:
        at = time.monotonic()
        if not line:
            continue
        if console_step(line) is not None:
            first_step = first_step or at
            if last_step is not None:
                steps.append((at - last_step) / 2)  # a console line every 2 steps
            last_step = at
        if "validation at step" in line:
            validations.append(float(line.split(" (", 1)[1].split("s)", 1)[0]))
            last_step = None
        if "stopped at step" in line:
            final_start = at
        if "best checkpoint on" in line:
            final_end = at
    if attempt.finish() != 0 or first_step is None or final_end is None:
        raise SystemExit("the reference run failed:\n" + "".join(attempt.text[-20:]))
    return {
        "startup": first_step - attempt.started,
        "step": sorted(steps)[len(steps) // 2],
        "validation": max(validations),
        "final_evaluation": final_end - final_start,
    }


def plan_kills(count: int, rng: random.Random) -> list[tuple[str, int]]:
    """(phase, target step) per kill in training order: two at start-up, two in the final
    evaluation, the others at increasing random steps, cycling through PHASES."""
    middle = max(count - 4, 0)
    targets = sorted(rng.sample(range(1, MAX_STEPS), min(middle, MAX_STEPS - 1)))
    plan = [("startup", 0)] * min(count, 2)
    plan += [(PHASES[i % len(PHASES)], target) for i, target in enumerate(targets)]
    return plan + [("final_evaluation", MAX_STEPS)] * (count - len(plan))


def kill_at(
    attempt: Attempt, phase: str, target: int, times: dict, rng: random.Random
) -> str | None:
    """Run `attempt` to a random moment of `phase` at or after step `target` and SIGKILL it
    there; return where (the last logged step, the checkpoint being written). A target already
    passed (the attempt resumed later) moves to the next such moment, and to the final
    evaluation when training is over. None if the process ended first."""
    deadline, last_step = None, None
    if phase == "startup":
        deadline = attempt.started + rng.uniform(0.0, times["startup"])
    watching = False  # for checkpoint writes
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            attempt.kill()
            return f"{phase} after logged step {last_step}, {now - attempt.started:.1f}s in"
        writing = watching and writing_checkpoint(attempt.run_dir, attempt.wall_started)
        if writing:
            attempt.kill()
            return f"{phase} {writing} after logged step {last_step}"
        line = attempt.next_line(0.001 if watching else 0.02)
        if line is None:
            return None
        if deadline is not None or not line:
            continue
        if "resuming at step" in line:
            resumed = int(line.rsplit("resuming at step ", 1)[1].split()[0])
            if resumed >= MAX_STEPS:
                phase = "final_evaluation"
            target = max(target, resumed + 1)
        step = console_step(line)
        last_step = step if step is not None else last_step
        if phase == "final_evaluation" and "stopped at step" in line:
            deadline = now + rng.uniform(0.0, times["final_evaluation"])
        elif step is None or step < target - 1:
            continue
        elif phase == "checkpoint":
            watching = True
        elif phase == "step" and step >= target:
            deadline = now + rng.uniform(0.0, times["step"])
        elif phase == "validation" and step % VALIDATE_EVERY == 0:
            deadline = now + rng.uniform(0.0, times["validation"])


def unreadable_checkpoints(run_dir: Path) -> list[str]:
    """Checkpoints listed in an index file of which some tensor cannot be read (every tensor
    is read back, its checksum verified; the data iterator's state too)."""
    import tensorflow as tf

    bad = []
    for which in ("last", "best"):
        state = tf.train.get_checkpoint_state(str(run_dir / "checkpoints" / which))
        for path in state.all_model_checkpoint_paths if state else []:
            try:
                dtypes = tf.train.load_checkpoint(path).get_variable_to_dtype_map()
                names = sorted(dtypes)
                tf.raw_ops.RestoreV2(
                    prefix=path,
                    tensor_names=names,
                    shape_and_slices=[""] * len(names),
                    dtypes=[dtypes[n] for n in names],
                )
            except Exception as exc:  # noqa: BLE001
                bad.append(f"{path}: {str(exc).splitlines()[0][:200]}")
    return bad


def records(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def compare(reference: Path, resumed: Path) -> dict:
    """Duplicated/missing (step, figure) records and the largest differences."""
    ref = {
        (r["step"], k): v for r in records(reference) for k, v in r.items() if k not in NOT_FIGURES
    }
    seen: dict = {}
    for r in records(resumed):
        for k, v in r.items():
            if k not in NOT_FIGURES:
                seen.setdefault((r["step"], k), []).append(v)
    duplicated = sorted(key for key, values in seen.items() if len(values) > 1)
    missing = sorted(set(ref) - set(seen))
    extra = sorted(set(seen) - set(ref))
    diffs = {key: abs(seen[key][-1] - ref[key]) for key in ref if key in seen}
    final_ref, final = (json.loads((d / "metrics.json").read_text()) for d in (reference, resumed))
    final_keys = [k for k in final_ref if k.startswith("best/") or k == "steps"]
    final_diff = max(abs(final[k] - final_ref[k]) for k in final_keys)
    return {
        "logged_records": len(seen),
        "duplicated_logged_steps": len({step for step, _ in duplicated}),
        "missing_logged_steps": len({step for step, _ in missing + extra}),
        "max_abs_diff_logged_losses": max(v for (_, k), v in diffs.items() if "loss" in k),
        "max_abs_diff_logged_figures": max(diffs.values()),
        "max_abs_diff_final_metrics": final_diff,
        "same_stop_reason_and_best_step": final["stop_reason"] == final_ref["stop_reason"]
        and Path(final["best_checkpoint"]).name == Path(final_ref["best_checkpoint"]).name,
        "examples": {
            "duplicated": [list(k) for k in duplicated[:5]],
            "missing": [list(k) for k in missing[:5]],
            "extra": [list(k) for k in extra[:5]],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="kept; default: a temporary directory")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fault_injection_"))
    reference, interrupted = work / "reference", work / "interrupted"
    for directory in (reference, interrupted):
        shutil.rmtree(directory, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    times = reference_timings(Attempt(reference, work / "reference.log"))

    phases: dict[str, int] = {}
    unreadable, failures, texts, where = [], [], [], []
    plan = plan_kills(args.kills, rng) + [(None, 0)]  # then run to the end
    for phase, target in plan:
        attempt = Attempt(interrupted, work / f"attempt-{len(texts) + 1:02d}.log")
        moment = kill_at(attempt, phase, target, times, rng) if phase else None
        status = attempt.finish()
        killed = moment is not None and status == -signal.SIGKILL
        texts.append("".join(attempt.text))
        if killed:
            actual = moment.split()[0]  # a passed target may have moved to the final evaluation
            phases[actual] = phases.get(actual, 0) + 1
            where.append(moment)
            unreadable += unreadable_checkpoints(interrupted)
        elif status != 0:
            failures.append(f"attempt {len(texts)}: status {status}: {texts[-1][-800:]}")
            break
        else:
            break  # finished (before the planned kill, if any)
    result = {
        "kills": sum(phases.values()),
        "kills_by_phase": phases,
        "attempts": len(texts),
        "resumes": sum("resuming at step" in text for text in texts),
        "stale_lock_takeovers": sum("taking over the lock" in text for text in texts),
        "failed_attempts": len(failures),
        "unreadable_checkpoints": len(unreadable),
    }
    if not failures:
        result.update(compare(reference, interrupted))
    result["seconds"] = round(time.monotonic() - started, 1)
    result["reference_phase_seconds"] = {k: round(v, 2) for k, v in times.items()}
    result["details"] = {
        "kills": where,
        "unreadable": unreadable[:5],
        "failures": failures,
        "workdir": str(work),
    }
    print(json.dumps(result, indent=2))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
