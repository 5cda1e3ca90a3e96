"""Sequence-level knowledge distillation (Kim & Rush, 2016): a teacher's outputs as a corpus.

`distill_split` decodes the distinct sources of one split of the teacher's corpus with the
teacher (a run or an ensemble) and writes them with the teacher's best hypothesis as the target,
in the project's own formats, so a student trains on it with plain config:

    seq2seq-train data=tsv data.train.path=DIR/train.tsv.gz \
        data.valid.path=DIR/valid.tsv.gz data.test.path=DIR/test.tsv.gz

Decoding is resumable: sources go in chunks of `chunk_size`, each chunk's output is written
atomically to `DIR/.partial/` once decoded, and a run started again with the same settings
skips the chunks already there (a changed setting is an error, not a mixed corpus). The final
files and `distill.json` (teachers, their commits, decode settings, counts) appear only when
every chunk is done.
"""

import hashlib
import json
import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from seq2seq.config import DistillRunConfig
from seq2seq.data.corpora import Corpus
from seq2seq.errors import DataError, RunDirError
from seq2seq.files import atomic_write_bytes, atomic_write_json, atomic_write_text
from seq2seq.inference.distill_files import encode_corpus
from seq2seq.inference.translate import translate_lines
from seq2seq.runs.load import LoadedRun

log = logging.getLogger("seq2seq.distill")

PARTIAL = ".partial"
SETTINGS = "settings.json"
REPORT = "distill.json"


@dataclass
class DistillCounts:
    """What a distilled split holds: `sources` decoded, `pairs` written, and the sources whose
    best hypothesis was empty (`empty`, left out unless the original targets are kept) or
    equal to one of the original targets (`same_as_original`)."""

    sources: int = 0
    pairs: int = 0
    empty: int = 0
    same_as_original: int = 0
    original_pairs: int = 0
    seconds: float = 0.0


def settings_of(cfg: DistillRunConfig, teachers: list[dict]) -> dict:
    """Everything that decides the distilled corpus; a partial output made with other settings
    is not resumed."""
    return {
        "teachers": teachers,
        "checkpoint": cfg.checkpoint,
        "split": cfg.split,
        "decode": asdict(cfg.decode),
        "chunk_size": cfg.chunk_size,
        "include_original": cfg.include_original,
        "format": cfg.format,
        "compress": cfg.compress,
        "long_input": cfg.long_input,
    }


def distill_split(run: LoadedRun, corpus: Corpus, cfg: DistillRunConfig, settings: dict) -> dict:
    """Decode the distinct sources of `corpus` in chunks (resumable) and write the distilled
    split into `cfg.output`; returns its counts (`DistillCounts` as a dict)."""
    out = Path(cfg.output)
    partial = _partial_dir(out, settings)
    sources, references = corpus.references()
    chunks = [sources[i : i + cfg.chunk_size] for i in range(0, len(sources), cfg.chunk_size)]
    started, done_before = time.monotonic(), 0
    for index, chunk in enumerate(chunks):
        path = partial / f"{cfg.split}-{index:05d}.json"
        if path.exists():
            done_before += len(chunk)
            continue
        results = translate_lines(run, chunk, cfg.decode, cfg.long_input, cfg.progress)
        hypotheses = [nbest[0].text for nbest in results]
        atomic_write_text(path, json.dumps(hypotheses, ensure_ascii=False))
        _log_progress(index, chunks, started, done_before)
    hypotheses = []
    for index in range(len(chunks)):
        hypotheses += json.loads((partial / f"{cfg.split}-{index:05d}.json").read_text("utf-8"))
    pairs, counts = _distilled_pairs(sources, references, hypotheses, cfg.include_original)
    counts.seconds = round(time.monotonic() - started, 1)
    _write_split(out, cfg.split, pairs, cfg)
    return asdict(counts)


def _distilled_pairs(
    sources: list[str], references: list[list[str]], hypotheses: list[str], with_original: bool
) -> tuple[list[tuple[str, str]], DistillCounts]:
    """(source, target) rows: each source with the teacher's hypothesis, and with its original
    targets too when `with_original` (a target equal to the hypothesis written once)."""
    counts = DistillCounts(sources=len(sources))
    pairs = []
    for source, refs, hypothesis in zip(sources, references, hypotheses):
        if not hypothesis.strip():
            counts.empty += 1
        else:
            pairs.append((source, hypothesis))
            counts.same_as_original += hypothesis in refs
        if with_original:
            extra = [r for r in refs if r != hypothesis or not hypothesis.strip()]
            pairs += [(source, r) for r in extra]
            counts.original_pairs += len(extra)
    counts.pairs = len(pairs)
    return pairs, counts


