"""`prepare(cfg, run_dir)`: read the corpora, train (or load) the tokenizers, write stats.json."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from seq2seq.config import PrepareRunConfig
from seq2seq.data.stats import compute_stats
from seq2seq.data.streaming import load_training_data
from seq2seq.data.tokenizer import load_or_train_tokenizers
from seq2seq.data.tokenizer_checks import warn_about_tokenizers
from seq2seq.files import write_once
from seq2seq.progress import progress_bar
from seq2seq.runs import RunDir

T = TypeVar("T")


def prepare(cfg: PrepareRunConfig, run_dir: str | Path, progress: bool = False) -> dict:
    """Write the run's tokenizer/* and stats.json; return the stats.

    Existing tokenizer files are loaded (resume); existing files with other content are never
    overwritten (RunDirError). `progress`: a bar over the three stages on stderr when it is a
    terminal.
    """
    run = RunDir(run_dir)
    with progress_bar(3, "prepare", "stage", progress) as bar:
        corpora, stream = _stage(bar, "reading the corpora", load_training_data, cfg.data)
        tokenizers = _stage(
            bar,
            "tokenizers",
            load_or_train_tokenizers,
            cfg.tokenizer,
            corpora["train"],
            run.tokenizer,
        )
        warn_about_tokenizers(tokenizers, corpora)
        stats = _stage(bar, "statistics", compute_stats, corpora, tokenizers, cfg.data, cfg.seed)
    if stream is not None:  # splits.train then describes the sample
        stats["streaming"] = stream.summary(len(corpora["train"]))
    text = json.dumps(stats, indent=2, sort_keys=True) + "\n"
    write_once(run.stats, text.encode("utf-8"))
    return stats


def _stage(bar, name: str, function: Callable[..., T], *args) -> T:
    """`function(*args)`, shown as the bar's current stage, then counted as done."""
    bar.set_postfix_str(name)
    result = function(*args)
    bar.update()
    return result
