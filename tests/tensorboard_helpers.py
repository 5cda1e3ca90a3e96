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


def hparams_dashboard(logdir: Path) -> tuple[dict, list[dict]]:
    """What TensorBoard's HParams dashboard receives for `tensorboard --logdir LOGDIR`: the
    experiment, and the groups of trials (its table and parallel-coordinates rows), as JSON,
    from TensorBoard's own WSGI app (events loaded once, in this thread)."""
    from tensorboard import default, program
    from tensorboard.backend import application
    from werkzeug.test import Client

    board = program.TensorBoard(default.get_plugins())
    board.configure(
        logdir=str(logdir), load_fast="false", reload_interval=0, reload_task="blocking"
    )
    provider, multiplexer = board._make_data_provider()
    app = application.TensorBoardWSGIApp(
        board.flags, board.plugin_loaders, provider, board.assets_zip_provider, multiplexer
    )
    client = Client(app)
    experiment = client.post("/data/plugin/hparams/experiment", json={"experimentName": ""})
    statuses = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
    request = {"experimentName": "", "allowedStatuses": statuses, "colParams": []}
    groups = client.post(
        "/data/plugin/hparams/session_groups", json=request | {"startIndex": 0, "sliceSize": 100}
    )
    return experiment.get_json(), groups.get_json()["sessionGroups"]
