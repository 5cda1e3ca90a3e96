"""`seq2seq-prepare`: read the corpora, train (or load) the tokenizers, write stats.json.

    seq2seq-prepare                                  # CMUdict G2P defaults
    seq2seq-prepare data=parallel_text data.train.source=a.de data.train.target=a.en \
        tokenizer=unigram8k hydra.run.dir=/tmp/prep
"""

import json
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.cli.common import CONF_DIR, run_cli
from seq2seq.config import PrepareRunConfig, validate



def prepare(cfg: PrepareRunConfig, run_dir: Path) -> dict:
    """Write run_dir/tokenizer/* and run_dir/stats.json; return the stats.

    Existing tokenizer files are loaded (resume); existing files with other content are never
    overwritten (RunDirError).
    """
    from seq2seq.data.corpora import load_corpora
    from seq2seq.data.stats import compute_stats
    from seq2seq.data.tokenizer import load_or_train_tokenizers
    from seq2seq.files import write_once

    corpora = load_corpora(cfg.data)
    tokenizers = load_or_train_tokenizers(cfg.tokenizer, corpora["train"], run_dir / "tokenizer")
    stats = compute_stats(corpora, tokenizers, cfg.data, cfg.seed)
    text = json.dumps(stats, indent=2, sort_keys=True) + "\n"
    write_once(run_dir / "stats.json", text.encode("utf-8"))
    return stats


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="prepare")
def main(cfg: DictConfig) -> None:
    """Prepare, then print the statistics table and the time taken."""
    from seq2seq.data.stats import format_table

    start = time.monotonic()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    stats = run_cli(lambda: prepare(validate(cfg, PrepareRunConfig), run_dir))
    print(format_table(stats))
    print(f"wrote {run_dir / 'stats.json'} and {run_dir / 'tokenizer'} "
          f"in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
