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
# Parameters (papermill `-p NAME VALUE`, or the environment variable `SEQ2SEQ_<NAME>`, lists as
# JSON): `run_dir` (default: the newest run under `logs/train` of the checkout), `max_examples`
# (training pairs read, 0 = all), the variants `batch_sizes`, `batch_tokens`, `width_ratios`,
# `steps` and `rounds` (timed train steps per variant and round; 0 steps = no timing). Headless:
# `papermill notebooks/3.0-padding-and-bucketing.ipynb out.ipynb -p run_dir RUN_DIR` (docs/notebooks.md). Outputs are not committed.

# %% tags=["parameters"]
from seq2seq.analysis.params import logs_dir, notebook_param

run_dir = notebook_param("SEQ2SEQ_RUN_DIR", "")
max_examples = notebook_param("SEQ2SEQ_MAX_EXAMPLES", 20000)
batch_sizes = notebook_param("SEQ2SEQ_BATCH_SIZES", [64])
batch_tokens = notebook_param("SEQ2SEQ_BATCH_TOKENS", [1536, 3072, 6144])
width_ratios = notebook_param("SEQ2SEQ_WIDTH_RATIOS", [1.1, 1.3])
steps = notebook_param("SEQ2SEQ_STEPS", 20)
rounds = notebook_param("SEQ2SEQ_ROUNDS", 2)

# %%
import keras

from seq2seq.analysis import batching, find_runs
from seq2seq.training.steps import make_train_step

run_dir = run_dir or find_runs(logs_dir() / "train")[-1]
cfg, corpus, tokenizers = batching.run_data(run_dir, max_examples)
print(f"{run_dir}: {len(corpus)} training pairs of {cfg.data.name!r}")

# %% [markdown]
# ## Lengths (tokens as the pipeline counts them) and the run's bucket boundaries

# %%
lengths_fig = batching.plot_lengths(corpus, tokenizers, cfg.data)

# %% [markdown]
# ## Random vs bucketed batches: real-token fraction and tokens/s

# %%
configs = batching.batching_configs(cfg.data, batch_sizes, batch_tokens, width_ratios)
step = make_train_step(batching.fresh_model(cfg, tokenizers), keras.optimizers.Adam()) if steps else None
table = batching.batching_table(corpus, tokenizers, configs, cfg.train.seed, step, steps, rounds)
table

# %%
batching_fig = batching.plot_batching(table)
