"""The OmegaConf resolvers that the configs under conf/ use, registered when `seq2seq.config` is
imported (before any of them is composed: the entry points, tests and notebooks import it)."""

import os

from omegaconf import OmegaConf


def existing_dir_or(path: str, fallback: str) -> str:
    """`path` if it is an existing directory, else `fallback`.

    `${existing_dir_or:...}` places the outputs of the verbs that read a run directory
    (conf/evaluate.yaml, translate.yaml, export.yaml) under it, so that a mistyped `run_dir` is
    reported in one line without Hydra first creating directories at the typo; their outputs
    then go under `fallback` (logs/<verb>).
    """
    return path if path and os.path.isdir(path) else fallback


def register() -> None:
    OmegaConf.register_new_resolver("existing_dir_or", existing_dir_or, replace=True)
