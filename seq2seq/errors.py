"""Errors raised for bad input. Each carries a one-line message naming the file, line or key."""


class Seq2SeqError(Exception):
    """Base class: the CLI prints these as one line, without a traceback."""


class ConfigError(Seq2SeqError):
    """A config key is unknown, has the wrong type, or breaks a cross-field rule."""


class DataError(Seq2SeqError):
    """A corpus file is missing, malformed, or empty after filtering."""


class RunDirError(Seq2SeqError):
    """A run directory is missing pieces, is not writable, or holds a different run."""
