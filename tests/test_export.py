"""`seq2seq-export` for every model config (`model.rnn=fused` included) and both searches: the
SavedModel loads in a fresh interpreter that imports only `tensorflow` and `tensorflow_text`
(no op of this package's C++ kernel, no gradient function in it), and its `serving_default`
gives `seq2seq-translate`'s outputs on the run's test split.

The runs: the trained smoke run (model=tiny) as trained and with `model.rnn=fused` (the same
checkpoint loads either way), and tiny-sized `gru_luong` / `gru_bahdanau` runs made from it with
random weights (the export must reproduce translation, not translate well).
"""

import json
import shutil

import pytest

from seq2seq.cli.export import export
from seq2seq.data.corpora import load_corpora
from seq2seq.inference.translate import translate_lines
from seq2seq.runs.load import load_run
from tests.cli_helpers import run_python, verb_config
from tests.run_helpers import rewrite_model_config

# (model config, rnn, search): the default suite runs the two fused cases that together cover
# both searches and both decoders (~10 s each alone on 2 cores); the rest are slow.
MODELS = [(m, r) for m in ("tiny", "gru_luong", "gru_bahdanau") for r in ("fused", "keras")]
FAST = {("tiny", "fused", "beam5"), ("gru_bahdanau", "fused", "greedy")}
CASES = [
    pytest.param(m, r, s, id=f"{m}-{r}-{s}", marks=() if (m, r, s) in FAST else pytest.mark.slow)
    for m, r in MODELS
    for s in ("greedy", "beam5")
]

# What a server without this package runs: only TensorFlow and tensorflow-text imported.
LOADER = """
import json, sys
import tensorflow as tf, tensorflow_text
export_dir, sources = sys.argv[1], json.loads(sys.argv[2])
signature = tf.saved_model.load(export_dir).signatures["serving_default"]
result = signature(sentences=tf.constant(sources))
assert not any(m.startswith("seq2seq") for m in sys.modules)
from tensorflow.core.protobuf import saved_model_pb2
saved = saved_model_pb2.SavedModel.FromString(open(export_dir + "/saved_model.pb", "rb").read())
graph = saved.meta_graphs[0].graph_def
ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
assert not [op for op in ops if op.startswith("Seq2seq")], ops  # the C++ kernel's
assert not graph.library.gradient and not graph.library.registered_gradients  # none saved
print(sorted(op for op in ops if op.startswith("Sentencepiece")))
print(json.dumps({
    "translations": [s.decode("utf-8") for s in result["translations"].numpy()],
    "scores": result["scores"].numpy().tolist(),
}))
"""


@pytest.fixture(scope="module")
def runs(smoke_run, tmp_path_factory) -> dict:
    """(model config, rnn) -> a run directory; made on first use and shared."""
    made = {}

    def get(model: str, rnn: str):
        if (model, rnn) not in made:
            run_dir = tmp_path_factory.mktemp(f"{model}-{rnn}") / "run"
            shutil.copytree(smoke_run.run_dir, run_dir)
            rewrite_model_config(run_dir, model, rnn)
            made[model, rnn] = run_dir
        return made[model, rnn]

    return get


@pytest.mark.parametrize(("model", "rnn", "search"), CASES)
def test_export_loads_without_this_package_and_matches_translate(runs, model, rnn, search):
    run_dir = runs(model, rnn)
    out = run_dir / f"export-{search}"
    export(verb_config("export", f"run_dir={run_dir}", f"decode={search}", f"output={out}"))
    run = load_run(run_dir)
    assert run.cfg.model.rnn == rnn
    sources = load_corpora(run.cfg.data)["test"].sources + ["", "ABC"]
    loaded = run_python(LOADER, str(out), json.dumps(sources))
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    served = json.loads(loaded.stdout.splitlines()[-1])
    cfg = verb_config("translate", f"run_dir={run_dir}", f"decode={search}").decode
    expected = translate_lines(run, sources, cfg)
    assert served["translations"] == [nbest[0].text for nbest in expected]
    assert served["scores"] == pytest.approx([nbest[0].score for nbest in expected], abs=1e-4)
    assert len(set(served["translations"])) > 2  # not one output for every input
