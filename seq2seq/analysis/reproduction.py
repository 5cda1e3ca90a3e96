"""An experiment's results table, made from its runs instead of typed by hand.

`experiments/<name>/reproduce.yaml` lists the exact commands (`runs`: train overrides and
evaluations of each run), the table's `rows` (each a label and the runs it averages), its
`columns` (a figure and its format) and the `tolerance` of each compared figure.
`experiments/<name>/results.json` holds the recorded figures of every run, and README.md shows
the table rendered from them between RESULTS_BEGIN and RESULTS_END. `seq2seq-reproduce`
(seq2seq/cli/reproduce.py) re-runs the commands and rewrites both.

A figure is named `<source>/<key>`: `train/<key>` of the run's metrics.json (`train/best/test/
wer`), `config/<dotted key>` of its run_config.yaml (`config/data.batch_tokens`), or
`<evaluation>/<key>` of the metrics of one of its evaluations (`beam5/wer`).

An evaluation may name an earlier run's directory as `{run:NAME}` (an ensemble of two runs:
`"ensemble=[{run:seed1234}]"`); `resolve_runs` puts in the reproduction's directory. Plain Python.
"""

import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from seq2seq.analysis.runs import flatten
from seq2seq.errors import ConfigError
from seq2seq.runs import RunDir
from seq2seq.runs.run_dir import METRICS_FILE

SPEC_FILE = "reproduce.yaml"
RESULTS_FILE = "results.json"
README_FILE = "README.md"
RESULTS_BEGIN = "<!-- results:begin -->"
RESULTS_END = "<!-- results:end -->"
MISSING = "—"
TRAIN, CONFIG = "train", "config"
RUN_REFERENCE = re.compile(r"\{run:([^{}]*)\}")


@dataclass(frozen=True)
class Run:
    """One run: `seq2seq-train *train`, then `seq2seq-evaluate run_dir=... *overrides` for
    each named evaluation, then `seq2seq-distill run_dir=... *overrides output=...` for each
    named distillation (a corpus of the run's, or its ensemble's, outputs)."""

    name: str
    train: list[str]
    evaluate: dict[str, list[str]] = field(default_factory=dict)
    distill: dict[str, list[str]] = field(default_factory=dict)

    def references(self) -> list[str]:
        """The runs its evaluations and distillations name as `{run:NAME}`, in order."""
        steps = [*self.evaluate.values(), *self.distill.values()]
        overrides = [o for step in steps for o in step]
        return list(dict.fromkeys(m for o in overrides for m in RUN_REFERENCE.findall(o)))


def resolve_runs(overrides: list[str], out: str | Path) -> list[str]:
    """`{run:NAME}` -> `<out>/NAME` in each override."""
    return [RUN_REFERENCE.sub(lambda m: str(Path(out) / m.group(1)), o) for o in overrides]


@dataclass(frozen=True)
class Row:
    label: str
    command: str
    runs: list[str]


@dataclass(frozen=True)
class Column:
    title: str
    figure: str
    format: str = ".2f"  # a format spec of the value after dividing by `divide`
    divide: float = 1.0
    unit: str = ""


@dataclass(frozen=True)
class Spec:
    name: str
    runs: dict[str, Run]
    rows: list[Row]
    columns: list[Column]
    tolerance: dict[str, float]

    def figures(self) -> list[str]:
        """Every figure a column shows or the tolerance compares, in order."""
        return list(dict.fromkeys([c.figure for c in self.columns] + list(self.tolerance)))


# --- reading the spec -----------------------------------------------------------------------


