"""`seq2seq-prepare`: read the corpora, train (or load) the tokenizers, write stats.json.

    seq2seq-prepare                                  # CMUdict G2P defaults
    seq2seq-prepare data=parallel_text data.train.source=a.de data.train.target=a.en \
        tokenizer=unigram8k hydra.run.dir=/tmp/prep

The config is checked against `PrepareRunConfig` before TensorFlow is imported.
"""

import time

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.cli.app import hydra_app
from seq2seq.cli.common import run_cli
from seq2seq.config import PrepareRunConfig, validate

DESCRIPTION = """read the corpora, train (or load) the tokenizers and write stats.json
(pairs, lengths, skipped lines, dropped pairs) without training; seq2seq-train does the same
first."""
EXAMPLES = (
    "seq2seq-prepare                                  # CMUdict G2P defaults",
    "seq2seq-prepare data=tatoeba_spa_eng tokenizer=unigram4k hydra.run.dir=/tmp/prep",
    (
        "seq2seq-prepare data=parallel_text data.train.source=a.de data.train.target=a.en \\\n"
        "      tokenizer=unigram8k hydra.run.dir=/tmp/prep"
    ),
)


@hydra_app("prepare", DESCRIPTION, EXAMPLES)
def main(cfg: DictConfig) -> None:
    """Prepare, then print the statistics table and the time taken."""
    from seq2seq.runs import RunDir

    start = time.monotonic()
    run = RunDir(HydraConfig.get().runtime.output_dir)

    def job() -> None:
        typed = validate(cfg, PrepareRunConfig)
        from seq2seq.data.stats import format_table
        from seq2seq.training.prepare import prepare

        stats = prepare(typed, run.path, progress=typed.progress)
        print(format_table(stats))
        print(f"wrote {run.stats} and {run.tokenizer} in {time.monotonic() - start:.1f} s")

    run_cli(job)


if __name__ == "__main__":
    main()
