"""`seq2seq-reproduce NAME [--smoke] [--only RUN,...] [--out DIR] [--table-only] [override ...]`:
re-run the commands of experiments/NAME/reproduce.yaml and regenerate its results table.

Each run trains into OUT/<run> (`seq2seq-train <its overrides> hydra.run.dir=OUT/<run>`) and is
evaluated into OUT/<run>/evaluations/<evaluation>; a run or evaluation that already finished
there is not run again, so an interrupted reproduction continues where it stopped. The table is
then made from the runs' metrics.json, written to OUT/table.md and printed, and the figures are
compared with the recorded ones (experiments/NAME/results.json) within the experiment's
tolerance. A full reproduction (no --smoke, --only or overrides) within tolerance rewrites
results.json and the table in experiments/NAME/README.md; one out of tolerance leaves them and
exits 1. `--smoke` appends debug=smoke to every run (a quick check of the commands; nothing is
compared or rewritten); extra overrides are appended to every training command likewise.
`--render-recorded` only rewrites README.md's table from results.json.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import yaml

from seq2seq import __version__
from seq2seq.analysis.reproduction import (
    README_FILE,
    RESULTS_FILE,
    Run,
    Spec,
    compare,
    format_differences,
    load_spec,
    read_results,
    render_table,
    replace_table,
    resolve_runs,
    results_json,
    run_figures,
)
from seq2seq.errors import Seq2SeqError
from seq2seq.files import atomic_write_text
from seq2seq.runs import RunDir, git_commit
from seq2seq.runs.run_dir import METRICS_FILE

SMOKE = "debug=smoke"
TABLE_FILE = "table.md"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        sys.exit(reproduce(args))
    except Seq2SeqError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="seq2seq-reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("name", help="an experiment: a directory of --experiments-dir")
    parser.add_argument("overrides", nargs="*", help="appended to every training command")
    parser.add_argument("--smoke", action="store_true", help=f"append {SMOKE} to every run")
    parser.add_argument("--only", help="comma-separated runs to do (default: all)")
    parser.add_argument(
        "--out",
        type=Path,
        help="where the runs go (default: logs/reproduce/NAME, smoke: a new dir)",
    )
    parser.add_argument("--table-only", action="store_true", help="run nothing: use OUT's runs")
    parser.add_argument(
        "--render-recorded", action="store_true", help="rewrite README.md's table from results.json"
    )
    parser.add_argument("--experiments-dir", type=Path, default=Path("experiments"))
    return parser.parse_args(argv)


def reproduce(args: argparse.Namespace) -> int:
    """The exit status: 0, or 1 if a figure is out of tolerance."""
    directory = args.experiments_dir / args.name
    spec = load_spec(directory)
    recorded = read_results(directory / RESULTS_FILE)
    if args.render_recorded:
        write_readme(directory, render_table(spec, recorded))
        print(f"{directory / README_FILE}: table rendered from {RESULTS_FILE}", file=sys.stderr)
        return 0
    names = select_runs(spec, args.only)
    extra = ([SMOKE] if args.smoke else []) + list(args.overrides)
    out = args.out or default_out(spec.name, bool(extra))
    if not args.table_only:
        check_references(spec, names, out)
        for index, name in enumerate(names, 1):
            print(f"[{index}/{len(names)}] run {name}", file=sys.stderr)
            run_commands(spec.runs[name], out / name, extra)
    new = {name: run_figures(out / name, spec.figures()) for name in names}
    table = render_table(spec, new)
    atomic_write_text(out / TABLE_FILE, table)
    print(table, end="")
    if extra:
        print(f"quick check ({' '.join(extra)}): not compared; table in {out / TABLE_FILE}")
        return 0
    differences = compare(spec, recorded, new)
    if differences:
        print(format_differences(differences))
    if any(not d.ok for d in differences):
        print(
            f"figures out of tolerance: {directory} not updated; table in {out / TABLE_FILE}",
            file=sys.stderr,
        )
        return 1
    if set(names) == set(spec.runs):
        note = f"seq2seq-reproduce {spec.name}: runs in {out}, code {git_commit()}"
        atomic_write_text(directory / RESULTS_FILE, results_json(spec, new, note))
        write_readme(directory, table)
        print(f"updated {directory / RESULTS_FILE} and {directory / README_FILE}", file=sys.stderr)
    return 0


def select_runs(spec: Spec, only: str | None) -> list[str]:
    if not only:
        return list(spec.runs)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in spec.runs]
    if unknown:
        raise Seq2SeqError(f"--only: unknown run(s) {unknown}; runs: {list(spec.runs)}")
    return [n for n in spec.runs if n in names]  # reproduce.yaml's order: references first


def check_references(spec: Spec, names: list[str], out: Path) -> None:
    """Before anything runs: every `{run:A}` of a selected run is selected before it or
    already trained in OUT (so `--only B` fails at once, not after training B)."""
    for index, name in enumerate(names):
        for reference in spec.runs[name].references():
            if reference in names[:index] or RunDir(out / reference).metrics.exists():
                continue
            raise Seq2SeqError(
                f"run {name} is evaluated with run {reference}, which is not trained in "
                f"{out}: reproduce it first (--only {reference},{name})"
            )


def default_out(name: str, quick: bool) -> Path:
    """logs/reproduce/NAME (continued by the next call), or a new directory for a quick check."""
    root = Path("logs") / "reproduce"
    return root / f"{name}-check" / time.strftime("%Y-%m-%d_%H-%M-%S") if quick else root / name


def write_readme(directory: Path, table: str) -> None:
    path = directory / README_FILE
    atomic_write_text(path, replace_table(path.read_text(encoding="utf-8"), table, str(path)))


# --- running the commands -------------------------------------------------------------------


def run_commands(run: Run, run_dir: Path, extra: list[str]) -> None:
    """Train (unless finished), evaluate and distill (each unless finished) one run; a
    distillation's corpus goes to <run>/distilled/<name>/ (resumed if interrupted)."""
    overrides = run.train + extra
    if RunDir(run_dir).metrics.exists():
        check_same_overrides(run_dir, overrides)
        print(f"  {run_dir}: trained already", file=sys.stderr)
    else:
        command("train", *overrides, f"hydra.run.dir={run_dir}")
    for name, evaluation in run.evaluate.items():
        out = RunDir(run_dir).evaluations / name
        if (out / METRICS_FILE).exists():
            print(f"  {out}: evaluated already", file=sys.stderr)
            continue
        overrides = resolve_runs(evaluation, run_dir.parent)
        command("evaluate", f"run_dir={run_dir}", *overrides, f"hydra.run.dir={out}")
    for name, distillation in run.distill.items():
        out = run_dir / "distilled" / name
        if (out / "distill.json").exists():
            print(f"  {out}: distilled already", file=sys.stderr)
            continue
        overrides = resolve_runs(distillation, run_dir.parent)
        command("distill", f"run_dir={run_dir}", *overrides, f"output={out}")


def check_same_overrides(run_dir: Path, overrides: list[str]) -> None:
    """A finished run is reused only if it was trained by the same command."""
    path = run_dir / ".hydra" / "overrides.yaml"
    stored = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    if stored is not None and [o for o in stored if not o.startswith("hydra.")] != overrides:
        raise Seq2SeqError(
            f"{run_dir} was trained with {stored}, not {overrides}: remove it or choose --out"
        )


def command(verb: str, *arguments: str) -> None:
    """Run `seq2seq-<verb> arguments` (its output passes through); raise if it fails."""
    argv = [str(Path(sys.executable).parent / f"seq2seq-{verb}"), *arguments]
    print(f"  $ seq2seq-{verb} {' '.join(arguments)}", file=sys.stderr)
    status = subprocess.run(argv, check=False).returncode
    if status != 0:
        raise Seq2SeqError(f"seq2seq-{verb} {' '.join(arguments)} exited with status {status}")


if __name__ == "__main__":
    main()
