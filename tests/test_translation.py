"""Translation on a tiny generated corpus read like the shipped Tatoeba file (TSV, source =
column 1): evaluate and translate write detokenized text (a scripted model emits known pieces),
BLEU and chrF are sacrebleu's on that text with signatures recorded; and (slow) a shared
SentencePiece model (`vocab_size=auto`) with tied embeddings trained and used end to end."""

import json
import random
from pathlib import Path

import pytest
import tensorflow as tf
from sacrebleu.metrics import BLEU, CHRF

from seq2seq.config import DecodeConfig, TrainRunConfig, validate
from seq2seq.constants import EOS_ID
from seq2seq.data.corpora import load_corpora
from seq2seq.data.tokenizer import train_tokenizers
from seq2seq.evaluation import reference_streams
from seq2seq.inference.evaluate import evaluate_run
from seq2seq.inference.translate import format_output, translate_lines
from seq2seq.runs import RunDir
from seq2seq.runs.load import LoadedRun, load_run
from tests.cli_helpers import compose_verb, run_verb

# Spanish -> English word by word; a sentence starts with a capital and ends with a period.
WORDS = {
    "el": "the",
    "gato": "cat",
    "perro": "dog",
    "grande": "big",
    "pequeño": "small",
    "come": "eats",
    "duerme": "sleeps",
    "aquí": "here",
    "hoy": "today",
    "mucho": "much",
}


