"""Config schemas, and every config in conf/ composed and validated the way the verbs do it.

Like lightning-hydra-template's tests/test_configs.py, but every verb, every experiment (also
with debug=smoke) and every option of every config group the verbs use; the Hydra part (run
directories, launchers) is resolved too.
"""

import dataclasses
from pathlib import Path

import pytest
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class
from omegaconf import OmegaConf

from seq2seq.config import (
    SCHEMAS,
    DecodeConfig,
    ExportRunConfig,
    ModelConfig,
    TrainRunConfig,
    validate,
)
from seq2seq.errors import ConfigError
from tests.cli_helpers import CONF_DIR, compose_verb

CONF = Path(CONF_DIR)
VERBS = sorted(p.stem for p in CONF.glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
RUN_DIR = "/runs/g2p"
OUTPUT = "/corpora/distilled"
# What the command line must give: the run directory of the inference verbs (and distill's
# output directory).
RUN_VERBS = ("evaluate", "translate", "export")
REQUIRED = {verb: [f"run_dir={RUN_DIR}"] for verb in RUN_VERBS}
REQUIRED["distill"] = [f"run_dir={RUN_DIR}", f"output={OUTPUT}"]
# Data options whose training files have no default.
DATA_FILES = {
    "parallel_text": ["data.train.source=train.src", "data.train.target=train.tgt"],
    "tsv": ["data.train.path=train.tsv"],
}
# Experiments for your own data: the files are given on the command line.
EXPERIMENT_FILES = {"byo_chars": DATA_FILES["tsv"], "byo_translation": DATA_FILES["parallel_text"]}


def compose(verb: str, *overrides: str):
    """Compose like the CLI (the `hydra` node included and resolvable), then validate."""
    cfg = compose_verb(verb, *REQUIRED.get(verb, []), *overrides, hydra=True)
    HydraConfig.instance().set_config(cfg)
    return cfg, validate(cfg, SCHEMAS[verb])


def group_options() -> list[tuple[str, str, str]]:
    """(verb, group, option) for every option file of every group in each verb's defaults."""
    out = []
    for verb in VERBS:
        defaults = yaml.safe_load((CONF / f"{verb}.yaml").read_text())["defaults"]
        for entry in defaults:
            if not isinstance(entry, dict):
                continue  # _self_
            group = next(iter(entry)).split()[-1]  # "optional local" -> "local"
            if group == "hydra":
                continue  # test_hydra_options
            out += [(verb, group, p.stem) for p in sorted((CONF / group).glob("*.yaml"))]
    return out


# --- every config in conf/ ----------------------------------------------------------------


def test_every_verb_config_has_a_schema():
    assert set(VERBS) == set(SCHEMAS) == {
        "prepare", "train", "evaluate", "translate", "distill", "export"
    }  # fmt: skip


@pytest.mark.parametrize("verb", VERBS)
def test_verb_config_lists_every_schema_field(verb):
    """A schema field missing from the yaml can't be overridden as `key=value` (Hydra's struct
    mode refuses it), though the schema has a default: every field must be in the config."""
    cfg, _ = compose(verb)
    missing = {f.name for f in dataclasses.fields(SCHEMAS[verb])} - set(cfg.keys())
    assert not missing, f"conf/{verb}.yaml lacks {sorted(missing)}"


@pytest.mark.parametrize("verb", VERBS)
def test_verb_config_composes_and_validates(verb):
    cfg, typed = compose(verb)
    assert isinstance(typed, SCHEMAS[verb]) and typed.task_name == verb
    run_dir = str(cfg.hydra.run.dir)  # resolves ${hydra:...}, ${now:...}, ${paths...}
    if verb == "distill":  # its log beside the corpus it writes
        assert run_dir.startswith(f"{OUTPUT}/.logs/") and typed.run_dir == RUN_DIR
    elif verb in REQUIRED:  # RUN_DIR does not exist: outputs under logs/<verb>, not at RUN_DIR
        assert run_dir.startswith(f"logs/{verb}/") and typed.run_dir == RUN_DIR
    else:
        assert run_dir.startswith(f"{typed.paths.log_dir}/{verb}/runs/")


@pytest.mark.parametrize("verb", sorted(RUN_VERBS))
def test_the_outputs_of_a_verb_go_under_its_existing_run_dir(verb, tmp_path):
    cfg = compose_verb(verb, f"run_dir={tmp_path}", hydra=True)
    assert str(cfg.hydra.run.dir).startswith(f"{tmp_path}/")


@pytest.mark.parametrize("debug", [None, "smoke"])
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_validates(experiment, debug):
    overrides = [f"experiment={experiment}"] + ([f"debug={debug}"] if debug else [])
    cfg, typed = compose("train", *overrides, *EXPERIMENT_FILES.get(experiment, []))
    assert cfg.hydra.runtime.choices.experiment == experiment
    if debug == "smoke":
        assert typed.model.name == "tiny" and typed.train.max_steps == 20
        assert typed.data.max_examples == 2000 and typed.tags == ["smoke"]


@pytest.mark.parametrize("verb, group, option", group_options())
def test_group_option_composes_and_validates(verb, group, option):
    extra = DATA_FILES.get(option, []) if group == "data" else []
    extra += EXPERIMENT_FILES.get(option, []) if group == "experiment" else []
    cfg, _ = compose(verb, f"{group}={option}", *extra)
    assert cfg.hydra.runtime.choices[group] == option


@pytest.mark.parametrize("launcher", sorted(p.stem for p in (CONF / "hydra/launcher").glob("*")))
def test_hydra_options(launcher):
    cfg, typed = compose("train", f"hydra/launcher={launcher}")
    assert cfg.hydra.runtime.choices["hydra/launcher"] == launcher
    get_class(cfg.hydra.launcher._target_)  # the plugin is installed
    assert str(cfg.hydra.sweep.dir).startswith(f"{typed.paths.log_dir}/train/multiruns/")


def test_group_options_found():
    found = {(verb, group) for verb, group, _ in group_options()}
    assert {("train", "model"), ("train", "debug"), ("prepare", "data")} <= found
    assert {("evaluate", "decode"), ("translate", "decode"), ("export", "decode")} <= found


# --- schemas ------------------------------------------------------------------------------


def with_model(settings: dict) -> dict:
    """`settings` over a complete model (conf/model/gru_luong.yaml): the schema has none."""
    model = OmegaConf.load(CONF / "model" / "gru_luong.yaml")
    return OmegaConf.to_container(OmegaConf.merge({"model": model}, settings))


def test_defaults_validate():
    cfg = validate(with_model({}), TrainRunConfig)
    assert cfg.data.format == "cmudict"
    assert isinstance(cfg.model, ModelConfig)
    assert cfg.model.rnn == "auto" and cfg.train.precision == "auto"


def test_the_model_has_no_defaults_in_the_schema():
    with pytest.raises(ConfigError, match=r"^config key 'model': missing value; set model=…$"):
        validate({}, TrainRunConfig)
    model = with_model({})["model"]
    del model["dropout"]
    with pytest.raises(ConfigError, match=r"^config key 'model.dropout': missing value; set "):
        validate({"model": model}, TrainRunConfig)


@pytest.mark.parametrize("option", sorted(p.stem for p in (CONF / "model").glob("*.yaml")))
def test_each_model_option_composes_to_exactly_the_schema_fields(option):
    """conf/model/*.yaml hold every model setting (the schema has no defaults to fall back on,
    and a key missing there could not be overridden on the command line); none holds more."""
    cfg, typed = compose("train", f"model={option}")
    assert set(cfg.model.keys()) == {f.name for f in dataclasses.fields(ModelConfig)}
    assert typed.model.name == option


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"data": {"fromat": "text"}}, "data.fromat"),
        ({"model": {"encoder_units": "many"}}, "model.encoder_units"),
        ({"train": {"optimizer": {"learning_rate": "fast"}}}, "train.optimizer.learning_rate"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_unknown_key_or_wrong_type_names_the_key(bad, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(bad, TrainRunConfig)


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"model": {"decoder": "transformer"}}, "model.decoder"),
        ({"data": {"batching": "sorted"}}, "data.batching"),
        ({"decode": {"strategy": "beam", "beam_size": 2, "n_best": 3}}, "n_best"),
        ({"train": {"monitor_mode": "up"}}, "train.monitor_mode"),
        ({"data": {"split_fractions": {"train": 0.5, "valid": 0.1}}}, "split_fractions"),
    ],
)
def test_cross_field_rules(bad, words):
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        validate(with_model(bad), TrainRunConfig)


