"""The MLflow store of `logger=mlflow` (the optional `mlflow` extra, docs/tracking.md).

MLflow is imported only here and only when tracking is on, so the toolkit works without the
extra; without it, `logger=mlflow` is a one-line error. A `sqlite:///` store path is made
absolute (from the directory the command started in), so that runs in different Hydra run
directories land in one database, and its directory is created. An experiment on a sqlite
store keeps its artifacts beside the database (`<db dir>/mlflow-artifacts/<experiment>`), not
in `./mlruns` of whatever directory the command ran in. MLflow's own info logs are quieted.
"""

import logging
import os
import re
from pathlib import Path
from typing import Any

from seq2seq.errors import ConfigError

MISSING_EXTRA = 'logger=mlflow needs the mlflow extra: pip install -e ".[mlflow]"'
SQLITE = "sqlite:///"
ARTIFACTS_DIR = "mlflow-artifacts"
# Loggers that print a line per database migration or store start at INFO.
NOISY_LOGGERS = ("mlflow", "alembic")


def import_mlflow() -> Any:
    """The `mlflow` module; ConfigError with the install line if the extra is missing."""
    try:
        import mlflow
    except ImportError:
        raise ConfigError(MISSING_EXTRA) from None
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


def absolute_uri(uri: str) -> str:
    """`uri` with a `sqlite:///` path made absolute (its directory created); others as they are."""
    if not uri.startswith(SQLITE) or uri == f"{SQLITE}:memory:":
        return uri
    path = Path(os.path.abspath(Path(uri[len(SQLITE) :]).expanduser()))
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLITE + str(path)


def make_client(uri: str) -> Any:
    """An MlflowClient on the store at `uri` (made absolute by `absolute_uri`)."""
    import_mlflow()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment_id(client: Any, name: str, uri: str) -> str:
    """The id of experiment `name`, created if it does not exist (by another job meanwhile
    too: parallel jobs of a sweep may both try)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name, artifact_location=_artifact_location(uri, name))
        except MlflowException:
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise ConfigError(
            f"logger.mlflow.experiment_name={name!r} is a deleted MLflow experiment: restore "
            "it (mlflow experiments restore) or choose another name"
        )
    return found.experiment_id


def _artifact_location(uri: str, name: str) -> str | None:
    """Beside a sqlite database: `file://<db dir>/mlflow-artifacts/<name>`; else the store's."""
    if not uri.startswith(SQLITE):
        return None
    folder = re.sub(r"[^\w.-]+", "_", name)
    return (Path(uri[len(SQLITE) :]).parent / ARTIFACTS_DIR / folder).as_uri()


def hydra_job() -> tuple[str | None, Path | None]:
    """(the `experiment=` choice, the sweep directory in a `-m` job) of the running Hydra job;
    (None, None) outside Hydra (`fit` called from Python)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None, None
    hydra_cfg = HydraConfig.get()
    choice = hydra_cfg.runtime.choices.get("experiment")
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    sweep = Path(str(hydra_cfg.sweep.dir)).absolute() if multirun else None
    return (str(choice) if choice else None), sweep
