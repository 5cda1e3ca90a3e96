"""The analysis code behind the notebooks, on small hand-made inputs: phoneme alignment and
confusions, sentence scores and the worst predictions per length bucket, sweep frames."""

import json

import matplotlib
import pandas as pd
import pytest
from sacrebleu.metrics import CHRF

from seq2seq.analysis.confusion import (
    EMPTY,
    align,
    confusion_counts,
    confusion_matrix,
    top_confusions,
)
from seq2seq.analysis.errors import (
    by_length,
    latest_evaluation,
    length_buckets,
    read_evaluation,
    score_sentences,
    worst_by_length,
)
from seq2seq.analysis.sweep_plots import latest_sweep, plot_metric_vs_hparams, sweep_frame

matplotlib.use("Agg")


@pytest.mark.parametrize(
    "reference, hypothesis, pairs",
    [
        ("K AE T", "K AE T", [("K", "K"), ("AE", "AE"), ("T", "T")]),
        ("K AE T", "K EH T", [("K", "K"), ("AE", "EH"), ("T", "T")]),
        ("K AE T", "K T", [("K", "K"), ("AE", EMPTY), ("T", "T")]),
        ("K T", "K AE T", [("K", "K"), (EMPTY, "AE"), ("T", "T")]),
        ("", "AH", [(EMPTY, "AH")]),
        ("AH", "", [("AH", EMPTY)]),
    ],
)
def test_alignment(reference, hypothesis, pairs):
    assert align(reference.split(), hypothesis.split()) == pairs


def test_confusions_count_each_reference_phoneme_once():
    counts = confusion_counts([("K AE T", "K EH T"), ("K AE T S", "K AE T"), ("AE", "EH")])
    assert counts[("AE", "EH")] == 2 and counts[("S", EMPTY)] == 1 and counts[("K", "K")] == 2
    assert sum(c for (ref, _), c in counts.items() if ref != EMPTY) == 3 + 4 + 1
    top = top_confusions(counts)
    assert top.iloc[0].to_dict() == {
        "reference": "AE",
        "hypothesis": "EH",
        "count": 2,
        "share": pytest.approx(2 / 3),
    }
    assert list(top["reference"]) == ["AE", "S"]  # errors only
    matrix = confusion_matrix(counts, phonemes=2)
    assert list(matrix.index) == list(matrix.columns) == ["AE", "K", EMPTY]  # T ties K, later
    assert matrix.loc["AE"].tolist() == pytest.approx([1 / 3, 0, 0])  # AE -> EH is not shown
    assert matrix.loc["K", "K"] == 1.0 and matrix.loc[EMPTY].sum() == 0


def g2p_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["a", "ab", "abc", "abcd", "abcde", "abcdef"],
            "hypothesis": ["AH", "AH B", "AH B K", "X", "AH B K D IY", "AH"],
            "references": [["AH"], ["EY B", "AH B"], ["AH B S"], ["AH B K D"], ["AH B K D"], ["A"]],
        }
    )


def test_g2p_sentence_scores_and_worst_by_length():
    scored = score_sentences(g2p_frame(), "g2p")
    assert list(scored["length"]) == [1, 2, 3, 4, 5, 6]
    assert list(scored["correct"]) == [True, True, False, False, False, False]
    assert list(scored["closest"])[1] == "AH B"  # the reference at the smallest distance
    assert list(scored["per"]) == pytest.approx([0, 0, 100 / 3, 100, 25, 100])
    buckets = length_buckets(scored, 3)
    assert list(buckets) == ["1-2", "1-2", "3-4", "3-4", "5-6", "5-6"]
    worst = worst_by_length(scored, "g2p", buckets=3, per_bucket=1)
    assert list(worst["source"]) == ["a", "abcd", "abcdef"]  # shortest bucket first
    table = by_length(scored, "g2p")
    assert list(table["wer"]) == [0, 0, 100, 100, 100, 100]


def test_translation_sentence_chrf():
    frame = pd.DataFrame(
        {
            "source": ["el gato", "el perro come mucho"],
            "hypothesis": ["the cat", "a dog"],
            "references": [["the cat", "a cat"], ["the dog eats a lot"]],
        }
    )
    scored = score_sentences(frame, "translation")
    assert list(scored["length"]) == [2, 4]
    expected = CHRF().sentence_score("a dog", ["the dog eats a lot"]).score
    assert scored["chrf"].tolist() == pytest.approx([100.0, expected])
    worst = worst_by_length(scored, "translation", buckets=1, per_bucket=1)
    assert list(worst["source"]) == ["el perro come mucho"]  # lower chrF is worse
    with pytest.raises(ValueError, match="task must be g2p or translation"):
        score_sentences(frame, "tagging")


def test_read_the_newest_evaluation(tmp_path):
    run = tmp_path / "run"
    for name, hypothesis in (("test_greedy_1", "X"), ("test_beam5_2", "AH")):
        out = run / "evaluations" / name
        out.mkdir(parents=True)
        (out / "sources.txt").write_text("a\n")
        (out / "hypotheses.txt").write_text(f"{hypothesis}\n")
        (out / "references.txt").write_text("AH\tEY\n")
    (run / "evaluations" / "valid_greedy_3").mkdir()  # another split, and unfinished
    assert latest_evaluation(run, "valid") is None
    newest = latest_evaluation(run, "test")
    assert newest.name == "test_beam5_2"
    frame = read_evaluation(newest)
    assert frame.to_dict("records") == [
        {"source": "a", "hypothesis": "AH", "references": ["AH", "EY"]}
    ]


def test_sweep_frame_and_metric_plot(tmp_path):
    """Two finished jobs and one that failed on its config; values typed as numbers."""
    sweep = tmp_path / "multiruns" / "2026-01-01"
    (sweep).mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("optimized_metric: best/val/wer\n")
    for job, (lr, units, wer) in enumerate([(0.001, "small", 30.0), (0.01, "big", 25.0)]):
        directory = sweep / str(job)
        (directory / ".hydra").mkdir(parents=True)
        overrides = [f"train.optimizer.learning_rate={lr}", f"model={units}"]
        (directory / ".hydra" / "overrides.yaml").write_text(json.dumps(overrides))
        (directory / "metrics.json").write_text(json.dumps({"best/val/wer": wer, "steps": 4}))
        (directory / "status.json").write_text('{"status": "ok", "error": null}')
    failed = sweep / "2"
    (failed / ".hydra").mkdir(parents=True)
    overrides = ["train.optimizer.learning_rate=1", "model=big"]
    (failed / ".hydra" / "overrides.yaml").write_text(json.dumps(overrides))
    (failed / "status.json").write_text('{"status": "failed", "error": "bad"}')
    assert latest_sweep(tmp_path / "multiruns") == sweep
    frame, varied, metric = sweep_frame(sweep)
    assert metric == "best/val/wer" and varied == ["train.optimizer.learning_rate", "model"]
    assert list(frame["job"]) == ["1", "0", "2"]  # best first, failed last
    assert frame["train.optimizer.learning_rate"].tolist() == [0.01, 0.001, 1.0]
    assert frame["model"].tolist() == ["big", "small", "big"]
    fig = plot_metric_vs_hparams(frame, metric, varied)
    lr_axis, model_axis = fig.axes
    assert lr_axis.get_xscale() == "log" and lr_axis.get_title().endswith("(1 failed)")
    assert len(lr_axis.collections[0].get_offsets()) == 2
    assert [t.get_text() for t in model_axis.get_xticklabels()] == ["big", "small"]
