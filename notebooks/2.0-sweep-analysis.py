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
# # Sweep analysis
#
# The jobs of one `seq2seq-train -m ...` sweep: the sweep table (also written as `summary.csv`
# and `summary.md`), the optimized metric against each hyperparameter the sweep varied, and the
# learning curves of every job, read from its TensorBoard event files.
#
# Parameters (papermill `-p NAME VALUE`, or the environment variable in brackets): `sweep_dir`
# (`SEQ2SEQ_SWEEP_DIR`; default: the newest sweep under `logs/train/multiruns` of the checkout),
# `metric` (`SEQ2SEQ_METRIC`; default: the sweep's `optimized_metric`), `curve_tags`
# (`SEQ2SEQ_CURVE_TAGS`, a JSON list). Headless:
# `papermill notebooks/2.0-sweep-analysis.ipynb out.ipynb -p sweep_dir SWEEP_DIR` (docs/notebooks.md).
# Outputs are not committed.

# %% tags=["parameters"]
from seq2seq.analysis.params import logs_dir, notebook_param

sweep_dir = notebook_param("SEQ2SEQ_SWEEP_DIR", "")
metric = notebook_param("SEQ2SEQ_METRIC", "")
curve_tags = notebook_param("SEQ2SEQ_CURVE_TAGS", [])

# %%
import matplotlib.pyplot as plt

from seq2seq.analysis import sweep_plots, tensorboard

sweep = sweep_dir or sweep_plots.latest_sweep(logs_dir() / "train" / "multiruns")
table, varied, metric = sweep_plots.sweep_frame(sweep, metric or None)
print(f"{sweep}: {len(table)} jobs, sorted by {metric}; the sweep varied {varied}")

# %% [markdown]
# ## The sweep table (best first, failed jobs last)

# %%
shown = ["job", "status", *varied] + [c for c in table if c.startswith("best/") or c in ("steps", "train_seconds", "real_tokens_per_sec", "error")]
table[shown]

# %% [markdown]
# ## The metric against each varied hyperparameter

# %%
metric_fig = sweep_plots.plot_metric_vs_hparams(table, metric, varied)

# %% [markdown]
# ## Learning curves of every job (TensorBoard events)

# %%
tags = curve_tags or ["train/loss", "val/loss", metric.removeprefix("best/"), "train/real_tokens_per_sec"]
curves = tensorboard.tensorboard_curves(sweep, tags)
curve_fig = tensorboard.plot_curves(curves, tags, sweep_plots.job_labels(table, varied))
