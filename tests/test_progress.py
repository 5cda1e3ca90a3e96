"""The progress bar of the verbs' long loops (`seq2seq.progress`): on stderr only when asked
and stderr is a terminal; `translate` shows it over the decoded lines (on the shared smoke run)."""

import io

import pytest

from seq2seq.config import DecodeConfig
from seq2seq.progress import progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "enabled, terminal, shown", [(True, True, True), (True, False, False), (False, True, False)]
)
def test_progress_bar_only_when_asked_and_on_a_terminal(monkeypatch, enabled, terminal, shown):
    stream = FakeTerminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    with progress_bar(4, "decoding", "sent", enabled) as bar:
        bar.update(4)
    assert ("0/4" in stream.getvalue()) is shown
    assert ("sent/s" in stream.getvalue()) is shown


def test_translate_shows_a_bar_over_the_decoded_lines(smoke_run, monkeypatch):
    from seq2seq.inference.translate import translate_lines
    from seq2seq.runs.load import load_run

    run = load_run(smoke_run.run_dir)
    stream = FakeTerminal()
    monkeypatch.setattr("sys.stderr", stream)
    lines = ["abc", "hgf", "", "dd"]
    translate_lines(run, lines, DecodeConfig(), progress=True)
    assert "decoding" in stream.getvalue() and "/3 [" in stream.getvalue()
    stream.truncate(0)
    translate_lines(run, lines, DecodeConfig())
    assert stream.getvalue() == ""
