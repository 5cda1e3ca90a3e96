"""`did you mean …?` for config errors: the valid names closest to a misspelled one.

closest("max_stepz", ["max_steps", "max_epochs"])          -> ["max_steps"]
unknown_key("train.max_stepz", schema_keys(TrainRunConfig)) -> "unknown config key
    'train.max_stepz': did you mean train.max_steps?"
"""

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable

LISTED = 12  # names listed when none is close
CUTOFF = 0.6  # difflib similarity of a suggestion
MARGIN = 0.1  # suggestions within this of the closest one


def closest(word: str, candidates: Iterable[str], n: int = 3, partial: bool = True) -> list[str]:
    """Up to `n` candidates close to `word`, closest first: by similarity (difflib ratio >= 0.6
    and within 0.1 of the best), else those that start with or contain it (`g2p` ->
    g2p_cmudict, …; unless not `partial`)."""
    names = sorted(set(candidates))
    scored = sorted(
        ((difflib.SequenceMatcher(None, word, name).ratio(), name) for name in names),
        key=lambda pair: -pair[0],
    )
    if scored and scored[0][0] >= CUTOFF:
        best = scored[0][0]
        return [name for ratio, name in scored if ratio >= max(CUTOFF, best - MARGIN)][:n]
    if not word or not partial:
        return []
    return ([c for c in names if c.startswith(word)] or [c for c in names if word in c])[:n]


def did_you_mean(word: str, candidates: Iterable[str], template: str = "{}") -> str:
    """`did you mean a?` / `did you mean a, b or c?` (each formatted with `template`), or ""
    if no candidate is close."""
    found = closest(word, candidates)
    return f"did you mean {_or([template.format(name) for name in found])}?" if found else ""


def listing(names: Iterable[str]) -> str:
    """`a, b, c` (the first LISTED names, sorted, then `…`)."""
    names = sorted(set(names))
    return ", ".join(names[:LISTED]) + (", …" if len(names) > LISTED else "")


def unknown_key(full_key: str, valid_keys: Iterable[str]) -> str:
    """The message for an unknown dotted key, given every valid dotted key: the closest keys
    next to it (same parent), else the closest anywhere (`max_steps` -> train.max_steps), else
    the keys next to it."""
    valid = set(valid_keys)
    parent, _, name = full_key.rpartition(".")
    prefix = f"{parent}." if parent else ""
    siblings = {k[len(prefix) :] for k in valid if k.startswith(prefix) and k != parent}
    siblings = {k for k in siblings if "." not in k}
    message = f"unknown config key '{full_key}'"
    hint = did_you_mean(name, siblings, prefix + "{}")
    if not hint:
        # Elsewhere: not under hydra (unless the key is), by similarity only.
        elsewhere = {
            k for k in valid if full_key.startswith("hydra.") or k.split(".")[0] != "hydra"
        }
        near = closest(name, {k.rpartition(".")[2] for k in elsewhere}, partial=False)
        anywhere = [k for n in near for k in sorted(elsewhere) if k.rpartition(".")[2] == n][:3]
        hint = f"did you mean {_or(anywhere)}?" if anywhere else ""
    if not hint and siblings:
        hint = f"the keys {'under ' + parent if parent else 'at the top'} are {listing(siblings)}"
    return f"{message}: {hint}" if hint else message


def schema_keys(schema: type, prefix: str = "") -> list[str]:
    """Every dotted key of a dataclass schema, nested dataclasses included (`train`,
    `train.max_steps`, `train.optimizer.learning_rate`, …)."""
    keys = []
    for f in dataclasses.fields(schema):
        key = f"{prefix}{f.name}"
        keys.append(key)
        nested = _dataclass_of(f.type)
        if nested is not None:
            keys.extend(schema_keys(nested, f"{key}."))
    return keys


def _dataclass_of(annotation: object) -> type | None:
    """The dataclass in `annotation` (`X`, `X | None`), else None."""
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = _dataclass_of(arg)
            if found is not None:
                return found
    return None


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
