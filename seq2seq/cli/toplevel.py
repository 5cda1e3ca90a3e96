"""`seq2seq`: the verbs and what each does; `seq2seq --version`."""

import sys

from seq2seq import __version__

VERBS = {
    "seq2seq-prepare": "read the corpora, train the tokenizers, write stats.json",
    "seq2seq-train": "train a model (experiment=NAME for a recorded recipe)",
    "seq2seq-evaluate": "decode and score a split of a trained run",
    "seq2seq-translate": "translate lines (stdin to stdout) with a trained run",
    "seq2seq-export": "write a trained run as a strings-in/strings-out SavedModel",
    "seq2seq-distill": "decode a split with a trained run (or ensemble): a corpus for a student",
    "seq2seq-summarize": "the table of a sweep's jobs (SWEEP_DIR/summary.md)",
    "seq2seq-reproduce": "re-run an experiment's recorded commands and compare the figures",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--version" in args:
        print(f"seq2seq {__version__}")
        return 0
    width = max(len(verb) for verb in VERBS)
    print(f"seq2seq {__version__}: sequence-to-sequence models (masked GRU, TensorFlow, Hydra)\n")
    print("\n".join(f"  {verb:<{width}}  {what}" for verb, what in VERBS.items()))
    print("\n`<verb> --help` for each verb's examples and options.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
