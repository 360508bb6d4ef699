"""The offline demo of the cds store: an ERA5 cube from the emulator."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

__all__ = ["demo"]


def demo(say: Callable[[str], None]) -> None:
    """Start the CDS emulator, point the store at it, list, describe, open and reopen."""
    from eostores import new_data_store

    from . import CdsEmulator, expected_value

    with tempfile.TemporaryDirectory(prefix="eostores-cds-demo-") as cache, CdsEmulator() as emu:
        say(f"CDS emulator at {emu.url}/api")
        store = new_data_store(
            "cds", **emu.store_params(), cache_dir=cache, poll_interval=0.05, poll_interval_max=0.2
        )
        ids = store.list_data_ids()
        say(f"{len(ids)} data ids from the catalogue, e.g. {ids[:3]}")
        descriptor = store.describe_data("reanalysis-era5-single-levels")
        say(
            f"described from the catalogue: {len(descriptor.data_vars)} variables, "
            f"time {descriptor.time_range}, grid {descriptor.spatial_res} deg"
        )
        params = dict(
            variable_names=["2m_temperature", "total_precipitation"],
            bbox=[5.0, 45.0, 10.0, 48.0],
            time_range=["2020-01-30", "2020-02-02"],
            time_period="6H",
        )
        started = time.monotonic()
        cube = store.open_data("reanalysis-era5-single-levels", **params)
        jobs = len(emu.submitted_jobs)
        say(
            f"opened an ERA5 cube in {time.monotonic() - started:.2f} s from {jobs} monthly "
            f"jobs: {dict(cube.sizes)}, variables {sorted(cube.data_vars)}"
        )
        point = cube["t2m"].isel(time=5, lat=2, lon=3)
        want = expected_value(250.0, point["lat"].values, point["lon"].values, point["time"].values)
        say(f"value check: t2m = {float(point):.3f} (expected {float(want):.3f})")
        started = time.monotonic()
        store.open_data("reanalysis-era5-single-levels", **params)
        say(
            f"reopened from the cache in {1000 * (time.monotonic() - started):.1f} ms, "
            f"{len(emu.submitted_jobs) - jobs} new jobs"
        )
