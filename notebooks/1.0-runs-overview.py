# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Runs overview
#
# Compare training runs: the settings a sweep changed, final metrics, and curves from `metrics.jsonl`.
# Run after `make train` or a sweep (`seq2seq-train -m ...`). Outputs are not committed.
# Parameter (papermill `-p log_root DIR`, or the environment variable `SEQ2SEQ_LOG_ROOT`): the
# directory searched for runs (default: `logs/train` of the checkout, or of `$PROJECT_ROOT`).
# Headless: `papermill notebooks/1.0-runs-overview.ipynb out.ipynb -p log_root logs/train` (docs/notebooks.md).

# %% tags=["parameters"]
from seq2seq.analysis.params import logs_dir, notebook_param

log_root = notebook_param("SEQ2SEQ_LOG_ROOT", str(logs_dir() / "train"))  # runs and multiruns

# %%
from pathlib import Path

import matplotlib.pyplot as plt

from seq2seq.analysis import find_runs, read_curves, run_summary, varying_keys

runs = find_runs(log_root)
print(f"{len(runs)} runs under {log_root}")

# %% [markdown]
# ## Settings that differ, and results

# %%
rows = [run_summary(r) for r in runs]
columns = varying_keys(rows) + ["best/val/wer", "best/test/wer", "best/test/per", "steps", "train_seconds"]
print("\t".join(["run"] + columns))
for row in rows:
    print("\t".join([Path(row["run_dir"]).name] + [str(row.get(c, "")) for c in columns]))

# %% [markdown]
# ## Curves (real-token losses; validation task metrics)

# %%
TAGS = ["train/loss", "val/loss", "val/wer", "train/real_tokens_per_sec"]
fig, axes = plt.subplots(1, len(TAGS), figsize=(4 * len(TAGS), 3))
for run in runs:
    curves = read_curves(run)
    for ax, tag in zip(axes, TAGS):
        if tag in curves:
            steps, values = zip(*curves[tag])
            ax.plot(steps, values, label=run.name)
for ax, tag in zip(axes, TAGS):
    ax.set_title(tag)
    ax.set_xlabel("step")
axes[0].legend(fontsize=6)
fig.tight_layout()
