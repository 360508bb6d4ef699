"""The offline demo of the CCI stores: one dataset from each of them, against the emulators."""

from __future__ import annotations

import importlib.util
import tempfile
import time
from collections.abc import Callable

__all__ = ["demo"]


def demo(say: Callable[[str], None]) -> None:
    """List, describe and open a dataset with ``cciodp``, ``esa-cci-kc`` and ``ccizarr``."""
    import numpy as np

    from eostores import new_data_store

    from . import DATASETS, ZARR_DATA_IDS, CciEmulator, ZarrBucket, expected_value

    cloud = DATASETS[2]
    with tempfile.TemporaryDirectory(prefix="eostores-cci-demo-") as cache, CciEmulator() as emu:
        say(f"CCI Open Data Portal emulator at {emu.url}")
        store = new_data_store("cciodp", **emu.store_params(), cache_dir=cache)
        ids = store.list_data_ids()
        say(f"cciodp: {len(ids)} data ids from the OpenSearch description, e.g. {ids[0]}")
        descriptor = store.describe_data(cloud.drs_id)
        say(
            f"described {cloud.drs_id}: variables {sorted(descriptor.data_vars)}, "
            f"time {descriptor.time_range}, {descriptor.dims}"
        )
        started = time.monotonic()
        cube = store.open_data(
            cloud.drs_id, bbox=[-10.0, 50.0, 0.0, 60.0], time_range=["2000-02-01", "2000-04-30"]
        )
        say(f"opened lazily in {time.monotonic() - started:.2f} s: {dict(cube.sizes)}")
        emu.reset_log()
        values = cube["ctt"].values
        requests = sum(1 for r in emu.request_log if r.path.endswith(".dods"))
        expected = expected_value(
            cloud, "ctt", cube.time.values[:, None, None], cube.lat.values[:, None], cube.lon.values
        )
        say(
            f"read ctt with {requests} OPeNDAP hyperslab requests; largest difference from the "
            f"emulated values: {float(np.nanmax(np.abs(values - expected))):.2g}"
        )

        name, url = next(iter(emu.reference_urls().items()))
        kc = new_data_store("esa-cci-kc", refs=[url])
        refs_cube = kc.open_data(name, bbox=[0.0, 0.0, 10.0, 10.0])
        sst = DATASETS[0]
        point = refs_cube["analysed_sst"].isel(time=3, lat=2, lon=4)
        want = expected_value(
            sst, "analysed_sst", point.time.values, point.lat.values, point.lon.values
        )
        say(
            f"esa-cci-kc: {name}: {dict(refs_cube.sizes)}; analysed_sst = {float(point):.3f} "
            f"(expected {float(want):.3f})"
        )

    if importlib.util.find_spec("moto") is None:
        say("ccizarr: skipped (the S3 emulator needs moto[server]: pip install eostores-cci[test])")
        return
    with ZarrBucket() as bucket:
        store = new_data_store("ccizarr", **bucket.store_params())
        data_id = next(iter(ZARR_DATA_IDS))
        say(f"ccizarr: {store.list_data_ids()} from data_ids.json in the bucket")
        zarr_cube = store.open_data(data_id, bbox=[0.0, 0.0, 10.0, 10.0])
        point = zarr_cube["analysed_sst"].isel(time=1, lat=0, lon=0)
        want = expected_value(
            sst, "analysed_sst", point.time.values, point.lat.values, point.lon.values
        )
        say(f"opened {data_id}: analysed_sst = {float(point):.3f} (expected {float(want):.3f})")
