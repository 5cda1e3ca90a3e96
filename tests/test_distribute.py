"""tf.distribute training (train.strategy): the loss is normalised over all replicas' real
target tokens, so a mirrored step equals the one-device step on the same global batch.

Logical CPU devices must be configured before TensorFlow starts: the checks run in a fresh
process (tests/distribute_helpers.py)."""

import json

import pytest

from seq2seq.config import TrainConfig
from seq2seq.errors import ConfigError
from tests.cli_helpers import run_python


def _run(function: str, *args: str):
    proc = run_python(
        f"import sys; from tests.distribute_helpers import {function}; {function}(*sys.argv[1:])",
        *args,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_mirrored_step_equals_the_one_device_step_and_per_replica_means_would_not():
    unclipped, clipped = _run("mirrored_step_against_one_device", "0,0.05")
    for case in (unclipped, clipped):
        # The halves hold very different numbers of real target tokens.
        assert case["half_tokens"] == [25.0, 3.0]
        assert case["mirrored_loss"] == pytest.approx(case["single_loss"], abs=1e-5)
        assert case["update_diff"] < 1e-5, case
        assert case["replicas_equal"]
        for key in ("tokens", "positions", "correct", "examples", "source_tokens"):
            assert case["mirrored"][key] == case["single"][key], key
        assert case["mirrored"]["grad_norm"] == pytest.approx(case["single"]["grad_norm"], 1e-5)
    # Averaging per-replica means would weight the 3 short-half tokens like the 25 long ones:
    # another loss and another update, far outside the tolerance above.
    assert abs(unclipped["per_replica_mean_loss"] - unclipped["single_loss"]) > 100 * 1e-5
    assert unclipped["per_replica_mean_update_diff"] > 100 * 1e-5
    # Clipping by the global norm of the summed gradients: active here, and equal.
    assert clipped["single"]["grad_norm"] > 0.05
    assert clipped["update_size"] <= 0.05


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"strategy": "horovod"}, "train.strategy must be one of"),
        ({"strategy": "default", "devices": 2}, "train.devices=2"),
        ({"strategy": "mirrored", "jit_compile": True}, "jit_compile"),
    ],
)
def test_strategy_settings_are_validated(fields, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**fields)
