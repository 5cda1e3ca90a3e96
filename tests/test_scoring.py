"""G2P WER/PER on hand-computed examples; translation scores against sacrebleu's own CLI."""

import json
import subprocess
import sys

import pytest

from seq2seq.evaluation import (
    per,
    reference_streams,
    score,
    score_with_signatures,
    translation_scores,
    wer,
)

G2P_HYPOTHESES = ["K AE T", "D AO  G", "B ER D", "F IH SH"]
G2P_REFERENCES = [["K AE T"], ["D AA G", "D AO G"], ["B ER D Z"], ["F IY SH", "F IH SH"]]


def test_wer_counts_a_word_right_if_any_reference_matches():
    assert wer(G2P_HYPOTHESES, G2P_REFERENCES) == pytest.approx(25.0)  # only "B ER D" is wrong


def test_per_uses_the_closest_reference():
    # distances to the closest references: 0/3, 0/3 ("D AO G"), 1/4, 0/3
    assert per(G2P_HYPOTHESES, G2P_REFERENCES) == pytest.approx(100.0 / 13)


@pytest.mark.parametrize("references", [["T AH M EY", "T AH"], ["T AH", "T AH M EY"]])
def test_per_tie_counts_the_shortest_reference(references):
    # "T AH M" is 1 edit from both; the shorter (2 phonemes) counts, in either order
    assert per(["T AH M"], [references]) == pytest.approx(50.0)


def test_per_of_empty_hypothesis_is_all_deletions():
    assert per(["", "A B"], [["A B C"], ["A B"]]) == pytest.approx(60.0)
    assert wer(["", "A B"], [["A B C"], ["A B"]]) == pytest.approx(50.0)


@pytest.mark.parametrize("metric", [wer, per])
def test_g2p_scores_reject_misaligned_input(metric):
    with pytest.raises(ValueError):
        metric(["A"], [["A"], ["B"]])
    with pytest.raises(ValueError):
        metric(["A"], [[]])


HYPOTHESES = ["The cat sat on the mat.", "A quick brown fox jumps over the dog.", "Hello world!"]
REFERENCES_1 = [
    "The cat sat on the mat.",
    "The quick brown fox jumped over the lazy dog.",
    "Hello, world!",
]
REFERENCES_2 = [
    "A cat was sitting on the mat.",
    "A fast brown fox leaps over the lazy dog.",
    "Hi world!",
]


def test_translation_scores_match_the_sacrebleu_cli(tmp_path):
    files = []
    for name, lines in (("hyp", HYPOTHESES), ("ref1", REFERENCES_1), ("ref2", REFERENCES_2)):
        files.append(tmp_path / name)
        files[-1].write_text("\n".join(lines) + "\n")
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "sacrebleu",
            str(files[1]),
            str(files[2]),
            "-i",
            str(files[0]),
            "-m",
            "bleu",
            "chrf",
            "ter",
            "-w",
            "4",
            "--format",
            "json",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    expected = {entry["name"]: entry for entry in json.loads(cli.stdout)}
    scores, signatures = translation_scores(HYPOTHESES, list(zip(REFERENCES_1, REFERENCES_2)))
    for ours, theirs in (("bleu", "BLEU"), ("chrf", "chrF2"), ("ter", "TER")):
        assert scores[ours] == pytest.approx(expected[theirs]["score"], abs=1e-4)
        assert signatures[ours] == expected[theirs]["signature"]
    assert 0 < scores["bleu"] < 100


def test_variable_reference_counts_pad_with_none():
    references = [[REFERENCES_1[0]], [REFERENCES_1[1], REFERENCES_2[1]], [REFERENCES_2[2]]]
    assert reference_streams(references) == [
        [REFERENCES_1[0], REFERENCES_1[1], REFERENCES_2[2]],
        [None, REFERENCES_2[1], None],
    ]
    scores, signatures = translation_scores(HYPOTHESES, references)
    # Repeating a sentence's only reference changes no metric; an empty one would.
    repeated = [refs * 2 if len(refs) == 1 else refs for refs in references]
    assert scores == pytest.approx(translation_scores(HYPOTHESES, repeated)[0])
    assert all("nrefs:var" in signature for signature in signatures.values())


def test_score_dispatches_on_task():
    g2p = score("g2p", G2P_HYPOTHESES, G2P_REFERENCES)
    assert g2p == pytest.approx({"wer": 25.0, "per": 100.0 / 13})
    translation = score("translation", HYPOTHESES, [[ref] for ref in REFERENCES_1])
    assert set(translation) == {"bleu", "chrf", "ter"}
    assert all(isinstance(value, float) for value in translation.values())
    with pytest.raises(ValueError):
        score("summarization", HYPOTHESES, [[ref] for ref in REFERENCES_1])
    assert score_with_signatures("g2p", G2P_HYPOTHESES, G2P_REFERENCES)[1] == {}
    scores, signatures = score_with_signatures(
        "translation", HYPOTHESES, [[r] for r in REFERENCES_1]
    )
    assert scores == translation and set(signatures) == {"bleu", "chrf", "ter"}
    assert signatures["bleu"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
