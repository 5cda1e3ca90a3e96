"""Reading TensorBoard event files back with TensorBoard's own readers (EventAccumulator and
the HParams plugin's metadata parsers), as its dashboards do."""

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata


def events(logdir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def hparams_records(logdir: Path) -> dict:
    """{"experiment" | "session_start_info" | "session_end_info": the parsed message} of the
    HParams records under `logdir`."""
    content = events(logdir).PluginTagToContent(metadata.PLUGIN_NAME)
    parsers = {
        metadata.EXPERIMENT_TAG: ("experiment", metadata.parse_experiment_plugin_data),
        metadata.SESSION_START_INFO_TAG: (
            "session_start_info",
            metadata.parse_session_start_info_plugin_data,
        ),
        metadata.SESSION_END_INFO_TAG: (
            "session_end_info",
            metadata.parse_session_end_info_plugin_data,
        ),
    }
    return {parsers[tag][0]: parsers[tag][1](data) for tag, data in content.items()}


def domain(info) -> list | tuple:
    """An HParamInfo's domain: the Discrete values as a list, an interval as (min, max)."""
    if info.HasField("domain_discrete"):
        return [getattr(v, v.WhichOneof("kind")) for v in info.domain_discrete.values]
    return (info.domain_interval.min_value, info.domain_interval.max_value)
