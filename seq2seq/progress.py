"""A progress bar on stderr for the verbs' long loops (decoding a corpus, `prepare`'s stages)."""

import sys

from tqdm import tqdm


def progress_bar(total: int, desc: str, unit: str, enabled: bool) -> tqdm:
    """A tqdm bar on stderr with rate and ETA; shown only if `enabled` and stderr is a
    terminal (tqdm's `disable=None`), so logs and pipes stay clean."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=None if enabled else True,
        dynamic_ncols=True,
        leave=False,
    )