def sentence_pairs(n: int = 600, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (English, Spanish) pairs of 2-7 words, in Tatoeba's column order."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        spanish = [rng.choice(list(WORDS)) for _ in range(rng.randint(2, 7))]
        english = [WORDS[w] for w in spanish]
        pairs.append((" ".join(english).capitalize() + ".", " ".join(spanish).capitalize() + "."))
    return pairs


def translation_overrides(corpus: Path) -> list[str]:
    """`seq2seq-train` overrides: the generated corpus as a TSV (source = column 1), a shared
    unigram model of the largest size (auto), a tiny model with tied embeddings."""
    return [
        "data=tsv",
        f"data.train.path={corpus}",
        "data.source_column=1",
        "data.target_column=0",
        "data.split_fractions={train: 0.8, valid: 0.1, test: 0.1}",
        "data.split_by=normalized_source",
        "data.batch_tokens=256",
        "data.max_source_length=32",
        "data.max_target_length=32",
        "data.shuffle_buffer=1000",
        "tokenizer=shared8k",
        "tokenizer.source.vocab_size=auto",
        "model=tiny",
        "model.tie_embeddings=true",
        "task=translation",
        "train.max_steps=12",
        "train.validate_every=6",
        "train.val_decode_examples=20",
        "train.optimizer.learning_rate=0.03",
        "train.schedule.warmup_steps=2",
    ]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("translation") / "pairs.tsv"
    path.write_text("".join(f"{e}\t{s}\n" for e, s in sentence_pairs()), encoding="utf-8")
    return path


@pytest.mark.slow
def test_shared_vocabulary_with_tied_embeddings_end_to_end(corpus_file, tmp_path):
    """seq2seq-train, then evaluate and seq2seq-translate on the trained run."""
    run_dir = tmp_path / "run"
    proc = run_verb("train", *translation_overrides(corpus_file), f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    tokenizer = run_dir / "tokenizer"
    assert (tokenizer / "source.model").read_bytes() == (tokenizer / "target.model").read_bytes()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == 12 and 0 <= metrics["best/test/bleu"] <= 100
    assert "tok:13a" in metrics["signatures"]["bleu"]  # how the final BLEU was computed
    run = load_run(run_dir)
    assert run.tokenizers.source is run.tokenizers.target
    # vocab_size=auto: every piece the corpus allows, more than the 10 + 10 words + specials
    assert run.tokenizers.source.vocab_size > 24
    decoder = run.model.decoder
    assert decoder.tie_embeddings and decoder.output_dense is None  # logits use E^T
    assert not any("decoder/output/" in w.path for w in run.model.weights)
    report = evaluate_run(run, "test", DecodeConfig(), tmp_path / "eval", plot_attention=0)
    assert "tok:13a" in report["signatures"]["bleu"]
    sources = ["El gato come.", "", "El perro grande duerme aquí hoy."]
    (tmp_path / "in.txt").write_text("".join(s + "\n" for s in sources), encoding="utf-8")
    proc = run_verb(
        "translate",
        f"run_dir={run_dir}",
        f"input={tmp_path / 'in.txt'}",
        f"output={tmp_path / 'out.txt'}",
        f"hydra.run.dir={tmp_path / 'translate'}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    assert len(outputs) == 3 and outputs[1] == ""
    assert not any("▁" in line for line in outputs)


class ScriptedModel:
    """Stands in for a trained model: emits the same target piece ids for every source, then
    EOS, through the real search (`encode` / `decode_step`), so the output text is known."""

    def __init__(self, ids: list[int], vocab_size: int):
        self.script = tf.constant(ids + [EOS_ID], tf.int32)
        self.vocab_size = vocab_size

    def encode(self, source_ids, source_padding_mask, training=False):
        memory = tf.cast(source_padding_mask, tf.float32)[:, :, None]  # (B, S, 1)
        return memory, (tf.zeros_like(source_ids[:, 0]),)  # state: the step (B,)

    def decode_step(self, prev_ids, state, memory, memory_padding_mask, training=False):
        step = state[0]
        wanted = tf.gather(self.script, tf.minimum(step, len(self.script) - 1))  # (B,)
        logits = 20.0 * tf.one_hot(wanted, self.vocab_size)  # (B, V)
        attention = memory[:, :, 0] / tf.reduce_sum(memory[:, :, 0], axis=1, keepdims=True)
        return logits, (step + 1,), attention


OUTPUT = "The big cat sleeps here."


@pytest.fixture(scope="module")
def scripted_run(corpus_file, tmp_path_factory) -> LoadedRun:
    """A run of the translation config (tokenizers trained, nothing else) whose model always
    outputs the pieces of OUTPUT."""
    cfg = validate(compose_verb("train", *translation_overrides(corpus_file)), TrainRunConfig)
    tokenizers = train_tokenizers(cfg.tokenizer, load_corpora(cfg.data)["train"])
    target = tokenizers.target
    ids = target.encode([OUTPUT])[0]
    assert len(ids) > 5 and any(p.startswith("▁") for p in target.pieces()[4:])
    model = ScriptedModel(ids, target.vocab_size)
    return LoadedRun(cfg, tokenizers, model, "scripted", RunDir(tmp_path_factory.mktemp("run")))


def test_evaluate_writes_detokenized_text_and_scores_it_with_sacrebleu(scripted_run, tmp_path):
    report = evaluate_run(scripted_run, "test", DecodeConfig(), tmp_path, plot_attention=0)
    hypotheses = (tmp_path / "hypotheses.txt").read_text(encoding="utf-8").splitlines()
    references = [
        line.split("\t")
        for line in (tmp_path / "references.txt").read_text(encoding="utf-8").splitlines()
    ]
    assert len(references) == report["metrics"]["sentences"] > 0
    assert hypotheses == [OUTPUT] * len(references)  # SentencePiece decode, not pieces
    streams = reference_streams(references)
    bleu, chrf = BLEU(), CHRF()
    expected = bleu.corpus_score(hypotheses, streams).score
    assert report["metrics"]["bleu"] == pytest.approx(expected) and expected > 0
    assert report["metrics"]["chrf"] == pytest.approx(chrf.corpus_score(hypotheses, streams).score)
    target = scripted_run.tokenizers.target
    pieces = " ".join(target.pieces()[i] for i in target.encode([OUTPUT])[0])  # "▁The ▁big …"
    assert bleu.corpus_score([pieces] * len(references), streams).score != pytest.approx(expected)
    signatures = report["signatures"]
    assert signatures["bleu"] == str(bleu.get_signature())
    assert "tok:13a" in signatures["bleu"] and signatures["chrf"].startswith("nrefs:")
    assert json.loads((tmp_path / "metrics.json").read_text())["signatures"] == signatures


def test_translate_writes_detokenized_lines(scripted_run):
    results = translate_lines(scripted_run, ["El gato duerme.", "", "Hoy."], DecodeConfig())
    assert [r[0].text for r in results] == [OUTPUT, "", OUTPUT]
    lines = list(format_output(results, with_scores=True))
    assert lines[0].startswith(f"0 ||| {OUTPUT} ||| ")