def test_decode_greedy_requires_beam_one():
    with pytest.raises(ConfigError, match=r"decode\.strategy=greedy needs decode\.beam_size=1"):
        DecodeConfig(strategy="greedy", beam_size=4)


CKPT = r"^checkpoint must be best, last, average:N with N >= 1 or step:N, got "


@pytest.mark.parametrize(
    "verb, override, message",
    [
        ("evaluate", "split=dev", r"^split must be train, valid or test, got 'dev'$"),
        ("evaluate", "checkpoint=first", CKPT + r"'first'$"),
        ("evaluate", "plot_attention=-1", r"^plot_attention must be >= 0, got -1$"),
        ("evaluate", "plot_attention=some", r"^config key 'plot_attention': expected an int"),
        ("translate", "long_input=drop", r"^long_input must be truncate or reject, got 'drop'$"),
        ("translate", "checkpoint=newest", CKPT + r"'newest'$"),
        ("translate", "scores=maybe", r"^config key 'scores': expected true or false, got"),
        ("translate", "+beam=5", r"^unknown config key 'beam': did you mean decode\.beam_size"),
        ("export", "checkpoint=all", CKPT + r"'all'$"),
        ("evaluate", "checkpoint=average:0", CKPT + r"'average:0'$"),
        ("evaluate", "checkpoint=step:last", CKPT + r"'step:last'$"),
        ("export", "decode.beam_size=wide", r"^config key 'decode\.beam_size': expected an int"),
        ("export", "decode.n_best=2", r"decode\.n_best \(2\) must be <= decode\.beam_size \(1\)"),
        ("train", "task=summarization", r"^task must be g2p or translation, got 'summarization'"),
        ("prepare", "seed=abc", r"^config key 'seed': expected an integer, got 'abc'$"),
        ("prepare", "+model.units=3", r"^unknown config key 'model': did you mean"),
    ],
)
def test_verb_schema_errors_are_one_line_and_name_the_key(verb, override, message):
    with pytest.raises(ConfigError, match=message) as error:
        compose(verb, override)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("verb", sorted(REQUIRED))
def test_missing_run_dir_is_named(verb):
    # export's `output: ${run_dir}/export` must not hide which key is missing.
    cfg = compose_verb(verb)
    with pytest.raises(ConfigError, match=r"^config key 'run_dir': missing value; set run_dir="):
        validate(cfg, SCHEMAS[verb])


def test_export_output_follows_run_dir():
    _, typed = compose("export")
    assert isinstance(typed, ExportRunConfig) and typed.output == f"{RUN_DIR}/export"
