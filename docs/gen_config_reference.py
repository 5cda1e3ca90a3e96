"""The configuration reference page, generated from the typed schemas (`seq2seq/config/`).

Every key of every verb's config with its type, default and help. The help is the schema's own
comment on the field (the line(s) above it, or at its end), so the page cannot drift from the
code. Run by the mkdocs-gen-files plugin (`mkdocs.yml`); `python docs/gen_config_reference.py`
prints the page.
"""

import ast
import dataclasses
import io
import tokenize
import typing
from pathlib import Path

from seq2seq.config import SCHEMAS

PAGE = "reference/config.md"
INTRO = """# Configuration reference

Every key of every verb, generated from the typed schemas in `seq2seq/config/` when the docs
are built. A key is set on the command line (`seq2seq-train train.max_steps=3000`), in a config
group file under `conf/`, or in an experiment. The composed config is checked against these
schemas at startup: an unknown key, a wrong type or a broken cross-field rule is a one-line
`error:` naming the key.

"""


def field_help(cls: type) -> dict[str, str]:
    """{field name: its comment} from the source of dataclass `cls`."""
    source = Path(typing.cast(str, __import__("inspect").getsourcefile(cls))).read_text()
    comments = _comments_by_line(source)
    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    help_text = {}
    for stmt in node.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        above, line = [], stmt.lineno - 1
        while line in comments and comments[line][1]:  # whole-line comments right above
            above.insert(0, comments[line][0])
            line -= 1
        inline = comments.get(stmt.end_lineno, ("", True))
        parts = above + ([inline[0]] if inline[0] and not inline[1] else [])
        help_text[stmt.target.id] = " ".join(parts)
    return help_text


def _comments_by_line(source: str) -> dict[int, tuple[str, bool]]:
    """{line number: (comment text, whether the comment is the whole line)}."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            whole = not tok.line[: tok.start[1]].strip()
            out[tok.start[0]] = (tok.string.lstrip("#").strip(), whole)
    return out


def rows(cls: type, prefix: str = "") -> list[str]:
    """Table rows of the fields of `cls`, nested dataclasses flattened to dotted keys."""
    out, hints, helps = [], typing.get_type_hints(cls), field_help(cls)
    for f in dataclasses.fields(cls):
        key, kind = f"{prefix}{f.name}", hints[f.name]
        if dataclasses.is_dataclass(kind):
            out += rows(kind, f"{key}.")
            continue
        out.append(
            f"| `{key}` | {_cell(_type_name(kind))} | {_default(f)} | {_cell(helps[f.name])} |"
        )
    return out


def _type_name(kind) -> str:
    name = str(kind) if typing.get_args(kind) else getattr(kind, "__name__", str(kind))
    return name.replace("typing.", "")


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    return f"`{value!r}`" if value != "???" else "required"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def page() -> str:
    """A section per config group (its schema once, whichever verbs take it), then each verb's
    own top-level keys and the groups it takes."""
    groups: dict[str, type] = {}
    verbs = []
    for verb, schema in SCHEMAS.items():
        hints = typing.get_type_hints(schema)
        taken = [
            f.name for f in dataclasses.fields(schema) if dataclasses.is_dataclass(hints[f.name])
        ]
        groups.update({name: hints[name] for name in taken})
        own = [r for r in rows(schema) if r.split("`")[1].split(".")[0] not in taken]
        verbs.append((verb, schema, taken, own))
    parts = [INTRO, "## Verbs\n"]
    for verb, schema, taken, own in verbs:
        groups_text = ", ".join(f"[`{g}`](#{g})" for g in taken)
        parts.append(
            f"### `seq2seq-{verb}`\n\nSchema `{schema.__module__}.{schema.__name__}`; "
            f"groups: {groups_text}.\n"
        )
        parts += [HEADER, *own, ""]
    parts.append("## Groups\n")
    for name, cls in groups.items():
        parts.append(f"### `{name}`\n\nSchema `{cls.__module__}.{cls.__name__}`.\n")
        parts += [HEADER, *rows(cls, f"{name}."), ""]
    return "\n".join(parts) + "\n"


HEADER = "| key | type | default | help |\n| --- | --- | --- | --- |"


if __name__ == "__main__":
    print(page())
else:
    import mkdocs_gen_files

    with mkdocs_gen_files.open(PAGE, "w") as out:
        out.write(page())
