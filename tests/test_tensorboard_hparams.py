"""What TensorBoard shows of a run and a sweep, read back with its own readers: a description
on every scalar, and HParams records (experiment with domains and declared metrics, trial
its start and end) for the HParams dashboard's table and parallel-coordinates view."""

import json

import pytest
from tensorboard.plugins.hparams import api_pb2

from seq2seq.runs.hparams import (
    MAX_DISCRETE,
    SWEEP_HPARAMS_DIR,
    read_trials,
    write_sweep_experiment,
    write_trial,
)
from seq2seq.runs.scalar_descriptions import REAL_TOKENS, describe
from tests.tensorboard_helpers import domain, events, hparams_dashboard, hparams_records

REAL_TOKEN_NAMES = ("loss", "token_accuracy", "perplexity", "real_tokens_per_sec")


def test_every_scalar_of_a_run_has_a_description(smoke_run):
    accumulator = events(smoke_run.run_dir / "tensorboard")
    scalars = [
        tag
        for tag in accumulator.Tags()["tensors"]
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"
    ]
    assert {"train/loss", "val/loss", "val/wer", "best/test/loss", "best/val/wer"} <= set(scalars)
    for tag in scalars:
        text = accumulator.SummaryMetadata(tag).summary_description
        assert text == describe(tag) and len(text) > 40, tag
        if tag.rsplit("/", 1)[-1] in REAL_TOKEN_NAMES:
            assert REAL_TOKENS in text and "padding excluded" in text, tag
    assert "best checkpoint, on the whole test split" in describe("best/test/wer")
    assert "since the last log line" in describe("train/loss")


def test_a_run_writes_its_experiment_and_how_it_ended(smoke_run):
    records = hparams_records(smoke_run.run_dir / "tensorboard")
    assert set(records) == {"experiment", "session_start_info", "session_end_info"}
    assert records["session_end_info"].status == api_pb2.STATUS_SUCCESS
    experiment = records["experiment"]
    infos = {info.name: info for info in experiment.hparam_infos}
    assert set(infos) == set(records["session_start_info"].hparams)  # every hparam declared
    assert domain(infos["model.dropout"]) == [pytest.approx(smoke_run.cfg.model.dropout)]
    assert domain(infos["task"]) == ["g2p"]
    assert infos["task"].type == api_pb2.DATA_TYPE_STRING
    declared = {m.name.tag: m for m in experiment.metric_infos}
    best = {k for k in smoke_run.metrics if k.startswith(("best/val/", "best/test/"))}
    assert set(declared) == best and "best/test/wer" in best
    assert declared["best/val/wer"].dataset_type == api_pb2.DATASET_VALIDATION
    assert "padding excluded" in declared["best/val/loss"].description


def test_a_sweep_experiment_spans_its_jobs(tmp_path):
    """Jobs' trial records as a sweep writes them (no experiment of their own); the sweep's
    experiment takes every value each hparam had, and every metric any job logged."""
    dropouts = [0.1 * i for i in range(MAX_DISCRETE + 1)]
    for job, dropout in enumerate(dropouts):
        hparams = {"model.dropout": dropout, "model.rnn": "keras" if job else "fused"}
        hparams |= {"train.max_steps": 4 + job % 2, "data.lowercase": bool(job % 2)}
        metrics = {"best/val/wer": 50.0 - job} | ({"best/test/bleu": 1.0} if job == 3 else {})
        logdir = tmp_path / str(job) / "tensorboard"
        write_trial(logdir, hparams, metrics, step=4, trial_id=str(job))
        assert set(hparams_records(logdir)) == {"session_start_info", "session_end_info"}
    (tmp_path / "0" / "metrics.json").write_text(json.dumps({}))  # not an event file: ignored
    values, metrics = read_trials(sorted(tmp_path.glob("*/tensorboard")))
    assert sorted(values["model.dropout"]) == pytest.approx(dropouts)
    assert metrics == ["best/test/bleu", "best/val/wer"]

    out = write_sweep_experiment(tmp_path)
    assert out == tmp_path / SWEEP_HPARAMS_DIR
    write_sweep_experiment(tmp_path)  # rewritten, not appended: one experiment record
    assert len(list(out.glob("events.out.*"))) == 1
    experiment = hparams_records(out)["experiment"]
    infos = {info.name: info for info in experiment.hparam_infos}
    assert domain(infos["model.dropout"]) == pytest.approx((0.0, 0.1 * MAX_DISCRETE))
    assert domain(infos["model.rnn"]) == ["fused", "keras"]
    assert domain(infos["train.max_steps"]) == [4.0, 5.0]
    assert domain(infos["data.lowercase"]) == [False, True]
    assert [m.name.tag for m in experiment.metric_infos] == ["best/test/bleu", "best/val/wer"]


def test_the_hparams_dashboard_compares_the_jobs_of_a_sweep(tmp_path):
    """TensorBoard's own HParams backend on a sweep directory: the sweep's experiment, and one
    row per job with its settings, its status and its metrics."""
    for job, dropout in enumerate([0.0, 0.2]):
        write_trial(
            tmp_path / str(job) / "tensorboard",
            {"model.dropout": dropout, "model.rnn": "keras"},
            {"best/val/wer": 30.0 + job, "best/test/wer": 31.0 + job},
            step=4,
            trial_id=str(job),
        )
    write_sweep_experiment(tmp_path)
    experiment, groups = hparams_dashboard(tmp_path)
    infos = {h["name"]: h for h in experiment["hparamInfos"]}
    assert infos["model.dropout"]["domainDiscrete"] == [0.0, 0.2]
    assert [m["name"]["tag"] for m in experiment["metricInfos"]] == [
        "best/test/wer",
        "best/val/wer",
    ]
    assert experiment["metricInfos"][1]["description"] == describe("best/val/wer")  # ours
    rows = {g["hparams"]["model.dropout"]: g for g in groups}
    assert sorted(rows) == [0.0, 0.2]
    for job, dropout in enumerate([0.0, 0.2]):
        row = rows[dropout]
        assert [s["status"] for s in row["sessions"]] == ["STATUS_SUCCESS"]
        values = {m["name"]["tag"]: m["value"] for m in row["metricValues"]}
        assert values == {"best/val/wer": 30.0 + job, "best/test/wer": 31.0 + job}


def test_no_trials_no_sweep_experiment(tmp_path):
    (tmp_path / "0" / "tensorboard").mkdir(parents=True)
    assert write_sweep_experiment(tmp_path) is None
    assert not (tmp_path / SWEEP_HPARAMS_DIR).exists()


def test_a_run_writes_its_hparams_and_final_metrics_to_tensorboard(smoke_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(smoke_run.run_dir / "tensorboard"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    starts = [
        plugin_data_pb2.HParamsPluginData.FromString(c).session_start_info
        for c in content.values()
        if plugin_data_pb2.HParamsPluginData.FromString(c).HasField("session_start_info")
    ]
    assert len(starts) == 1
    hparams = starts[0].hparams
    assert hparams["model.dropout"].number_value == pytest.approx(smoke_run.cfg.model.dropout)
    assert hparams["model.decoder"].string_value == smoke_run.cfg.model.decoder
    assert hparams["train.max_steps"].number_value == 12 and hparams["task"].string_value
    tags = events.Tags()["tensors"]
    assert {"best/val/wer", "best/test/wer", "best/val/loss"} <= set(tags)
    import tensorflow as tf

    (event,) = events.Tensors("best/val/wer")
    assert float(tf.make_ndarray(event.tensor_proto)) == pytest.approx(
        smoke_run.metrics["best/val/wer"]
    )
    assert event.step == smoke_run.metrics["steps"]
