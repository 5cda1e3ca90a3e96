"""The copy-the-source baseline: sacrebleu BLEU, chrF and TER of the Spanish source taken as
the English output, on the valid and test splits of `experiment=mt_spa_eng` (one JSON line
each, with the signatures).

    .venv/bin/python experiments/mt_spa_eng/copy_baseline.py   # from the project root
"""

import json
from pathlib import Path

from hydra import compose, initialize_config_dir

from seq2seq.config import TrainRunConfig, validate
from seq2seq.data.corpora import load_corpora
from seq2seq.evaluation.translation import translation_scores

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def main() -> None:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = validate(compose("train", overrides=["experiment=mt_spa_eng"]), TrainRunConfig)
    corpora = load_corpora(cfg.data)
    for split in ("valid", "test"):
        sources, references = corpora[split].references()
        scores, signatures = translation_scores(sources, references)
        line = {"split": split, "sentences": len(sources), **scores, "signatures": signatures}
        print(json.dumps(line))


if __name__ == "__main__":
    main()
