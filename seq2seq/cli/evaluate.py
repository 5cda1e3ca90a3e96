"""`seq2seq-evaluate run_dir=DIR [split=test] [checkpoint=best] [decode=beam5]`: score a split,
print JSON. The config is checked against `EvaluateRunConfig` before TensorFlow is imported."""

import json
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.cli.app import hydra_app
from seq2seq.cli.common import run_cli
from seq2seq.config import EvaluateRunConfig, validate

DESCRIPTION = """decode one split of a trained run and score it (WER/PER for G2P,
BLEU/chrF/TER for translation); prints the scores as JSON and writes the hypotheses, metrics.json
and attention plots under RUN/evaluations/."""
EXAMPLES = (
    "seq2seq-evaluate run_dir=logs/train/runs/2026-12-06_10-00-00",
    "seq2seq-evaluate run_dir=RUN decode=beam5 split=valid",
    "seq2seq-evaluate run_dir=RUN checkpoint=average:5",
    'seq2seq-evaluate run_dir=RUN "ensemble=[RUN2]"     # two runs decoded as one ensemble',
)


@hydra_app("evaluate", DESCRIPTION, EXAMPLES)
def main(cfg: DictConfig) -> None:
    def job() -> None:
        typed = validate(cfg, EvaluateRunConfig)
        report = evaluate(typed, Path(HydraConfig.get().runtime.output_dir))
        print(json.dumps(report, indent=2, default=str))

    run_cli(job)


def evaluate(cfg: EvaluateRunConfig, out_dir: Path) -> dict:
    """Decode and score `cfg.split` of the run; write the files to `out_dir`; return the
    report (also `out_dir/metrics.json`). A run trained with logger=mlflow gets the evaluation
    in its MLflow run too."""
    from seq2seq.inference.evaluate import evaluate_run
    from seq2seq.runs import RunDir
    from seq2seq.runs.load import load_ensemble
    from seq2seq.runs.mlflow_evaluation import log_evaluation

    run = load_ensemble(cfg.run_dir, cfg.ensemble, cfg.checkpoint, cfg.decode.precision)
    report = evaluate_run(run, cfg.split, cfg.decode, out_dir, cfg.plot_attention, cfg.progress)
    log_evaluation(RunDir(cfg.run_dir), out_dir, report)
    return report


if __name__ == "__main__":
    main()
