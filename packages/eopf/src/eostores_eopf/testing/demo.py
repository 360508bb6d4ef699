"""The offline demo of the eopf-zarr store: a Sentinel-2 cube across two UTM zones."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["demo"]


def demo(say: Callable[[str], None]) -> None:
    """Start the emulator, list, describe, search, and open an S2 and an OLCI cube."""
    import numpy as np

    from eostores import new_data_store

    from .emulator import EopfEmulator
    from .scenes import olci_radiance, s2_reflectance

    with EopfEmulator() as emulator:
        emulator.prepare()  # write the sample products before any request waits for them
        say(f"EOPF sample service emulator at {emulator.url}")
        store = new_data_store("eopf-zarr", **emulator.store_params())
        say(f"collections the store cubes: {store.list_data_ids()}")
        descriptor = store.describe_data("sentinel-2-l2a")
        b05 = descriptor.data_vars["b05"].attrs
        say(
            f"sentinel-2-l2a described from its collection: {len(descriptor.data_vars)} "
            f"variables, b05 native at {b05['native_resolution']} m, {descriptor.time_range}"
        )
        items = list(store.search_data(collections=["sentinel-2-l2a"]))
        say(
            f"search: {len(items)} items, the latest processing version of each tile-day "
            "(an older version and a deprecated item left out)"
        )
        started = time.monotonic()
        cube = store.open_data(
            "sentinel-2-l2a",
            variables=["b04", "b08", "scl"],
            bbox=[11.975, 45.02, 12.03, 45.045],
            spatial_res=0.0002,
            time_range=["2025-06-01", "2025-06-07"],
        )
        say(
            f"S2 L2A cube across UTM zones 32N and 33N opened lazily in "
            f"{time.monotonic() - started:.2f} s: {dict(cube.sizes)}"
        )
        b04 = cube.b04.isel(time=0).values
        lon, lat = np.meshgrid(cube.lon.values, cube.lat.values)
        error = np.nanmax(np.abs(b04 - s2_reflectance(lon, lat, 0, "b04", "05.11")))
        say(f"b04 on day 1: {np.isfinite(b04).mean():.0%} filled, largest error {error:.5f}")
        olci = store.open_data(
            "sentinel-3-olci-l1-efr",
            variables="oa0[1-3]_radiance",
            bbox=[12.22, 45.22, 12.38, 45.38],
            spatial_res=0.004,
            time_range=["2025-06-01", "2025-06-05"],
        )
        values = olci.oa01_radiance.isel(time=0).values
        lon, lat = np.meshgrid(olci.lon.values, olci.lat.values)
        error = np.abs(values - olci_radiance(lon, lat, 0, "oa01_radiance")).max()
        say(
            f"OLCI swath rectified onto a lon/lat grid: {dict(olci.sizes)}, "
            f"{sorted(olci.data_vars)}, largest error {error:.3f}"
        )