def copy_split(corpus: Corpus, split: str, cfg: DistillRunConfig) -> dict:
    """Write `corpus` (an original split, e.g. valid/test with all references) beside the
    distilled one, so the student validates and tests on the teacher's own split."""
    pairs = list(zip(corpus.sources, corpus.targets))
    _write_split(Path(cfg.output), split, pairs, cfg)
    return {"pairs": len(pairs), "sources": len(set(corpus.sources))}


def _write_split(out: Path, split: str, pairs: list[tuple[str, str]], cfg: DistillRunConfig):
    for name, data in encode_corpus(pairs, split, cfg.format, cfg.compress).items():
        atomic_write_bytes(out / name, data)


def _partial_dir(out: Path, settings: dict) -> Path:
    """`out/.partial`, made for `settings` or holding chunks made with the same ones."""
    partial = out / PARTIAL
    fingerprint = json.dumps(settings, sort_keys=True)
    stored = partial / SETTINGS
    if stored.exists():
        if stored.read_text("utf-8") != fingerprint:
            old = json.loads(stored.read_text("utf-8"))
            changed = sorted(k for k in settings if old.get(k) != settings[k])
            raise RunDirError(
                f"{partial} holds a partial distillation made with other settings "
                f"({', '.join(changed)} differ): delete it to start over, or choose another output"
            )
        log.info("resuming the partial distillation in %s", partial)
    else:
        partial.mkdir(parents=True, exist_ok=True)
        atomic_write_text(stored, fingerprint)
    return partial


def _log_progress(index: int, chunks: list[list[str]], started: float, done_before: int) -> None:
    """One line per decoded chunk: sources done, rate and ETA (logs and pipes show progress
    even where no terminal bar is drawn)."""
    total = sum(len(c) for c in chunks)
    done = sum(len(c) for c in chunks[: index + 1])
    rate = (done - done_before) / max(time.monotonic() - started, 1e-9)
    eta = (total - done) / rate if rate > 0 else 0.0
    log.info(
        "chunk %d/%d: %s/%s sources, %.1f sent/s, ETA %dm%02ds",
        index + 1, len(chunks), f"{done:,}", f"{total:,}", rate, eta // 60, eta % 60,
    )  # fmt: skip


def finish(out: Path, report: dict) -> None:
    """Write `distill.json` and remove the partial chunks (the corpus is complete)."""
    atomic_write_json(out / REPORT, report)
    shutil.rmtree(out / PARTIAL, ignore_errors=True)


def teacher_records(run: LoadedRun, others: list[str], checkpoint: str) -> list[dict]:
    """Each teacher run: its directory, the commit it was trained at, the checkpoint decoded
    (`ckpt-<step>` of checkpoints/best for `best`) and a digest of its tokenizer files."""
    from seq2seq.runs import RunDir

    records = []
    for path in [run.run_dir.path, *others]:
        rd = RunDir(path)
        commit = rd.git.read_text("utf-8").strip() if rd.git.exists() else "unknown"
        records.append(
            {
                "run_dir": str(path),  # as given: relative paths stay relative
                "commit": commit,
                "checkpoint": _checkpoint_name(rd, checkpoint),
                "tokenizer_sha256": _digest(rd.tokenizer),
            }
        )
    return records


def _checkpoint_name(rd, which: str) -> str:
    """`best/ckpt-N` (or `last/ckpt-N`) from TensorFlow's checkpoint index file; `which` itself
    for average:N or when there is no index."""
    index = rd.checkpoints / which / "checkpoint"
    if which not in ("best", "last") or not index.exists():
        return which
    found = re.search(r'^model_checkpoint_path: "([^"]+)"', index.read_text("utf-8"), re.M)
    return f"{which}/{Path(found.group(1)).name}" if found else which


def _digest(directory: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(directory.glob("*")):
        if path.is_file():
            sha.update(path.name.encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()[:16]


def check_output(out: Path) -> None:
    """Refuse to overwrite a finished distillation (its distill.json) or a file."""
    if out.exists() and not out.is_dir():
        raise DataError(f"output={out} is a file; give a directory")
    if (out / REPORT).exists():
        raise RunDirError(
            f"{out} already holds a finished distillation ({REPORT}); choose another output "
            "or delete it"
        )
