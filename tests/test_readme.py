"""The README's Python API example runs as written and shows what it claims."""

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _python_api_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_api_example(capsys):
    namespace = {"ROOT": str(ROOT)}
    exec(compile(_python_api_block(), "README.md", "exec"), namespace)
    logits, logits_more = namespace["logits"], namespace["logits_more"]
    assert tuple(logits.shape) == (2, 5, 60)
    np.testing.assert_allclose(logits[0, :3], logits_more[0, :3], atol=1e-5)
    np.testing.assert_allclose(logits[1, :5], logits_more[1, :5], atol=1e-5)
    first, second = capsys.readouterr().out.split("\n")[1].split()
    assert abs(float(first) - float(second)) < 1e-5
