"""Learning curves from TensorBoard event files, read with tbparse, and their plots.

TF2's `tf.summary.scalar` stores values as tensors, so curves come from tbparse's `tensors`
frame (not `scalars`). tbparse, and through it TensorFlow, is imported only when called.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

CURVE_COLUMNS = ["run", "tag", "step", "value"]
FINAL_PREFIX = "best/"  # the final metrics, logged once at the last step: not curves


def tensorboard_curves(root: str | Path, tags: list[str] | None = None) -> pd.DataFrame:
    """Every scalar under `root` (a run or a sweep directory) as rows run, tag, step, value.

    `run` is the directory holding the `tensorboard/` folder, relative to `root` ("0", "1", ...
    for a sweep's jobs, "." for a run). Final metrics (`best/*`) are left out; a step logged
    twice (a resumed run) keeps its last value. `tags`: keep only these.
    """
    from tbparse import SummaryReader

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    frame = SummaryReader(str(root), extra_columns={"dir_name"}).tensors
    if frame.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    frame = frame.assign(run=[str(Path(d).parent) for d in frame["dir_name"]])
    frame = frame[~frame["tag"].str.startswith(FINAL_PREFIX)]
    if tags is not None:
        frame = frame[frame["tag"].isin(tags)]
    frame = frame.drop_duplicates(["run", "tag", "step"], keep="last")
    return frame.sort_values(["run", "tag", "step"], key=_natural)[CURVE_COLUMNS].reset_index(
        drop=True
    )


def plot_curves(
    curves: pd.DataFrame, tags: list[str], labels: dict[str, str] | None = None
) -> plt.Figure:
    """One panel per tag, one line per run (`labels`: run -> legend text)."""
    fig, axes = plt.subplots(1, len(tags), figsize=(4 * len(tags), 3), squeeze=False)
    for ax, tag in zip(axes[0], tags):
        for run, points in curves[curves["tag"] == tag].groupby("run", sort=False):
            label = (labels or {}).get(run, run)
            ax.plot(points["step"], points["value"], marker=".", label=label)
        ax.set_title(tag)
        ax.set_xlabel("step")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _natural(column: pd.Series) -> pd.Series:
    """Sort key: job numbers as numbers ("2" before "10"), other values as they are."""
    if column.name != "run":
        return column
    return column.map(lambda v: (0, int(v), "") if v.isdigit() else (1, 0, v))
