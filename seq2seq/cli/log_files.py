"""Writing a record into the job's log files only (Hydra's `<verb>.log` in the run directory,
e.g. `train.log`), not on the console, which has already shown it."""

import logging

log = logging.getLogger("seq2seq")


def error_to_log_files(exc: BaseException) -> None:
    """`error: <message>` and the traceback of `exc` into the job's log files, so a run's
    `train.log` records why it ended even when the console said it in one line."""
    exc_info = (type(exc), exc, exc.__traceback__)
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "error: %s", (exc,), exc_info)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
