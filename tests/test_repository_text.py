"""The repository speaks of itself: history is told by date and commit, never by "session".

A reader can check "until 2026-11-30 (b43511b)" with `git show`; a numbered work session names
nothing they can look up. The pattern is assembled from parts so that this file does not
match it.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOBS = ["*.md", "*.yaml", "*.yml", "*.py", "*.cc", "*.toml", "*.json", "*.ipynb"]
WHEN = [
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "this", "that", "earlier", "early", "same", "next", "previous", "last",
]  # fmt: skip
WORD = "ses" + "sions?"
DIARY = re.compile(rf"\b({'|'.join(WHEN)}) {WORD}\b", re.IGNORECASE)
# TensorFlow's and pytest's sessions are not diary entries.
ALLOWED = re.compile(r"hparams|pytest|tf\.compat|Session\(")


def diary_lines(text: str) -> list[int]:
    """Line numbers (1-based) of `text` that date something by a session."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if DIARY.search(line) and not ALLOWED.search(line)
    ]


def tracked_text_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", *GLOBS],
            cwd=ROOT,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in out.split("\0") if name]


def test_the_pattern_finds_a_diary_line_and_spares_pytest():
    word = "ses" + "sion"
    assert diary_lines(f"fine\nuntil the ninth {word}; earlier {word}s' machines\n") == [2]
    assert diary_lines(f'@pytest.fixture(scope="{word}")  # this {word}') == []
    assert diary_lines("until 2026-11-30 (b43511b)") == []


def test_no_tracked_file_dates_anything_by_session():
    files = tracked_text_files()
    assert "README.md" in files
    found = []
    for name in files:
        path = ROOT / name
        if not path.is_file():  # deleted in the work tree, not yet in the index
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{name}:{number}" for number in diary_lines(text)]
    assert not found, (
        "tell history by date and commit (e.g. 'until 2026-11-30 (b43511b)'), not by "
        "session: " + ", ".join(found)
    )
