"""`evaluate_run`: decode a split of a trained run and score it the way papers do."""

import logging
import time
from pathlib import Path

import tensorflow as tf

from seq2seq.config import DecodeConfig
from seq2seq.data.corpora import load_corpora
from seq2seq.decoding import decode_corpus
from seq2seq.errors import DataError
from seq2seq.evaluation import task_scores
from seq2seq.files import atomic_write_json, atomic_write_text
from seq2seq.inference.attention import align, heatmap
from seq2seq.runs.load import LoadedRun
from seq2seq.runs.run_dir import METRICS_FILE

log = logging.getLogger("seq2seq.evaluate")


def evaluate_run(
    run: LoadedRun,
    split: str,
    decode_cfg: DecodeConfig,
    out_dir: Path,
    plot_attention: int = 0,
    progress: bool = False,
) -> dict:
    """Decode `split` of the run's corpus, write hypotheses and references, return metrics.

    Writes to `out_dir`: sources.txt, hypotheses.txt (detokenized: the SentencePiece decode of
    the output pieces), references.txt (all references of a source, tab-separated),
    metrics.json (task scores computed on those two files' text, decode speed, settings and,
    for translation, the sacrebleu signature of each metric under "signatures"), and heatmaps
    attention_<i>.png of the first `plot_attention` sources (also as TensorBoard images
    `attention/<split>_<i>` in the run's tensorboard/). `progress`: a bar on stderr over the
    decoded sentences when it is a terminal.
    """
    corpora = load_corpora(run.cfg.data)
    if split not in corpora or not corpora[split].sources:
        raise DataError(f"split {split!r} is empty or missing in data {run.cfg.data.name!r}")
    started = time.perf_counter()
    decoded = decode_corpus(
        run.model, run.tokenizers, corpora[split], run.cfg.data, decode_cfg, progress=progress
    )
    seconds = time.perf_counter() - started
    metrics, signatures = task_scores(run.cfg.task, decoded)
    metrics.update(
        sentences=len(decoded.sources),
        seconds=round(seconds, 3),
        sentences_per_sec=len(decoded.sources) / seconds,
        tokens_per_sec=decoded.output_tokens / seconds,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "sources.txt", "".join(s + "\n" for s in decoded.sources))
    atomic_write_text(out_dir / "hypotheses.txt", "".join(h + "\n" for h in decoded.hypotheses))
    atomic_write_text(
        out_dir / "references.txt", "".join("\t".join(r) + "\n" for r in decoded.references)
    )
    report = {
        "split": split,
        "task": run.cfg.task,
        "checkpoint": run.checkpoint,
        "decode": vars(decode_cfg),
        "metrics": metrics,
        "signatures": signatures,
    }
    atomic_write_json(out_dir / METRICS_FILE, report)
    if plot_attention > 0:
        plot_alignments(run, decoded.sources[:plot_attention], split, out_dir)
    return report


def plot_alignments(run: LoadedRun, sources: list[str], split: str, out_dir: Path) -> None:
    """Heatmaps of greedy-decoding attention: PNG files and TensorBoard images."""
    writer = tf.summary.create_file_writer(str(run.run_dir.tensorboard))
    with writer.as_default(step=0):
        for i, source in enumerate(sources):
            image = heatmap(
                align(run.model, run.tokenizers, source), out_dir / f"attention_{i}.png"
            )
            tf.summary.image(f"attention/{split}_{i}", image[None])
    writer.close()
