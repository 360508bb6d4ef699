"""The offline demo of the clms store: a tiled CLMS product preloaded from the emulator."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["demo"]

_DATA_ID = "imperviousness-density-2018|IMD_2018_010m_eu_03035_v020"


def demo(say: Callable[[str], None], workdir: Path | None = None) -> None:
    """List and describe without credentials, preload 16 tiles, open, check, reuse."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="eostores-clms-demo-") as folder:
            demo(say, Path(folder))
        return
    from eostores import new_data_store

    from . import ClmsEmulator, expected_value

    with ClmsEmulator(queue_s=0.3, run_s=0.3) as emulator:
        say(f"CLMS emulator at {emulator.url}/api")
        params = emulator.store_params()
        anonymous = new_data_store(
            "clms", api_url=params["api_url"], cache_store_params={"root": str(workdir)}
        )
        ids = anonymous.list_data_ids()
        say(f"{len(ids)} data ids listed without credentials, e.g. {ids[0]!r}")
        descriptor = anonymous.describe_data(_DATA_ID)
        say(f"described from the catalogue: crs {descriptor.crs}, time {descriptor.time_range}")
        store = new_data_store(
            "clms", **params, cache_store_params={"root": str(workdir)}, poll_interval=0.1
        )
        started = time.monotonic()
        handle = store.preload_data(_DATA_ID, silent=True)
        handle.raise_for_failures()
        say(
            f"preloaded {_DATA_ID!r} in {time.monotonic() - started:.1f} s "
            f"(data request, queue, download, zip-in-zip, 16 tiles merged) as {handle.data_ids}"
        )
        cube = store.open_data(_DATA_ID, bbox=[4_150_000, 2_150_000, 4_250_000, 2_250_000])
        say(f"opened lazily across four tile seams: {dict(cube.sizes)}")
        values = cube.imperviousness.isel(time=0).values
        expected = expected_value("imperviousness", cube.x.values[None, :], cube.y.values[:, None])
        say(f"value check: largest deviation {abs(values - expected).max():.2e}")
        emulator.reset_log()
        store.preload_data(_DATA_ID, silent=True).raise_for_failures()
        say(f"preloaded again from the cache: {len(emulator.request_log)} requests")
