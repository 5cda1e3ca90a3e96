"""docs/DESIGN.md stays true: its layer picture lists the import-linter contract's rows, its
table names every package, and every public name in the table exists.

When a package or a public name is added, moved or removed, the failure says which line of
docs/DESIGN.md to add or change.
"""

import ast
import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "DESIGN.md"
PLUGINS = "hydra_plugins"


def design_text() -> str:
    return DESIGN.read_text(encoding="utf-8")


def layer_picture() -> list[set[str]]:
    """The picture's rows, bottom last: the package names before the description."""
    section = design_text().split("## Layers", 1)[1]
    block = section.split("```", 2)[1]
    rows = []
    for line in block.splitlines()[1:]:
        names = re.match(r"^(\w+(?: \| \w+)*)\s{2,}", line)
        if names:
            rows.append(set(names.group(1).split(" | ")))
    return rows


def contract_rows() -> list[set[str]]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = pyproject["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [{name.strip().removeprefix("seq2seq.") for name in row.split("|")} for row in layers]


def table() -> dict[str, list[str]]:
    """{package: [public name, ...]} from the table whose header is `| package | job | ...`."""
    rows = {}
    lines = design_text().split("| package | job | public names |", 1)[1].splitlines()[2:]
    for line in lines:
        if not line.startswith("|"):
            break
        package, _job, names = (cell.strip() for cell in line.strip("|").split(" | ", 2))
        rows[package.strip("`")] = re.findall(r"`([^`]+)`", names)
    return rows


def module_name(package: str) -> str:
    return package if package.startswith(PLUGINS) else f"seq2seq.{package}"


def resolve(base: str, dotted: str) -> None:
    """Import `base`, then follow `dotted` through attributes or submodules; raise if absent."""
    obj = importlib.import_module(base)
    for part in dotted.split("."):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif hasattr(obj, "__path__"):  # a package: the part may be a submodule not yet imported
            obj = importlib.import_module(f"{obj.__name__}.{part}")
        else:
            raise AttributeError(f"{obj!r} has no {part!r}")


def packages() -> set[str]:
    """Every top-level module and package of seq2seq, and every package of hydra_plugins."""
    found = {
        path.stem if path.is_file() else path.name
        for path in (ROOT / "seq2seq").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }
    found |= {
        f"{PLUGINS}.{path.name}"
        for path in (ROOT / PLUGINS).iterdir()
        if (path / "__init__.py").exists()
    }
    return found


def test_the_picture_lists_the_contracts_rows():
    picture, contract = layer_picture(), contract_rows()
    assert picture == contract, (
        "docs/DESIGN.md's layer picture must list the rows of the `layers` contract in "
        f"pyproject.toml, top first: contract {[' | '.join(sorted(r)) for r in contract]}, "
        f"picture {[' | '.join(sorted(r)) for r in picture]}"
    )


def test_the_table_names_every_package():
    listed, present = set(table()), packages()
    missing = sorted(present - listed)
    assert not missing, "docs/DESIGN.md: add a table row for each of these packages: " + "; ".join(
        f"| `{name}` | <its job> | `<public name>`, ... |" for name in missing
    )
    gone = sorted(listed - present)
    assert not gone, f"docs/DESIGN.md: the table lists packages that do not exist: {gone}"


def test_every_public_name_in_the_table_exists():
    absent = []
    for package, names in table().items():
        assert names, f"docs/DESIGN.md: the `{package}` row names no public names"
        for name in names:
            try:
                resolve(module_name(package), name)
            except (ImportError, AttributeError) as exc:
                absent.append(f"`{name}` in the `{package}` row ({exc})")
    assert not absent, "docs/DESIGN.md: fix or remove these public names: " + "; ".join(absent)


def test_every_verb_is_in_the_cli_row():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    verbs = {
        target.split(":")[0].removeprefix("seq2seq.cli.") + ".main"
        for target in pyproject["project"]["scripts"].values()
    }
    missing = sorted(verbs - set(table()["cli"]))
    assert not missing, f"docs/DESIGN.md: add {missing} to the `cli` row"


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_layers_use_tensorflow_only_where_the_conventions_say():
    conventions = design_text().split("## Conventions", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`layers\.(\w+)`", conventions))
    layer_files = sorted((ROOT / "seq2seq" / "layers").glob("*.py"))
    using = {
        path.stem
        for path in layer_files
        if any(m == "tensorflow" or m.startswith("tensorflow.") for m in imported_modules(path))
    }
    assert using == named, (
        "docs/DESIGN.md, Conventions: the layer modules that import TensorFlow are "
        f"{sorted(using)}, the page names {sorted(named)}"
    )
    configured = [
        path.name
        for path in layer_files
        if any(m.startswith("seq2seq.config") for m in imported_modules(path))
    ]
    assert not configured, f"layers must not import seq2seq.config: {configured}"
