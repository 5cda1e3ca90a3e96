"""The verbs as users run them.

- End to end: each verb once through its console script in a subprocess, on the tiny smoke
  setup (the smoke run itself is `seq2seq-train`, see conftest).
- Start-up: a bad config is one `error: …` line and exit status 2 for every verb, before
  TensorFlow is even imported (errors found later take the same path, `cli.common.run_cli`).
- Options: the functions behind the verbs (`seq2seq.cli.*`) called in-process with configs
  composed and validated as the verbs do (input=/output= files, scores, n-best, checkpoint,
  export's refusal to overwrite).
"""

import io
import json
import math
import shutil

import pytest

from seq2seq.cli.export import export
from seq2seq.cli.translate import translate
from seq2seq.config import DecodeConfig
from seq2seq.config.resolvers import existing_dir_or
from seq2seq.errors import DataError, RunDirError
from seq2seq.inference.translate import translate_lines
from seq2seq.runs.load import load_run
from tests.cli_helpers import LINES, check_outputs, run_python, run_verb, verb_config
from tests.train_helpers import tiny_train_overrides


@pytest.fixture(scope="module")
def run(smoke_run):
    return load_run(smoke_run.run_dir)


# --- end to end ---------------------------------------------------------------------------


def test_prepare_end_to_end(smoke_run, tmp_path):
    overrides = [
        o
        for o in tiny_train_overrides(tmp_path)
        if o.startswith(("data", "tokenizer"))  # the prepare config has no model/train
    ]
    proc = run_verb("prepare", *overrides, f"hydra.run.dir={tmp_path / 'prep'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((tmp_path / "prep" / "stats.json").read_text())
    assert sum(s["pairs"] for s in stats["splits"].values()) == 400  # the whole corpus
    assert stats["splits"]["train"]["pairs"] > stats["splits"]["test"]["pairs"] > 0
    assert "training pairs:" in proc.stdout and "wrote " in proc.stdout
    for name in ("source.model", "target.model"):  # the tokenizers training would use
        prepared = (tmp_path / "prep" / "tokenizer" / name).read_bytes()
        assert prepared == (smoke_run.run_dir / "tokenizer" / name).read_bytes(), name


def test_train_end_to_end(smoke_run):
    run_dir = smoke_run.run_dir
    assert smoke_run.metrics["steps"] == 12 and smoke_run.metrics["stop_reason"] == "max_steps"
    assert "stopped at step 12: max_steps" in smoke_run.log
    assert (run_dir / ".hydra" / "config.yaml").exists()  # Hydra's own record of the run
    log = (run_dir / "train.log").read_text()
    assert "stopped at step 12" in log
    # The first line: the machine, and model.rnn and train.precision (`auto`: its choice).
    first = log.splitlines()[0]
    assert "[seq2seq.train][INFO] hardware: CPU" in first, log[:300]
    assert first.endswith("; model.rnn=keras, train.precision=float32"), log[:300]


def test_evaluate_end_to_end(smoke_run_copy):
    proc = run_verb(
        "evaluate",
        f"run_dir={smoke_run_copy}",
        "decode=beam5",
        "checkpoint=last",
        "plot_attention=1",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["split"] == "test" and report["decode"]["beam_size"] == 5
    assert report["checkpoint"].endswith("checkpoints/last/ckpt-12")
    assert {"wer", "per", "sentences_per_sec"} <= set(report["metrics"])
    (out_dir,) = (smoke_run_copy / "evaluations").glob("test_beam5_*")
    assert json.loads((out_dir / "metrics.json").read_text()) == report
    hypotheses = (out_dir / "hypotheses.txt").read_text().splitlines()
    assert len(hypotheses) == report["metrics"]["sentences"] > 0 and any(hypotheses)
    assert (out_dir / "attention_0.png").exists() and not (out_dir / "attention_1.png").exists()


def test_translate_end_to_end(smoke_run_copy, run):
    proc = run_verb("translate", f"run_dir={smoke_run_copy}", stdin="\n".join(LINES) + "\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = proc.stdout.splitlines()
    check_outputs(outputs)
    assert outputs == [r[0].text for r in translate_lines(run, LINES, DecodeConfig())]
    assert list((smoke_run_copy / "translations").glob("*/translate.log"))


@pytest.fixture(scope="module")
def exported(smoke_run, tmp_path_factory) -> dict:
    """`seq2seq-export decode=beam5` of a copy of the smoke run, then the SavedModel run on
    LINES (and on LINES upper-cased) by plain TensorFlow in a subprocess that never imports
    seq2seq."""
    run_dir = tmp_path_factory.mktemp("export") / "run"
    shutil.copytree(smoke_run.run_dir, run_dir)
    proc = run_verb("export", f"run_dir={run_dir}", "decode=beam5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(run_dir / "export")  # the default output
    script = (
        "import json, sys, tensorflow as tf, tensorflow_text\n"
        "f = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        f"result = f(tf.constant({LINES + [line.upper() for line in LINES]!r}))\n"
        "assert not any(m.startswith('seq2seq') for m in sys.modules)\n"
        "print(json.dumps({\n"
        "    'translations': [s.decode('utf-8') for s in result['translations'].numpy()],\n"
        "    'scores': result['scores'].numpy().tolist(),\n"
        "}))\n"
    )
    loaded = run_python(script, str(run_dir / "export"))
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    out = json.loads(loaded.stdout.splitlines()[-1])
    count = len(LINES)
    return {
        "translations": out["translations"][:count],
        "scores": out["scores"][:count],
        "upper_translations": out["translations"][count:],
    }


def test_export_end_to_end_matches_translate(exported, run):
    # Greedy and beam search share the export's code path; beam5 also checks n-best -> best.
    cfg = verb_config("translate", f"run_dir={run.run_dir}", "decode=beam5").decode
    expected = translate_lines(run, LINES, cfg)
    check_outputs(exported["translations"])
    assert exported["translations"] == [nbest[0].text for nbest in expected]
    assert exported["scores"] == pytest.approx([nbest[0].score for nbest in expected], abs=1e-4)
    assert all(s < 0 for s, line in zip(exported["scores"], LINES) if line.strip())


def test_export_case_folds_like_training(exported):
    """The source SentencePiece model case-folds (tokenizer g2p: nmt_nfkc_cf), in the graph too."""
    assert exported["upper_translations"] == exported["translations"]


# --- start-up errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "verb, overrides, message",
    [
        ("prepare", ["+data.fromat=text"], "unknown config key 'data.fromat': did you mean"),
        ("train", ["train.max_steps=many"], "config key 'train.max_steps': expected an integer"),
        ("evaluate", [], "config key 'run_dir': missing value; set run_dir="),
        ("translate", ["run_dir=RUN", "long_input=drop"], "long_input must be truncate or"),
        ("export", ["run_dir=RUN", "+beam=5"], "unknown config key 'beam': did you"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(verb, overrides, message, tmp_path):
    overrides = [o.replace("RUN", str(tmp_path / "run")) for o in overrides]
    proc = run_verb(verb, *overrides, f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.splitlines()[-1].startswith(f"error: {message}"), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


# --- options, in-process ------------------------------------------------------------------


def test_translate_input_and_output_files(smoke_run, run, tmp_path):
    source, target = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    cfg = verb_config(
        "translate", f"run_dir={smoke_run.run_dir}", f"input={source}", f"output={target}"
    )
    stdout = io.StringIO()
    translate(cfg, io.BytesIO(b"ignored\n"), stdout)
    assert stdout.getvalue() == ""  # everything went to the file
    outputs = target.read_text(encoding="utf-8").splitlines()
    check_outputs(outputs)
    assert outputs == [r[0].text for r in translate_lines(run, LINES, DecodeConfig())]


def test_translate_not_a_run_directory(tmp_path):
    cfg = verb_config("translate", f"run_dir={tmp_path}")
    with pytest.raises(RunDirError, match=r"is not a training run directory \(no run_config"):
        translate(cfg, io.BytesIO(b"abc\n"), io.StringIO())


def test_translate_missing_input_file(smoke_run, tmp_path):
    cfg = verb_config("translate", f"run_dir={smoke_run.run_dir}", f"input={tmp_path}/no.txt")
    with pytest.raises(DataError, match=r"input file .*no\.txt does not exist"):
        translate(cfg, io.BytesIO(), io.StringIO())


def _translate_stdout(smoke_run, *overrides: str) -> list[str]:
    cfg = verb_config("translate", f"run_dir={smoke_run.run_dir}", *overrides)
    stdout = io.StringIO()
    translate(cfg, io.BytesIO(("\n".join(LINES) + "\n").encode()), stdout)
    return stdout.getvalue().splitlines()


def _parse_scored(lines: list[str]) -> list[tuple[int, str, float]]:
    """`index ||| text ||| score` lines -> (index, text, score)."""
    out = []
    for line in lines:
        index, text, score = line.split(" ||| ")
        out.append((int(index), text, float(score)))
    return out


def test_translate_scores_true_prints_one_scored_line_per_input(smoke_run, run):
    rows = _parse_scored(_translate_stdout(smoke_run, "scores=true"))
    expected = translate_lines(run, LINES, DecodeConfig())
    assert [index for index, _, _ in rows] == list(range(len(LINES)))
    assert [text for _, text, _ in rows] == [nbest[0].text for nbest in expected]
    for (_, _, score), nbest in zip(rows, expected):
        assert math.isclose(score, round(nbest[0].score, 4), abs_tol=1e-4)
    assert rows[1] == (1, "", 0.0)  # a blank line: an empty hypothesis scored 0


def test_translate_n_best_prints_every_hypothesis_best_first(smoke_run):
    # n_best > 1 implies the scored format, n lines per (non-blank) input, in input order.
    rows = _parse_scored(_translate_stdout(smoke_run, "decode=beam5", "decode.n_best=3"))
    for index, line in enumerate(LINES):
        nbest = [(text, score) for i, text, score in rows if i == index]
        assert len(nbest) == (3 if line.strip() else 1), (line, nbest)
        scores = [score for _, score in nbest]
        assert scores == sorted(scores, reverse=True)
        if line.strip():
            assert len({text for text, _ in nbest}) == 3  # distinct hypotheses
    assert [i for i, _, _ in rows] == sorted(i for i, _, _ in rows)


def test_export_refuses_an_existing_directory(smoke_run, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    cfg = verb_config("export", f"run_dir={smoke_run.run_dir}", f"output={out}")
    with pytest.raises(RunDirError, match=r"export exists; remove it or choose output="):
        export(cfg)
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no .tmp left
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    "verb", ["evaluate", pytest.param("translate", marks=pytest.mark.slow)]
)  # the same run_dir resolver; translate's path runs with `make test-slow`
def test_a_mistyped_run_dir_is_one_line_and_creates_nothing_at_the_typo(tmp_path, verb):
    typo = tmp_path / "runs" / "2026-11-29_typo"
    proc = run_verb(verb, f"run_dir={typo}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert str(typo) in proc.stderr
    assert not (tmp_path / "runs").exists()
    assert (tmp_path / "logs" / verb).is_dir()  # Hydra's own output went there instead


def test_outputs_go_under_an_existing_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert existing_dir_or(str(run_dir), "logs/evaluate") == str(run_dir)
    assert existing_dir_or(str(tmp_path / "nope"), "logs/evaluate") == "logs/evaluate"
    assert existing_dir_or("", "logs/evaluate") == "logs/evaluate"