def load_spec(directory: str | Path) -> Spec:
    """The experiment's reproduce.yaml, checked; ConfigError names the file and the key."""
    path = Path(directory) / SPEC_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: an experiment lists its runs there")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    where = str(path)
    _keys(
        raw, {"runs", "rows", "columns", "tolerance"}, where, required={"runs", "rows", "columns"}
    )
    runs = {}
    for name, run in _mapping(raw["runs"], f"{where}: runs").items():
        _keys(run, {"train", "evaluate", "distill"}, f"{where}: runs.{name}", required={"train"})
        steps = {}
        for step in ("evaluate", "distill"):
            named = _mapping(run.get(step) or {}, f"{where}: runs.{name}.{step}")
            steps[step] = {
                str(k): _strings(v, f"{where}: runs.{name}.{step}.{k}") for k, v in named.items()
            }
        runs[str(name)] = Run(
            str(name), _strings(run["train"], f"{where}: runs.{name}.train"), **steps
        )
    _check_references(runs, where)
    rows = [
        _row(row, runs, f"{where}: rows[{i}]") for i, row in enumerate(_list(raw["rows"], where))
    ]
    columns = [
        _column(c, runs, f"{where}: columns[{i}]")
        for i, c in enumerate(_list(raw["columns"], where))
    ]
    tolerance = {}
    for figure, value in _mapping(raw.get("tolerance") or {}, f"{where}: tolerance").items():
        _check_figure(str(figure), runs, f"{where}: tolerance.{figure}")
        tolerance[str(figure)] = _number(value, f"{where}: tolerance.{figure}")
    return Spec(Path(directory).name, runs, rows, columns, tolerance)


def _check_references(runs: dict[str, Run], where: str) -> None:
    """A `{run:NAME}` names a run listed before (trained before it is evaluated with)."""
    earlier: list[str] = []
    for name, run in runs.items():
        for reference in run.references():
            if reference not in earlier:
                raise ConfigError(
                    f"{where}: runs.{name}: {{run:{reference}}} must name a run listed "
                    f"before {name!r}; earlier runs: {earlier}"
                )
        earlier.append(name)


def _row(raw, runs: dict[str, Run], where: str) -> Row:
    _keys(raw, {"label", "command", "runs"}, where, required={"label", "runs"})
    names = _strings(raw["runs"], f"{where}.runs")
    unknown = [n for n in names if n not in runs]
    if unknown or not names:
        raise ConfigError(f"{where}.runs: unknown run(s) {unknown or '(none given)'}")
    return Row(str(raw["label"]), str(raw.get("command", MISSING)), names)


def _column(raw, runs: dict[str, Run], where: str) -> Column:
    _keys(raw, {"title", "figure", "format", "divide", "unit"}, where, required={"title", "figure"})
    column = Column(**{k: v for k, v in raw.items()})
    _check_figure(column.figure, runs, f"{where}.figure")
    if _number(column.divide, f"{where}.divide") == 0:
        raise ConfigError(f"{where}.divide: must not be 0")
    try:
        format(1.0, column.format)
    except ValueError:
        raise ConfigError(f"{where}.format: {column.format!r} is not a number format") from None
    return column


def _check_figure(figure: str, runs: dict[str, Run], where: str) -> None:
    source, _, key = figure.partition("/")
    evaluations = {e for run in runs.values() for e in run.evaluate}
    if not key or source not in {TRAIN, CONFIG} | evaluations:
        raise ConfigError(
            f"{where}: {figure!r} must be train/<key>, config/<key> or <evaluation>/<key> "
            f"(evaluations: {sorted(evaluations)})"
        )


def _keys(raw, allowed: set[str], where: str, required: set[str]) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    unknown, missing = set(raw) - allowed, required - set(raw)
    if unknown or missing:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}, missing {sorted(missing)}")


def _mapping(raw, where: str) -> dict:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    return raw


def _list(raw, where: str) -> list:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list, got {raw!r}")
    return raw


