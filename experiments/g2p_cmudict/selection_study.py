"""Which checkpoint to keep: the best-checkpoint rules replayed over finished runs, each kept
checkpoint (and the average of the last K) scored on the whole valid and test splits.

    python experiments/g2p_cmudict/selection_study.py RUN_DIR [RUN_DIR ...]

The runs must keep every validation's checkpoint (trained with `train.keep_checkpoints` >= the
number of validations and `train.save_every_minutes=0`) and decode the whole validation split
(`train.val_decode_examples=0`), as the runs recorded in reproduce.yaml for this study do.
Scores are greedy, float32 (`seq2seq-evaluate`'s defaults); each goes to
RUN/evaluations/selection/<checkpoint>_<split>/ and the whole study to
RUN/evaluations/selection.json. Prints one markdown table per run and one over all runs.
"""

import json
import sys

from seq2seq.analysis.selection import replay_run
from seq2seq.config import DecodeConfig
from seq2seq.inference.evaluate import evaluate_run
from seq2seq.runs.checkpoints import restore_model
from seq2seq.runs.load import LoadedRun, load_run

TOLERANCES = (0.25, 0.5, 1.0)
STANDARD_ERRORS = (1.0,)
AVERAGES = (2, 3, 4)


def kept_steps(run: LoadedRun) -> list[int]:
    names = (run.run_dir.checkpoints / "last").glob("ckpt-*.index")
    return sorted(int(p.name.removeprefix("ckpt-").removesuffix(".index")) for p in names)


def score(run: LoadedRun, which: str) -> dict:
    """Greedy WER/PER of checkpoint `which` on the whole valid and test splits."""
    restore_model(run.model, run.run_dir.checkpoints, which)
    out = {}
    for split in ("valid", "test"):
        directory = run.run_dir.evaluations / "selection" / f"{which.replace(':', '_')}_{split}"
        metrics = evaluate_run(run, split, DecodeConfig(), directory)["metrics"]
        out[split] = {"wer": metrics["wer"], "per": metrics["per"]}
    return out


def study(run_dir: str) -> dict:
    run = load_run(run_dir, "last")
    checkpoints = {f"step:{s}": score(run, f"step:{s}") for s in kept_steps(run)}
    last = kept_steps(run)[-1]
    for k in AVERAGES:
        checkpoints[f"average:{k}"] = score(run, f"average:{k}")
    valid_size = len(set(_valid_sources(run)))
    rules = replay_run(run_dir, TOLERANCES, STANDARD_ERRORS, count=valid_size)
    picks = {c.rule: f"step:{c.step}" for c in rules}
    picks["best of the averages (valid)"] = min(
        (f"average:{k}" for k in AVERAGES), key=lambda c: checkpoints[c]["valid"]["wer"]
    )
    result = {"run_dir": run_dir, "last_step": last, "checkpoints": checkpoints, "picks": picks}
    (run.run_dir.evaluations / "selection.json").write_text(json.dumps(result, indent=2))
    return result


def _valid_sources(run: LoadedRun) -> list[str]:
    from seq2seq.data.corpora import load_corpora

    return load_corpora(run.cfg.data)["valid"].sources


def table(result: dict) -> str:
    rows = ["| checkpoint | valid WER | test WER | test PER |", "| --- | --- | --- | --- |"]
    for name, s in result["checkpoints"].items():
        rows.append(f"| {name} | {s['valid']['wer']:.2f} | {s['test']['wer']:.2f} | "
                    f"{s['test']['per']:.2f} |")  # fmt: skip
    rows += ["", "| rule | keeps | test WER |", "| --- | --- | --- |"]
    for rule, pick in result["picks"].items():
        rows.append(f"| {rule} | {pick} | {result['checkpoints'][pick]['test']['wer']:.2f} |")
    return "\n".join(rows)


def main(run_dirs: list[str]) -> None:
    results = [study(r) for r in run_dirs]
    for result in results:
        print(f"\n### {result['run_dir']}\n\n{table(result)}")
    print("\n### mean test WER of each rule's checkpoint over the runs\n")
    print("| rule | mean test WER |\n| --- | --- |")
    for rule in results[0]["picks"]:
        wers = [r["checkpoints"][r["picks"][rule]]["test"]["wer"] for r in results]
        print(f"| {rule} | {sum(wers) / len(wers):.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
