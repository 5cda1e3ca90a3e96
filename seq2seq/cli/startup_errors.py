"""Hydra's start-up errors as one line naming the key and the closest valid names.

    train.max_stepz=10    unknown config key 'train.max_stepz': did you mean train.max_steps?
    model=gru_luon        model=gru_luon: no such option of config group 'model': did you mean
                          model=gru_luong?
    (translate) model=x   seq2seq-translate has no config group 'model'; its groups: decode
    train.max_steps=[1,   cannot parse override 'train.max_steps=[1,': …
    train.max_steps       cannot parse override 'train.max_steps': write key=value

Wrong types and missing values are found later, by `seq2seq.config.validate`, in the same form.
"""

import re

from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from seq2seq.config import SCHEMAS, describe
from seq2seq.config.suggest import did_you_mean, listing, schema_keys, unknown_key

GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"
_NO_GROUP = re.compile(r"Could not override '([^']+)'\. No match in the defaults list")
_AMBIGUOUS = re.compile(r"Ambiguous value for argument '([^']+)'")
_DUPLICATE = re.compile(
    r"Multiple values for (\S+)\. To override a value use 'override \S+: (\S+)'"
)


def describe_startup_error(error: Exception, verb: str) -> str:
    """One line (without `error: `) for a Hydra or OmegaConf exception raised while composing
    the config of `seq2seq-<verb>`."""
    if isinstance(error, OverrideParseException):
        return _parse_error(error)
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options:
        return _missing_option(error.missing_cfg_file, error.options)
    cause = error.__cause__ if isinstance(error.__cause__, OmegaConfBaseException) else None
    if isinstance(error, OmegaConfBaseException):
        cause = error
    if cause is not None:
        return _key_error(cause, verb)
    text = str(error)
    if match := _NO_GROUP.match(text):
        return _no_group(match.group(1), verb)
    if match := _AMBIGUOUS.match(text):
        return (
            f"{match.group(1)}: a comma-separated value is a sweep: add -m to sweep, write "
            "[a,b] for a list or quote it ('key=\"a,b\"') for a string"
        )
    if match := _DUPLICATE.match(text):
        group, option = match.groups()
        return f"+{group}={option}: {group} is already chosen by default; write {group}={option}"
    return " ".join(line.strip() for line in text.splitlines() if _useful(line))


def _parse_error(error: OverrideParseException) -> str:
    if "missing EQUAL" in error.message:
        return f"cannot parse override '{error.override}': write key=value"
    reason = next((line for line in error.message.splitlines() if _useful(line)), "")
    reason = reason if not reason.startswith("Error parsing override") else ""
    return (
        f"cannot parse override '{error.override}'"
        + (f": {reason}" if reason else "")
        + f" (quote values with special characters: 'key=\"…\"'; {GRAMMAR})"
    )


def _missing_option(missing: str, options: list[str]) -> str:
    group, _, name = missing.rpartition("/")
    hint = did_you_mean(name, options, f"{group}={{}}") or f"its options: {listing(options)}"
    return f"{group}={name}: no such option of config group '{group}': {hint}"


def _key_error(cause: OmegaConfBaseException, verb: str) -> str:
    """An unknown key (`train.max_stepz=10`) or a value Hydra's own schema refuses."""
    valid = set(schema_keys(SCHEMAS[verb])) if verb in SCHEMAS else set()
    parent = getattr(cause, "parent_node", None)
    if isinstance(parent, DictConfig):
        valid |= set(dotted_keys(parent._get_root()))
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and key:
        return unknown_key(key, valid)
    return describe(cause, sorted(valid))


def _no_group(group: str, verb: str) -> str:
    from seq2seq.cli.help import verb_groups

    groups = [g for g in verb_groups(verb) if not g.startswith("hydra")]
    hint = did_you_mean(group, groups)
    return f"seq2seq-{verb} has no config group '{group}'" + (
        f"; {hint}" if hint else f"; its groups: {listing(groups)}"
    )


def dotted_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Every dotted key of a composed config, without resolving interpolations."""
    keys = []
    for key in node.keys():
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            keys.extend(dotted_keys(child, f"{dotted}."))
    return keys


def _useful(line: str) -> bool:
    """A line of Hydra's message worth keeping (not the search path or the doc link)."""
    line = line.strip()
    return bool(line) and not line.startswith(("See https://", "Config search path", "provider="))
