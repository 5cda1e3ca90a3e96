"""`seq2seq-evaluate run_dir=DIR [split=test] [decode=beam5]`: score a split, print JSON."""

import json
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.cli.common import CONF_DIR, run_cli


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from seq2seq.config import DecodeConfig, validate
    from seq2seq.inference.evaluate import evaluate_run
    from seq2seq.runs.load import load_run

    def job():
        decode = validate(cfg.decode, DecodeConfig)
        run = load_run(cfg.run_dir, cfg.checkpoint)
        out_dir = Path(HydraConfig.get().runtime.output_dir)
        return evaluate_run(run, cfg.split, decode, out_dir, cfg.plot_attention)

    print(json.dumps(run_cli(job), indent=2, default=str))


if __name__ == "__main__":
    main()
