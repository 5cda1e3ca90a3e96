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
# # Padding and bucketing
#
# How much of each training batch is padding, and what that costs, on the real training
# pipeline (`seq2seq.data.pipeline.make_train_dataset`) with a run's data, tokenizers and model
# size: length histograms with the derived bucket boundaries, then random batches of fixed size
# against length-bucketed batches under several token budgets (`data.batch_tokens`) and bucket
# widths (`data.bucket_width_ratio`). Real target tokens/s is measured twice: as delivered by the
# input pipeline, and through training steps of a fresh model of the run's size.
#
# Inputs (environment variables, or papermill parameters of the next cell): `SEQ2SEQ_RUN_DIR`
# (default: the newest run under `logs/train` of the checkout), `SEQ2SEQ_MAX_EXAMPLES` (training pairs read,
# 0 = all), the variants as JSON lists (`SEQ2SEQ_BATCH_SIZES`, `SEQ2SEQ_BATCH_TOKENS`,
# `SEQ2SEQ_WIDTH_RATIOS`), `SEQ2SEQ_STEPS` and `SEQ2SEQ_ROUNDS` (timed train steps per
# variant and round; 0 steps = no timing). Outputs are not committed.

# %% tags=["parameters"]
from seq2seq.analysis.params import logs_dir, notebook_param

RUN_DIR = notebook_param("SEQ2SEQ_RUN_DIR", "")
MAX_EXAMPLES = notebook_param("SEQ2SEQ_MAX_EXAMPLES", 20000)
BATCH_SIZES = notebook_param("SEQ2SEQ_BATCH_SIZES", [64])
BATCH_TOKENS = notebook_param("SEQ2SEQ_BATCH_TOKENS", [1536, 3072, 6144])
WIDTH_RATIOS = notebook_param("SEQ2SEQ_WIDTH_RATIOS", [1.1, 1.3])
STEPS = notebook_param("SEQ2SEQ_STEPS", 20)
ROUNDS = notebook_param("SEQ2SEQ_ROUNDS", 2)

# %%
import keras

from seq2seq.analysis import batching, find_runs
from seq2seq.training.steps import make_train_step

run_dir = RUN_DIR or find_runs(logs_dir() / "train")[-1]
cfg, corpus, tokenizers = batching.run_data(run_dir, MAX_EXAMPLES)
print(f"{run_dir}: {len(corpus)} training pairs of {cfg.data.name!r}")

# %% [markdown]
# ## Lengths (tokens as the pipeline counts them) and the run's bucket boundaries

# %%
lengths_fig = batching.plot_lengths(corpus, tokenizers, cfg.data)

# %% [markdown]
# ## Random vs bucketed batches: real-token fraction and tokens/s

# %%
configs = batching.batching_configs(cfg.data, BATCH_SIZES, BATCH_TOKENS, WIDTH_RATIOS)
step = make_train_step(batching.fresh_model(cfg, tokenizers), keras.optimizers.Adam()) if STEPS else None
table = batching.batching_table(corpus, tokenizers, configs, cfg.train.seed, step, STEPS, ROUNDS)
table

# %%
batching_fig = batching.plot_batching(table)
