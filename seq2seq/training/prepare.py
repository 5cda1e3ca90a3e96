"""`prepare(cfg, run_dir)`: read the corpora, train (or load) the tokenizers, write stats.json."""

import json
from pathlib import Path

from seq2seq.config import PrepareRunConfig
from seq2seq.data.corpora import load_corpora
from seq2seq.data.stats import compute_stats
from seq2seq.data.tokenizer import load_or_train_tokenizers
from seq2seq.files import write_once
from seq2seq.runs import RunDir


def prepare(cfg: PrepareRunConfig, run_dir: str | Path) -> dict:
    """Write the run's tokenizer/* and stats.json; return the stats.

    Existing tokenizer files are loaded (resume); existing files with other content are never
    overwritten (RunDirError).
    """
    run = RunDir(run_dir)
    corpora = load_corpora(cfg.data)
    tokenizers = load_or_train_tokenizers(cfg.tokenizer, corpora["train"], run.tokenizer)
    stats = compute_stats(corpora, tokenizers, cfg.data, cfg.seed)
    text = json.dumps(stats, indent=2, sort_keys=True) + "\n"
    write_once(run.stats, text.encode("utf-8"))
    return stats
