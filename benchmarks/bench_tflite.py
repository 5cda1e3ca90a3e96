"""A LiteRT export against the SavedModel path: the same hypotheses, WER/PER and words/s.

Decodes the sources of a `seq2seq-evaluate` output directory (sources.txt, hypotheses.txt,
references.txt of a G2P split) with each `.tflite` file (`seq2seq-export format=tflite`) in the
`ai-edge-litert` interpreter, in calls of the file's static batch (the last call padded with blank
lines), and prints one JSON line per file: file size, seconds, words/s, WER/PER, and the fraction
of hypotheses equal to the evaluation's (the SavedModel's search: `seq2seq-translate`, the
SavedModel and `seq2seq-evaluate` share it), with the first differing words. `--savedmodel DIR`
also times the SavedModel (`seq2seq-export`) in the same process, at each file's batch size.

    .venv/bin/python benchmarks/bench_tflite.py --eval-dir RUN/evaluations/<stamp> \
        --tflite RUN/export.tflite [--savedmodel RUN/export]
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from machine import machine  # noqa: E402

from seq2seq.evaluation.g2p import per, wer  # noqa: E402


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def litert_runner(path: Path, threads: int):
    """The file's serving signature in the ai-edge-litert interpreter, with the tensorflow-text
    ops registered; returns (run(list of str) -> list of str, static batch size)."""
    import tensorflow_text as tf_text
    from ai_edge_litert.interpreter import InterpreterWithCustomOps

    interpreter = InterpreterWithCustomOps(
        custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS,
        model_path=str(path),
        num_threads=threads,
    )
    runner = interpreter.get_signature_runner()
    batch = int(runner.get_input_details()["sentences"]["shape"][0])

    def run(lines: list[str]) -> list[str]:
        out = runner(sentences=np.array([line.encode("utf-8") for line in lines], dtype=object))
        return [t.decode("utf-8") for t in out["translations"]]

    return run, batch


def savedmodel_runner(path: Path):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]

    def run(lines: list[str]) -> list[str]:
        out = serve(tf.constant(lines))["translations"].numpy()
        return [t.decode("utf-8") for t in out]

    return run


def decode_all(run, sources: list[str], batch: int) -> tuple[list[str], float]:
    """Hypotheses of every source in calls of `batch` (the last padded with ""), and seconds."""
    hypotheses = []
    started = time.perf_counter()
    for start in range(0, len(sources), batch):
        chunk = sources[start : start + batch]
        hypotheses += run(chunk + [""] * (batch - len(chunk)))[: len(chunk)]
    return hypotheses, time.perf_counter() - started


def report(name, hypotheses, seconds, sources, expected, references, extra) -> dict:
    differ = [i for i, (h, e) in enumerate(zip(hypotheses, expected)) if h != e]
    return {
        "model": name,
        **extra,
        "words": len(sources),
        "seconds": round(seconds, 3),
        "words_per_sec": round(len(sources) / seconds, 1),
        "wer": round(wer(hypotheses, references), 3),
        "per": round(per(hypotheses, references), 3),
        "equal_to_evaluation": round(1 - len(differ) / len(sources), 6),
        "first_differences": [
            {"source": sources[i], "litert": hypotheses[i], "evaluation": expected[i]}
            for i in differ[:5]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, required=True)
    parser.add_argument("--tflite", type=Path, nargs="+", required=True)
    parser.add_argument("--savedmodel", type=Path)
    parser.add_argument("--threads", type=int, default=1, help="LiteRT interpreter threads")
    parser.add_argument("--limit", type=int, default=0, help="only the first N words (0: all)")
    args = parser.parse_args()
    limit = args.limit or None
    sources = read_lines(args.eval_dir / "sources.txt")[:limit]
    expected = read_lines(args.eval_dir / "hypotheses.txt")[:limit]
    references = [line.split("\t") for line in read_lines(args.eval_dir / "references.txt")]
    references = references[:limit]
    evaluated = json.loads((args.eval_dir / "metrics.json").read_text())["metrics"]
    print(json.dumps({"evaluation": {k: evaluated[k] for k in ("wer", "per", "sentences")}}))
    print(json.dumps({"machine": machine()}))
    saved = savedmodel_runner(args.savedmodel) if args.savedmodel else None
    for path in args.tflite:
        run, batch = litert_runner(path, args.threads)
        run(sources[:batch])  # warm-up
        hypotheses, seconds = decode_all(run, sources, batch)
        extra = {"bytes": path.stat().st_size, "batch": batch, "threads": args.threads}
        print(
            json.dumps(report(path.name, hypotheses, seconds, sources, expected, references, extra))
        )
        if saved is not None:
            saved(sources[:batch])  # warm-up (traces this batch shape)
            hypotheses, seconds = decode_all(saved, sources, batch)
            extra = {"batch": batch}
            name = f"{args.savedmodel.name} (SavedModel)"
            print(
                json.dumps(report(name, hypotheses, seconds, sources, expected, references, extra))
            )


if __name__ == "__main__":
    main()
