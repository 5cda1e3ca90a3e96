"""Checks shared by the config schemas, so that every key's error reads the same way."""

from seq2seq.errors import ConfigError


def check_choice(key: str, value: object, allowed: tuple[str, ...]) -> None:
    """Raise ConfigError `key must be a, b or c, got 'x'` unless `value` is in `allowed`."""
    if value not in allowed:
        names = ", ".join(allowed[:-1]) + " or " + allowed[-1] if len(allowed) > 1 else allowed[0]
        raise ConfigError(f"{key} must be {names}, got {value!r}")
