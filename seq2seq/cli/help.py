"""`seq2seq-<verb> --help`: what the verb does, examples, its config groups and their options
(only the groups its primary config `conf/<verb>.yaml` has), and for `seq2seq-train` the
experiments with what each reproduces and what it costs, read from the header of each
`conf/experiment/*.yaml`:

    # @package _global_
    # reproduces: <the result, in a few words>
    # cost: <training time on a 2-core CPU>
"""

import re
import textwrap
from pathlib import Path
from typing import NamedTuple

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from seq2seq.cli.common import CONF_DIR
from seq2seq.config import SCHEMAS
from seq2seq.config.suggest import schema_keys

EXPERIMENT_FIELDS = ("reproduces", "cost")
WIDTH = 100
_FIELD = re.compile(r"#\s*(\w+):\s*(.*)")
FOOTER = """\
Other flags: --cfg job (the composed config: every key you can set), -m (a sweep over
comma-separated values), --info, --hydra-help (Hydra's own help), --version.
hydra.verbose=true also shows TensorFlow's and the libraries' logs.
Errors and what they mean: docs/troubleshooting.md"""


class Experiment(NamedTuple):
    name: str
    reproduces: str
    cost: str


def verb_groups(verb: str) -> dict[str, tuple[str | None, list[str]]]:
    """The config groups of `conf/<verb>.yaml` (Hydra's `hydra/*` ones too):
    {group: (default option or None, options)}."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name=verb):
        choices = compose(verb, return_hydra_config=True).hydra.runtime.choices
        loader = GlobalHydra.instance().config_loader()
        # Hydra lists the choices last default first.
        groups = reversed(list(choices.items()))
        return {group: (choice, loader.get_group_options(group)) for group, choice in groups}


def experiments(conf_dir: str | Path = CONF_DIR) -> list[Experiment]:
    """Each `conf/experiment/*.yaml` with the first `reproduces:` and `cost:` lines of its
    header (the comment lines it starts with)."""
    found = []
    for path in sorted(Path(conf_dir, "experiment").glob("*.yaml")):
        fields = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            match = _FIELD.match(line)
            if match and match.group(1) in EXPERIMENT_FIELDS:
                fields.setdefault(match.group(1), match.group(2).strip())
        found.append(Experiment(path.stem, fields.get("reproduces", ""), fields.get("cost", "")))
    return found


def verb_help(verb: str, description: str, examples: list[str] | tuple[str, ...]) -> str:
    """The whole --help text."""
    prog = f"seq2seq-{verb}"
    parts = [
        f"{prog}: {description.strip()}",
        f"Usage: {prog} [key=value ...] [group=option ...] [flags]",
        "Examples:\n" + "\n".join(f"  {example}" for example in examples),
    ]
    if verb == "train":
        parts.append(_experiments_section())
    groups = verb_groups(verb)
    parts.append(_groups_section(verb, groups))
    parts.append(_keys_section(verb, groups))
    parts.append(FOOTER)
    return "\n\n".join(parts)


def _experiments_section() -> str:
    rows = experiments()
    width = max(len(e.name) for e in rows)
    lines = ["Experiments (experiment=NAME; the cost is training time on a 2-core CPU):"]
    indent = " " * (width + 4)
    for e in rows:
        text = e.reproduces + (f"; cost: {e.cost}" if e.cost else "")
        first = f"  {e.name:<{width}}  "
        lines.append(textwrap.fill(text, WIDTH, initial_indent=first, subsequent_indent=indent))
    return "\n".join(lines)


# Groups that only compose others (chosen by an interpolation, never by the user).
INTERNAL_GROUPS = ("hparams_search_debug",)  # ${hparams_search}_${debug}: conf/train.yaml


def _groups_section(verb: str, groups: dict[str, tuple[str | None, list[str]]]) -> str:
    shown = {
        g: v
        for g, v in groups.items()
        if v[1] and not g.startswith("hydra") and g not in INTERNAL_GROUPS
    }
    if verb == "train":  # where and how -m sweeps run
        shown |= {g: groups[g] for g in ("hydra/launcher", "hydra/sweeper") if g in groups}
    width = max(len(group) for group in shown)
    lines = ["Config groups (group=option; * the default):"]
    indent = " " * (width + 4)
    for group, (default, options) in shown.items():
        text = ", ".join(f"{o}*" if o == default else o for o in options)
        first = f"  {group:<{width}}  "
        lines.append(textwrap.fill(text, WIDTH, initial_indent=first, subsequent_indent=indent))
    return "\n".join(lines)


def _keys_section(verb: str, groups: dict[str, tuple[str | None, list[str]]]) -> str:
    """The verb's own top-level keys (those of its schema that are not groups)."""
    keys = [k for k in schema_keys(SCHEMAS[verb]) if "." not in k and k not in groups]
    text = ", ".join(keys)
    return textwrap.fill(text, WIDTH, initial_indent="Keys: ", subsequent_indent="  ")
