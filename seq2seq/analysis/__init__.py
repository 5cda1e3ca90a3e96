"""Reading runs and sweeps for analysis (plain Python, no TensorFlow import).

- `runs`: one run's curves (metrics.jsonl), summary row (run_config.yaml + metrics.json).
- `sweeps`: a multirun's jobs, their status.json, and the sweep table (summary.csv/.md).
"""

from seq2seq.analysis.runs import find_runs, flatten, read_curves, run_summary, varying_keys
from seq2seq.analysis.sweeps import (
    STATUS_FILE,
    SweepRow,
    read_status,
    summarize_sweep,
    sweep_rows,
    write_status,
)

__all__ = [
    "find_runs",
    "flatten",
    "read_curves",
    "run_summary",
    "varying_keys",
    "STATUS_FILE",
    "SweepRow",
    "read_status",
    "summarize_sweep",
    "sweep_rows",
    "write_status",
]
