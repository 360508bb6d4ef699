"""A terminal progress bar for dask computations (writes of opened data)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def dask_progress(description: str) -> Iterator[None]:
    """Show a tqdm bar over the dask tasks computed inside the block."""
    from dask.callbacks import Callback
    from tqdm.auto import tqdm

    class TqdmCallback(Callback):
        def _start_state(self, dsk, state):
            self._bar = tqdm(
                total=sum(len(state[k]) for k in ("ready", "waiting", "running", "finished")),
                desc=description,
                unit="task",
                leave=True,
            )

        def _posttask(self, key, result, dsk, state, worker_id):
            self._bar.update(1)

        def _finish(self, dsk, state, errored):
            self._bar.close()

    with TqdmCallback():
        yield
