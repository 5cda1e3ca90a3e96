"""Reading runs and sweeps for analysis, and the plots of the notebooks (notebooks/).

Imported here (plain Python, no TensorFlow import):
- `runs`: one run's curves (metrics.jsonl), summary row (run_config.yaml + metrics.json).
- `sweeps`: a multirun's jobs, their status.json, and the sweep table (summary.csv/.md).
- `params`: notebook inputs from environment variables.
- `selection`: best-checkpoint rules replayed over a run's validations (`replay_run`).

Import these from their modules (they load pandas, matplotlib, and some TensorFlow):
- `sweep_plots`: a sweep as a data frame, its metric against each varied hyperparameter.
- `tensorboard`: learning curves from TensorBoard event files (tbparse).
- `batching`: padding and bucketing measured on the training pipeline.
- `errors`, `confusion`: sentence scores, worst predictions by length, phoneme confusions.
"""

from seq2seq.analysis.runs import find_runs, flatten, read_curves, run_summary, varying_keys
from seq2seq.analysis.selection import replay_run
from seq2seq.analysis.sweeps import SweepRow, summarize_sweep, sweep_rows
from seq2seq.runs.job_status import read_status
from seq2seq.runs.run_dir import STATUS_FILE

__all__ = [
    "find_runs",
    "flatten",
    "read_curves",
    "replay_run",
    "run_summary",
    "varying_keys",
    "STATUS_FILE",
    "SweepRow",
    "read_status",
    "summarize_sweep",
    "sweep_rows",
]
