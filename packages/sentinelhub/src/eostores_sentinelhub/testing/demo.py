"""The offline demo: a Sentinel-2 cube opened lazily from the Sentinel Hub emulator."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["demo"]


def demo(say: Callable[[str], None]) -> None:
    """Start the emulator, point the store at it, open and read a small Sentinel-2 cube."""
    from datetime import datetime

    import numpy as np

    from eostores import new_data_store

    from . import SentinelHubEmulator, expected_values

    with SentinelHubEmulator() as emulator:
        store = new_data_store("sentinelhub", **emulator.store_params())
        say(f"Sentinel Hub emulator at {emulator.url}; store {store.store_id!r} pointed at it")
        say(f"data ids offered by the instance's catalog: {store.list_data_ids()}")
        described = store.describe_data("S2L2A")
        say(
            f"S2L2A from catalog metadata: {len(described.data_vars)} bands, "
            f"time {described.time_range}"
        )
        cube = store.open_data(
            "S2L2A",
            variable_names=["B04", "B08"],
            bbox=[10.0, 50.0, 10.05, 50.03],
            spatial_res=0.001,
            time_range=["2021-06-01", "2021-06-20"],
            time_period=None,
            tile_size=[25, 15],
        )
        say(
            f"opened lazily: {dict(cube.sizes)}, one time step per acquisition found in the "
            f"catalog: {[str(t)[:16] for t in cube.time.values]}"
        )
        step = cube.isel(time=0)
        first = ((step.B08 - step.B04) / (step.B08 + step.B04)).compute()
        requests = [r for r in emulator.request_log if r.path == "/api/v1/process"]
        say(
            f"computed NDVI of the first step ({first.shape[0]}x{first.shape[1]} pixels) with "
            f"{len(requests)} Process API requests (2 bands x 2x2 tiles), mean "
            f"{float(first.mean()):.3f}"
        )
        when = datetime.fromisoformat(str(cube.time.values[0])[:19])
        lon, lat = float(cube.lon[0]), float(cube.lat[0])
        expected = float(expected_values("B04", lon, lat, when, geographic=True))
        actual = float(cube.B04.isel(time=0, lon=0, lat=0))
        say(f"value check B04[0,0,0] = {actual:.5f} (expected {expected:.5f})")
        assert np.isclose(actual, expected, rtol=1e-6)
