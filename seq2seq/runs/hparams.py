"""TensorBoard HParams records of runs and sweeps (tensorboard.plugins.hparams).

A run writes its trial record (its hparams, `best/*` metrics and end status: success, or failure
for a run that raised) into its `tensorboard/` when it ends.
The experiment (each hparam with its domain, the `best/val/*`, `best/test/*` metrics) is
written once per TensorBoard log directory: by a single run into its own `tensorboard/`, by
a sweep into SWEEP_DIR/hparams/ with the domains of all its jobs (`write_sweep_experiment`).
TensorBoard takes the first experiment it finds, so the jobs of a sweep write none.

TensorFlow and TensorBoard are imported inside the functions: `seq2seq.runs` stays light.
"""

from pathlib import Path
from typing import Any

from seq2seq.runs.scalar_descriptions import describe

METRIC_PREFIXES = ("best/val/", "best/test/")
SWEEP_HPARAMS_DIR = "hparams"  # SWEEP_DIR/hparams/: the sweep's experiment
MAX_DISCRETE = 12  # more distinct numbers than this: an interval domain


def in_sweep() -> bool:
    """True in a job of a Hydra multirun (`-m`): its experiment is the sweep's."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def write_trial(
    logdir: Path,
    hparams: dict[str, Any],
    metrics: dict[str, float],
    step: int,
    trial_id: str,
    failed: bool = False,
) -> None:
    """The HParams trial record of one run that ended: its hparams, its `best/*` metrics as
    scalars (with descriptions) and how it ended (status success, or failure if `failed`)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hparams_summary

    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default(step=step):
        hp.hparams(hparams, trial_id=trial_id)
        for key, value in metrics.items():
            tf.summary.scalar(key, float(value), description=describe(key))
        status = api_pb2.STATUS_FAILURE if failed else api_pb2.STATUS_SUCCESS
        end = hparams_summary.session_end_pb(status)
        tf.summary.experimental.write_raw_pb(end.SerializeToString(), step=step)
    writer.close()


def write_experiment(logdir: Path, values: dict[str, list], metrics: list[str]) -> None:
    """The experiment: each hparam with the domain of its `values` (across the runs), and the
    `metrics` (scalar tags) with their descriptions."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    params = [hp.HParam(name, _domain(vals)) for name, vals in sorted(values.items())]
    declared = [
        hp.Metric(tag, description=describe(tag), dataset_type=_dataset_type(tag))
        for tag in metrics
    ]
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        hp.hparams_config(hparams=params, metrics=declared)
    writer.close()


def read_trials(logdirs: list[Path]) -> tuple[dict[str, list], list[str]]:
    """({hparam: [value of each run that has it]}, sorted `best/*` metric tags) from the
    trial records under `logdirs` (TensorBoard's own event readers)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    values: dict[str, list] = {}
    tags: set[str] = set()
    for logdir in logdirs:
        events = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
        events.Reload()
        content = events.PluginTagToContent(metadata.PLUGIN_NAME)
        if metadata.SESSION_START_INFO_TAG not in content:
            continue
        start = metadata.parse_session_start_info_plugin_data(
            content[metadata.SESSION_START_INFO_TAG]
        )
        for name, value in start.hparams.items():
            values.setdefault(name, []).append(_python_value(value))
        tags |= {t for t in events.Tags()["tensors"] if t.startswith(METRIC_PREFIXES)}
    return values, sorted(tags)


def write_sweep_experiment(sweep_dir: Path) -> Path | None:
    """SWEEP_DIR/hparams/: the experiment of every job's trial record under SWEEP_DIR (None if
    no job wrote one yet). Rewritten from scratch each time."""
    logdirs = sorted(p.parent for p in Path(sweep_dir).glob("*/tensorboard/events.out.*"))
    values, metrics = read_trials(sorted(set(logdirs)))
    if not values:
        return None
    out = Path(sweep_dir) / SWEEP_HPARAMS_DIR
    for old in out.glob("events.out.*"):
        old.unlink()
    write_experiment(out, values, metrics)
    return out


def _domain(values: list):
    """Discrete for strings, booleans and a few numbers; an interval for many numbers; a
    Discrete of strings when the runs disagree on the type."""
    from tensorboard.plugins.hparams import api as hp

    distinct = sorted(set(values), key=lambda v: (str(type(v)), v))
    types = {type(v) for v in distinct}
    if len(types) > 1:
        return hp.Discrete(sorted({str(v) for v in distinct}))
    if types == {float} and len(distinct) > MAX_DISCRETE:
        return hp.RealInterval(distinct[0], distinct[-1])
    return hp.Discrete(distinct)


def _python_value(value) -> Any:
    """A google.protobuf Value of a trial's hparam as bool, float or str."""
    kind = value.WhichOneof("kind")
    return {"bool_value": value.bool_value, "number_value": value.number_value}.get(
        kind, value.string_value
    )


def _dataset_type(tag: str):
    """VALIDATION for `best/val/*`; None (unknown: HParams has no test type) otherwise."""
    from tensorboard.plugins.hparams import api as hp

    return hp.Metric.VALIDATION if tag.startswith("best/val/") else None
