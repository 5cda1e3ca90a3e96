"""`seq2seq-train`: a thin Hydra entry point over `seq2seq.training.loop.fit`. The config is
checked against `TrainRunConfig` before TensorFlow is imported."""

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.cli.app import hydra_app
from seq2seq.cli.common import run_cli
from seq2seq.config import TrainRunConfig, validate
from seq2seq.runs.job_status import FailedJob

DESCRIPTION = """train a sequence-to-sequence model: a masked GRU encoder-decoder with
attention, G2P on CMUdict by default. The run directory (hydra.run.dir) gets checkpoints,
metrics.json and TensorBoard logs; training again into it resumes."""
EXAMPLES = (
    "seq2seq-train experiment=g2p_cmudict debug=smoke hydra.run.dir=/tmp/smoke  # a 1-minute check",
    "seq2seq-train experiment=g2p_cmudict                 # the default G2P recipe (~6 min)",
    "seq2seq-train experiment=mt_spa_eng train.max_steps=2000 model.dropout=0.2",
    (
        "seq2seq-train data=parallel_text data.train.source=a.de data.train.target=a.en \\\n"
        "      data.valid.source=v.de data.valid.target=v.en tokenizer=unigram8k task=translation"
    ),
    "seq2seq-train -m experiment=g2p_cmudict model.dropout=0.0,0.2 hydra/launcher=local",
)


@hydra_app("train", DESCRIPTION, EXAMPLES)
def main(cfg: DictConfig) -> float | FailedJob | None:
    """Train; return `optimized_metric` from metrics.json for hyperparameter sweepers (for a
    failed job of a sweep a FailedJob, which the Optuna sweeper records as a failed trial)."""

    def job() -> dict:
        typed = validate(cfg, TrainRunConfig)
        from seq2seq.training.loop import fit

        return fit(typed, HydraConfig.get().runtime.output_dir)

    metrics = run_cli(job)
    if isinstance(metrics, FailedJob):
        return metrics
    key = cfg.get("optimized_metric")
    return metrics.get(key) if key else None


if __name__ == "__main__":
    main()
