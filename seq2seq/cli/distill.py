"""`seq2seq-distill run_dir=TEACHER output=DIR [ensemble=[RUN2]] [split=train]`: the split's
sources decoded by the teacher, written as a corpus a student trains on (sequence-level
knowledge distillation). The config is checked against `DistillRunConfig` before TensorFlow is
imported."""

import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from seq2seq.cli.app import hydra_app
from seq2seq.cli.common import run_cli
from seq2seq.config import DistillRunConfig, validate
from seq2seq.errors import DataError

log = logging.getLogger("seq2seq.distill")

DESCRIPTION = """decode a split's sources with a trained run (or an ensemble) and write them
with the teacher's outputs as targets: a corpus for a student (train.tsv.gz, the original
valid/test, distill.json). Resumable: the same command continues after a kill."""
EXAMPLES = (
    "seq2seq-distill run_dir=RUN output=data/distilled",
    'seq2seq-distill run_dir=RUN "ensemble=[RUN2]" decode=beam5 output=data/distilled',
    (
        "seq2seq-train data=tsv data.train.path=data/distilled/train.tsv.gz \\\n"
        "      data.valid.path=data/distilled/valid.tsv.gz \\\n"
        "      data.test.path=data/distilled/test.tsv.gz"
    ),
)


@hydra_app("distill", DESCRIPTION, EXAMPLES)
def main(cfg: DictConfig) -> None:
    run_cli(lambda: print(json.dumps(distill(validate(cfg, DistillRunConfig)), indent=2)))


def distill(cfg: DistillRunConfig) -> dict:
    """Write the distilled split, the copied splits and distill.json into `cfg.output`;
    return the report (distill.json's content)."""
    from seq2seq.data.corpora import load_corpora
    from seq2seq.inference import distill as d
    from seq2seq.inference.distill_files import corpus_files
    from seq2seq.runs import git_commit
    from seq2seq.runs.load import load_ensemble

    out = Path(cfg.output)
    d.check_output(out)
    run = load_ensemble(cfg.run_dir, cfg.ensemble, cfg.checkpoint, cfg.decode.precision)
    teachers = d.teacher_records(run, cfg.ensemble, cfg.checkpoint)
    corpora = load_corpora(run.cfg.data)
    for split in [cfg.split, *cfg.copy_splits]:
        if not corpora.get(split) or not corpora[split].sources:
            raise DataError(f"split {split!r} is empty or missing in data {run.cfg.data.name!r}")
    settings = d.settings_of(cfg, teachers)
    log.info("distilling %s of %s into %s", cfg.split, run.cfg.data.name, out)
    splits = {cfg.split: d.distill_split(run, corpora[cfg.split], cfg, settings)}
    for split in cfg.copy_splits:
        splits[split] = d.copy_split(corpora[split], split, cfg)
    report = {
        **settings,
        "code_commit": git_commit(),  # the code that decoded
        "task": run.cfg.task,
        "data": run.cfg.data.name,
        "files": {s: corpus_files(s, cfg.format, cfg.compress) for s in splits},
        "counts": splits,
        "train_with": train_overrides(cfg, out, list(splits)),
    }
    d.finish(out, report)
    log.info("wrote %s", out / d.REPORT)
    return report


def train_overrides(cfg: DistillRunConfig, out: Path, splits: list[str]) -> str:
    """The seq2seq-train overrides that read the distilled corpus."""
    from seq2seq.inference.distill_files import corpus_files

    group = "tsv" if cfg.format == "tsv" else "parallel_text"
    keys = [
        f"data.{split}.{key}={out / name}"
        for split in splits
        for key, name in corpus_files(split, cfg.format, cfg.compress).items()
    ]
    return " ".join([f"data={group}", *keys])


if __name__ == "__main__":
    main()
