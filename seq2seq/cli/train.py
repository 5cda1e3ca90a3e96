"""`seq2seq-train`: a thin Hydra entry point over `seq2seq.training.loop.fit`. The config is
checked against `TrainRunConfig` before TensorFlow is imported."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.cli.common import CONF_DIR, FailedJob, run_cli
from seq2seq.config import TrainRunConfig, validate


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
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
