"""The offline demo of the cmems store: a Copernicus Marine cube from the emulator."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

__all__ = ["demo"]


def demo(say: Callable[[str], None]) -> None:
    """Start the emulator, point the store at it, list, describe and open two cubes."""
    from eostores import new_data_store

    from . import CmemsEmulator, find_dataset
    from .sampledata import expected_value

    data_id = "cmems_mod_glo_phy-thetao_anfc_1deg_P1D-m"
    with (
        tempfile.TemporaryDirectory(prefix="eostores-cmems-demo-") as cache,
        CmemsEmulator() as emu,
    ):
        say(f"Copernicus Marine emulator at {emu.url}")
        store = new_data_store("cmems", **emu.store_params(), cache_dir=cache)
        titles = dict(store.list_data_ids(include_attrs=["title"]))
        title = titles[data_id]["title"]
        say(f"{len(titles)} datasets in the STAC catalogue, e.g. {data_id}: {title}")
        descriptor = store.describe_data(data_id)
        say(
            f"described from the catalogue: variables {sorted(descriptor.data_vars)}, "
            f"time {descriptor.time_range} every {descriptor.time_period}, "
            f"depths {descriptor.attrs['depth_range']} m, grid {descriptor.spatial_res} deg"
        )
        started = time.monotonic()
        cube = store.open_data(
            data_id,
            variable_names=["thetao"],
            bbox=[-10.0, 35.0, 5.0, 45.0],
            time_range=["2023-07-01", "2023-07-10"],
            depth_range=[0.0, 50.0],
        )
        say(
            f"opened lazily in {time.monotonic() - started:.2f} s from the "
            f"{cube.attrs['cmems_service']} service: {dict(cube.sizes)}"
        )
        point = cube["thetao"].isel(time=3, depth=2, latitude=4, longitude=5)
        want = expected_value(
            find_dataset(data_id).variable("thetao"),
            point["time"].values,
            point["latitude"].values,
            point["longitude"].values,
            point["depth"].values,
        )
        say(f"value check: thetao = {float(point):.4f} (expected {float(want):.4f})")
        series = store.open_data(
            data_id,
            bbox=[-20.2, 30.2, -19.8, 30.8],
            time_range=["2023-01-15", "2023-12-31"],
            depth_range=[0, 1],
        )
        series.load()
        say(
            f"a year at one point came from the {series.attrs['cmems_service']} service in "
            f"{len(emu.data_requests())} object reads in all"
        )
