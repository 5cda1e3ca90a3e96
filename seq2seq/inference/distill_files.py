"""The files of a distilled corpus: one TSV per split, or two aligned text files (gzip or not),
readable by `data=tsv` / `data=parallel_text`."""

import gzip

from seq2seq.errors import DataError

FORMATS = ("tsv", "text")


def corpus_files(split: str, fmt: str, compress: bool) -> dict[str, str]:
    """The file names of `split`: {"path": …} for tsv, {"source": …, "target": …} for text,
    matching the `data.<split>.*` keys that read them."""
    gz = ".gz" if compress else ""
    if fmt == "tsv":
        return {"path": f"{split}.tsv{gz}"}
    return {"source": f"{split}.source{gz}", "target": f"{split}.target{gz}"}


def encode_corpus(
    pairs: list[tuple[str, str]], split: str, fmt: str, compress: bool
) -> dict[str, bytes]:
    """{file name: bytes} of `pairs` in format `fmt`. A tab (tsv) or a newline in a text would
    shift the columns or lines: DataError naming the split and row."""
    for row, (source, target) in enumerate(pairs, start=1):
        for text in (source, target):
            if "\n" in text or "\r" in text or (fmt == "tsv" and "\t" in text):
                raise DataError(
                    f"{split}, row {row}: {text[:40]!r} holds a tab or newline; it cannot be "
                    f"written as {fmt} (format=text keeps tabs)"
                )
    names = corpus_files(split, fmt, compress)
    if fmt == "tsv":
        columns = {"path": [f"{s}\t{t}" for s, t in pairs]}
    else:
        columns = {"source": [s for s, _ in pairs], "target": [t for _, t in pairs]}
    files = {}
    for key, lines in columns.items():
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        files[names[key]] = gzip.compress(data, mtime=0) if compress else data
    return files
