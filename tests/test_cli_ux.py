# ruff: noqa: E501 (the table of error messages reads best unwrapped)
"""A researcher's first hour with the verbs: config errors as one line with the closest valid
names, help that teaches, --version, and only the project's lines on the console.

The verbs run in-process here (their `main()` with `sys.argv` set): every error below is found
before TensorFlow is imported. tests/test_cli.py runs each verb's console script once with a
bad config.
"""

import importlib
import re
import sys

import hydra._internal.logging_config as hydra_logging_config
import hydra._internal.utils as hydra_utils
import pytest
from hydra.errors import ConfigCompositionException

from seq2seq import __version__
from seq2seq.cli import reproduce, toplevel
from seq2seq.cli.help import experiments
from seq2seq.config.suggest import closest, schema_keys, unknown_key
from seq2seq.config.verbs import TrainRunConfig
from seq2seq.quiet import is_chatter
from tests.cli_helpers import run_python, run_verb

VERBS = ("prepare", "train", "evaluate", "translate", "export")


def run_main(verb: str, argv: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """`seq2seq-<verb> argv` in-process: (exit status, stdout, stderr). Without Hydra's logging
    set-up, which (as `logging.config.dictConfig`) closes pytest's own log handlers."""
    module = importlib.import_module(f"seq2seq.cli.{verb}")
    monkeypatch.setattr(hydra_logging_config, "configure_logging", lambda config: None)
    monkeypatch.setattr(sys, "argv", [f"seq2seq-{verb}", *argv])
    try:
        module.main()
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return status, out.out, out.err


# --- config errors ----------------------------------------------------------------------------

ERRORS = [
    # unknown key: in an override (Hydra), and added with + (the schema)
    ("train", ["train.max_stepz=10"], "unknown config key 'train.max_stepz': did you mean train.max_steps?"),
    ("train", ["model.dropuot=0.1"], "unknown config key 'model.dropuot': did you mean model.dropout?"),
    ("train", ["max_steps=10"], "unknown config key 'max_steps': did you mean train.max_steps?"),
    ("train", ["+train.max_stepz=3"], "unknown config key 'train.max_stepz': did you mean train.max_steps?"),
    ("prepare", ["tokenizer.sourc.vocab_size=8"], "unknown config key 'tokenizer.sourc': did you mean tokenizer.source?"),
    ("export", ["run_dirr=x"], "unknown config key 'run_dirr': did you mean run_dir?"),
    ("translate", ["decode.beam_sizee=3"], "unknown config key 'decode.beam_sizee': did you mean decode.beam_size?"),
    ("evaluate", ["hydra.run.dirr=x"], "unknown config key 'hydra.run.dirr': did you mean hydra.run.dir?"),
    ("train", ["foo=1"], "unknown config key 'foo': the keys at the top are data, decode, hydra, logger, model, optimized_metric, paths, tags, task, task_name, tokenizer, train"),
    # unknown group option; a group the verb does not have
    ("train", ["model=gru_luon"], "model=gru_luon: no such option of config group 'model': did you mean model=gru_luong?"),
    ("train", ["experiment=g2p"], "experiment=g2p: no such option of config group 'experiment': did you mean experiment=g2p_cmudict,"),
    ("translate", ["decode=beam"], "decode=beam: no such option of config group 'decode': did you mean decode=beam5?"),
    ("evaluate", ["hydra/launcher=jobib"], "hydra/launcher=jobib: no such option of config group 'hydra/launcher': did you mean hydra/launcher=joblib?"),
    ("translate", ["model=tiny"], "seq2seq-translate has no config group 'model'; its groups: decode"),
    ("export", ["data=tsv"], "seq2seq-export has no config group 'data'; its groups: decode"),
    ("train", ["+model=tiny"], "+model=tiny: model is already chosen by default; write model=tiny"),
    # wrong type
    ("train", ["train.max_steps=many"], "config key 'train.max_steps': expected an integer, got 'many'"),
    ("train", ["model.dropout=high"], "config key 'model.dropout': expected a number, got 'high'"),
    ("train", ["model.bidirectional=maybe"], "config key 'model.bidirectional': expected true or false, got 'maybe'"),
    # missing value
    ("evaluate", [], "config key 'run_dir': missing value; set run_dir=…"),
    ("translate", [], "config key 'run_dir': missing value; set run_dir=…"),
    # bad override syntax
    ("train", ["train.max_steps=[1,"], "cannot parse override 'train.max_steps=[1,': no viable alternative at input '[1,'"),
    ("train", ["train.max_steps"], "cannot parse override 'train.max_steps': write key=value"),
    ("train", ["train.max_steps=1,2"], "train.max_steps=1,2: a comma-separated value is a sweep: add -m to sweep"),
]  # fmt: skip


@pytest.mark.parametrize(
    "verb, argv, message", ERRORS, ids=[" ".join(e[1]) or e[0] for e in ERRORS]
)
def test_config_error_is_one_line_with_the_closest_names_and_exit_2(
    verb, argv, message, tmp_path, capsys, monkeypatch
):
    status, out, err = run_main(
        verb, [*argv, f"hydra.run.dir={tmp_path / 'out'}"], capsys, monkeypatch
    )
    assert status == 2, err
    assert err.splitlines() == [err.splitlines()[0]] and err.startswith(f"error: {message}"), err
    assert hydra_utils.run_and_report.__module__ == "hydra._internal.utils"  # restored


def test_hydra_full_error_shows_hydras_own_exception(capsys, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(ConfigCompositionException, match="Could not override 'train.max_stepz'"):
        run_main("train", ["train.max_stepz=10"], capsys, monkeypatch)


def test_the_console_script_says_the_same(tmp_path):
    proc = run_verb("train", "model.dropuot=0.1", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "error: unknown config key 'model.dropuot': did you mean model.dropout?\n"


def test_suggestions():
    keys = schema_keys(TrainRunConfig)
    assert {"train.max_steps", "train.optimizer.learning_rate", "data.train.source"} <= set(keys)
    assert closest("gru_luon", ["gru_bahdanau", "gru_luong", "tiny"]) == ["gru_luong"]
    assert closest("g2p", ["mt_spa_eng", "g2p_cmudict_best", "g2p_cmudict"]) == [
        "g2p_cmudict",
        "g2p_cmudict_best",
    ]
    assert closest("zzz", ["gru_luong"]) == []
    assert unknown_key("trian.max_steps", keys).endswith("did you mean train.max_steps?")
    assert unknown_key("tokenizer.vocab", keys).endswith(
        "did you mean tokenizer.source.vocab_size or tokenizer.target.vocab_size?"
    )
    assert unknown_key("train.optimizer.lr", keys).startswith(
        "unknown config key 'train.optimizer.lr': the keys under train.optimizer are beta_1,"
    )


# --- help and version -------------------------------------------------------------------------


def _section(text: str, title: str) -> list[str]:
    """The indented lines under a `Title…:` line of the help text."""
    lines = text.split("\n\n" + title, 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [line for line in lines if line.startswith("  ")]


@pytest.mark.parametrize("verb", VERBS)
def test_help_describes_the_verb_with_examples_and_only_its_groups(verb, capsys, monkeypatch):
    status, out, _ = run_main(verb, ["--help"], capsys, monkeypatch)
    assert status == 0
    assert out.startswith(f"seq2seq-{verb}: ") and "powered by Hydra" not in out
    examples = _section(out, "Examples")
    runs = [line for line in examples if re.match(rf"  (echo .*\| )?seq2seq-{verb}\b", line)]
    assert 3 <= len(runs) <= 5, examples
    groups = {line.split()[0] for line in _section(out, "Config groups") if line[2] != " "}
    expected = {
        "prepare": {"data", "tokenizer", "paths"},
        "train": {"data", "tokenizer", "model", "train", "decode", "logger", "paths"}
        | {"experiment", "hparams_search", "debug"}  # not hparams_search_debug: internal
        | {"hydra/launcher", "hydra/sweeper"},
    }.get(verb, {"decode"})
    assert groups == expected


def test_train_help_lists_every_experiment_with_what_it_reproduces_and_its_cost(
    capsys, monkeypatch
):
    _, out, _ = run_main("train", ["--help"], capsys, monkeypatch)
    listed = " ".join(_section(out, "Experiments"))
    found = experiments()
    assert len(found) >= 8
    for experiment in found:
        assert experiment.reproduces and experiment.cost, f"{experiment.name}: add the header lines"
        assert f" {experiment.name} " in listed
        assert " ".join(f"{experiment.reproduces}; cost: {experiment.cost}".split()) in " ".join(
            listed.split()
        )


def test_experiments_come_from_the_config_headers(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text(
        "# @package _global_\n# reproduces: test WER 1.0\n# cost: 2 min\n# cost: not a header\n"
        "train:\n  max_steps: 5\n# reproduces: not a header either\n"
    )
    assert [tuple(e) for e in experiments(tmp_path)] == [("mine", "test WER 1.0", "2 min")]


@pytest.mark.parametrize("verb", VERBS)
def test_version(verb, capsys, monkeypatch):
    status, out, _ = run_main(verb, ["--version"], capsys, monkeypatch)
    assert (status, out) == (0, f"seq2seq-{verb} {__version__}\n")


def test_version_of_the_argparse_verbs_and_the_top_level_command(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"seq2seq-reproduce {__version__}\n"
    assert toplevel.main(["--version"]) == 0
    assert capsys.readouterr().out == f"seq2seq {__version__}\n"
    assert toplevel.main([]) == 0
    listed = capsys.readouterr().out
    assert all(f"seq2seq-{verb}" in listed for verb in (*VERBS, "summarize", "reproduce"))


# --- quiet by default -------------------------------------------------------------------------

CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796557847.445500   18533 port.cc:153] oneDNN custom operations are on. You may",
    "I0000 00:00:1796557847.445888   18533 cudart_stub.cc:31] Could not find cuda drivers on your",
    "I0000 00:00:1796557847.617381   18533 cpu_feature_guard.cc:227] This TensorFlow binary is",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 AVX_VNNI FMA, in",
]
CUINIT = (
    "E0000 00:00:1796557859.870109   18533 cuda_platform.cc:52] failed call to cuInit: INTERNAL:"
    " CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)"
)


def test_chatter_is_recognised_and_nothing_else():
    assert all(is_chatter(line) for line in CHATTER)
    assert is_chatter(CUINIT, gpus_found=False) and not is_chatter(CUINIT, gpus_found=True)
    for kept in (
        "E0000 00:00:1796557863.782658   18533 util.cc:131] oneDNN supports DT_INT64 only on",
        "[2026-12-06 11:51:03,348][seq2seq.train][INFO] model: 8,651 parameters",
        "Traceback (most recent call last):",
        "/x.py:3: UserWarning: something",
    ):
        assert not is_chatter(kept)


IMPORT_TF = """
import sys
import seq2seq, tensorflow as tf
print(tf.config.list_physical_devices("GPU"), int(tf.reduce_sum(tf.range(3))), file=sys.stderr)
"""


def test_importing_tensorflow_prints_nothing_but_ours():
    """At TF_CPP_MIN_LOG_LEVEL=2 (so the cuInit line of a CPU machine would show), with a GPU
    or without: the only stderr line is the snippet's own."""
    proc = run_python(f"import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'\n{IMPORT_TF}")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.endswith(" 3\n"), proc.stderr


@pytest.mark.slow
def test_seq2seq_verbose_keeps_tensorflows_own_lines():
    proc = run_python(f"import os; os.environ['SEQ2SEQ_VERBOSE'] = '1'\n{IMPORT_TF}")
    assert proc.returncode == 0, proc.stderr
    assert any(is_chatter(line) for line in proc.stderr.splitlines()), proc.stderr


PROJECT_LINE = re.compile(r"\[[\d\- :,]+\]\[(seq2seq[\w.]*|HYDRA)\]\[(INFO|WARNING)\] ")


def test_a_training_run_prints_only_the_projects_lines(smoke_run):
    """The shared smoke run (`seq2seq-train` in a subprocess, TF_CPP_MIN_LOG_LEVEL unset)."""
    lines = smoke_run.log.splitlines()
    assert lines and all(PROJECT_LINE.match(line) for line in lines), smoke_run.log
