"""Where the files shipped with the code are: the Hydra configs and the example data.

The checkout keeps them at its top level (conf/, data/); the package reaches them through the
symlinks seq2seq/conf -> ../conf and seq2seq/datasets -> ../data, which a wheel stores as
ordinary package data (pyproject.toml, [tool.setuptools.package-data]). So the same paths work
in an editable install, in an installed wheel and from any working directory.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CONF_DIR = PACKAGE_DIR / "conf"
DATA_DIR = PACKAGE_DIR / "datasets"


def checkout_root() -> Path | None:
    """The source checkout the code runs from (an editable install), or None for an installed
    wheel (site-packages has no pyproject.toml next to the package)."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "conf").is_dir() else None


def shipped_data(relative: str) -> str:
    """The absolute path of a file shipped under data/ (`tatoeba_spa_eng/spa.txt.gz`)."""
    return str(DATA_DIR / relative)