def _number(raw, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{where}: expected a number, got {raw!r}")
    return float(raw)


def _strings(raw, where: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ConfigError(f"{where}: expected a list of strings, got {raw!r}")
    return list(raw)


# --- figures of finished runs -----------------------------------------------------------------


def run_figures(run_dir: str | Path, figures: list[str]) -> dict[str, float]:
    """The `figures` a finished run directory has (missing ones are left out)."""
    run = RunDir(run_dir)
    sources: dict[str, dict] = {}

    def source(name: str) -> dict:
        if name not in sources:
            sources[name] = _read_source(run, name)
        return sources[name]

    found = {}
    for figure in figures:
        name, _, key = figure.partition("/")
        value = source(name).get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[figure] = float(value)
    return found


def _read_source(run: RunDir, name: str) -> dict:
    if name == TRAIN:
        return _json(run.metrics)
    if name == CONFIG:
        return (
            flatten(OmegaConf.to_container(OmegaConf.load(run.config)))
            if run.config.exists()
            else {}
        )
    return _json(run.evaluations / name / METRICS_FILE).get("metrics", {})


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def read_results(path: str | Path) -> dict[str, dict[str, float]]:
    """{run: {figure: value}} of a results.json (empty if there is none)."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8"))["runs"] if path.exists() else {}


def results_json(spec: Spec, results: dict[str, dict[str, float]], note: str) -> str:
    """results.json: the experiment, a note on where the figures come from, and the figures."""
    runs = {name: results.get(name, {}) for name in spec.runs if name in results}
    return json.dumps({"experiment": spec.name, "note": note, "runs": runs}, indent=2) + "\n"


# --- the table ----------------------------------------------------------------------------


def render_table(spec: Spec, results: dict[str, dict[str, float]]) -> str:
    """The Markdown table: experiment, command, runs, then one cell per column. A row over
    several runs shows their mean and each run's value in brackets (in the order of `runs`),
    or the one value when they agree; a missing figure is MISSING."""
    header = ["experiment", "command", "runs", *[c.title for c in spec.columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in spec.rows:
        cells = [row.label, row.command, ", ".join(row.runs)]
        for column in spec.columns:
            cells.append(
                format_cell([results.get(r, {}).get(column.figure) for r in row.runs], column)
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def format_cell(values: list[float | None], column: Column) -> str:
    """`29.84 (29.94 / 29.73)`, `2,800`, `8.6 min`, or MISSING."""

    def number(value: float | None) -> str:
        return MISSING if value is None else format(value / column.divide, column.format)

    present = [v for v in values if v is not None]
    if not present:
        return MISSING
    if len(values) == 1 or (len(present) == len(values) and len({number(v) for v in values}) == 1):
        return number(present[0]) + column.unit
    each = " / ".join(number(v) for v in values)
    return f"{number(statistics.fmean(present))} ({each}){column.unit}"


def replace_table(readme: str, table: str, where: str) -> str:
    """`readme` with the text between RESULTS_BEGIN and RESULTS_END replaced by `table`."""
    begin, end = readme.find(RESULTS_BEGIN), readme.find(RESULTS_END)
    if begin < 0 or end < begin:
        raise ConfigError(
            f"{where}: needs the lines {RESULTS_BEGIN} and {RESULTS_END} around the table"
        )
    return readme[: begin + len(RESULTS_BEGIN)] + "\n" + table + readme[end:]


# --- comparing with the recorded figures ----------------------------------------------------


@dataclass(frozen=True)
class Difference:
    run: str
    figure: str
    recorded: float
    new: float | None
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.new is not None and abs(self.new - self.recorded) <= self.tolerance


def compare(
    spec: Spec, recorded: dict[str, dict[str, float]], new: dict[str, dict[str, float]]
) -> list[Difference]:
    """Each toleranced figure of each new run that has a recorded value."""
    return [
        Difference(run, figure, recorded[run][figure], new[run].get(figure), tolerance)
        for run in new
        for figure, tolerance in spec.tolerance.items()
        if figure in recorded.get(run, {})
    ]


def format_differences(differences: list[Difference]) -> str:
    """One line per compared figure: recorded -> new (difference, tolerance), ok or OVER."""
    lines = []
    for d in differences:
        change = MISSING if d.new is None else f"{d.new:.4g} ({d.new - d.recorded:+.3g}"
        verdict = "ok" if d.ok else "OVER"
        tail = f", tolerance {d.tolerance:g})" if d.new is not None else ""
        lines.append(f"{verdict:<4} {d.run} {d.figure}: {d.recorded:.4g} -> {change}{tail}")
    return "\n".join(lines)
