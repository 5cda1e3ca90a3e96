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
# # Error analysis
#
# Where a trained run goes wrong on one split: sentence scores against source length, the
# worst predictions of each length bucket, attention heatmaps of the worst ones, and for G2P
# which phonemes it confuses. Predictions come from the newest `seq2seq-evaluate` output of the
# split in the run (`evaluations/<split>_*`), else the split is decoded here with the run's
# decode config.
#
# Parameters (papermill `-p NAME VALUE`, or the environment variable `SEQ2SEQ_<NAME>`):
# `run_dir` (default: the newest run under `logs/train` of the checkout), `split` (valid | test),
# `limit` (decode only the first N distinct sources; 0 = all), `buckets`, `worst` (rows per
# bucket), `heatmaps`. Headless:
# `papermill notebooks/4.0-error-analysis.ipynb out.ipynb -p run_dir RUN_DIR` (docs/notebooks.md). Outputs are not committed.

# %% tags=["parameters"]
from seq2seq.analysis.params import logs_dir, notebook_param

run_dir = notebook_param("SEQ2SEQ_RUN_DIR", "")
split = notebook_param("SEQ2SEQ_SPLIT", "test")
limit = notebook_param("SEQ2SEQ_LIMIT", 0)
buckets = notebook_param("SEQ2SEQ_BUCKETS", 4)
worst = notebook_param("SEQ2SEQ_WORST", 5)
heatmaps = notebook_param("SEQ2SEQ_HEATMAPS", 3)

# %%
from seq2seq.analysis import confusion, errors, find_runs
from seq2seq.inference.attention import align, heatmap
from seq2seq.runs.load import load_run

run = load_run(run_dir or find_runs(logs_dir() / "train")[-1])
evaluation = errors.latest_evaluation(run.run_dir.path, split)
predictions = errors.read_evaluation(evaluation) if evaluation else errors.decode_split(run, split, limit)
scored = errors.score_sentences(predictions, run.cfg.task)
column, higher_is_worse = errors.error_column(run.cfg.task)
print(f"{run.run_dir}: {len(scored)} {split} sentences from {evaluation or 'decoding here'}; task {run.cfg.task}")

# %% [markdown]
# ## Sentence score against source length

# %%
length_fig = errors.plot_score_vs_length(scored, run.cfg.task)
errors.by_length(scored, run.cfg.task)

# %% [markdown]
# ## The worst predictions of each length bucket

# %%
worst = errors.worst_by_length(scored, run.cfg.task, buckets, worst)
worst

# %% [markdown]
# ## Attention of the worst predictions (greedy decoding)

# %%
sources = list(worst.sort_values(column, ascending=not higher_is_worse)["source"][:heatmaps])
attention_fig = errors.show_images([heatmap(align(run.model, run.tokenizers, s)) for s in sources], sources)

# %% [markdown]
# ## G2P: phoneme confusions (hypothesis aligned to its closest reference)

# %%
if run.cfg.task == "g2p":
    counts = confusion.confusion_counts(zip(scored["closest"], scored["hypothesis"]))
    confusion_fig = confusion.plot_confusion(confusion.confusion_matrix(counts))
    display(confusion.top_confusions(counts))
