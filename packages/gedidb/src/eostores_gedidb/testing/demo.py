"""The offline demo of the gedidb store: GEDI shots from the emulator."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

__all__ = ["demo"]


def demo(say: Callable[[str], None]) -> None:
    """Start the emulator, point the store at it, describe, open by box and by point."""
    from eostores import new_data_store

    from . import GediEmulator, expected_value

    with (
        tempfile.TemporaryDirectory(prefix="eostores-gedidb-demo-") as cache,
        GediEmulator() as emu,
    ):
        params = emu.store_params()
        say(f"gedidb emulator: S3 at {params['endpoint_url']}, CMR at {params['cmr_url']}")
        store = new_data_store("gedidb", **params, cache_dir=cache)
        say(f"data ids: {store.list_data_ids()}")
        descriptor = store.describe_data("L4A")
        say(
            f"L4A described from the array's metadata and CMR: variables "
            f"{sorted(descriptor.data_vars)}, bbox {descriptor.bbox}, time {descriptor.time_range}"
        )
        started = time.monotonic()
        shots = store.open_data(
            "all",
            variable_names=["agbd", "rh"],
            bbox=[9.5, 45.5, 10.0, 46.0],
            time_range=["2020-01-01", "2022-12-31"],
            quality_filters={"quality_flag": "== 1"},
        )
        say(
            f"bbox query in {time.monotonic() - started:.2f} s: {dict(shots.sizes)}, "
            f"variables {sorted(shots.data_vars)}"
        )
        shot = shots.isel(shot_number=0)
        want = expected_value("agbd", shot.latitude.values, shot.longitude.values, shot.time.values)
        say(f"value check: agbd = {float(shot.agbd):.4f} (expected {float(want):.4f})")
        nearest = store.open_data(
            "L4C", point=[10.0, 46.0], num_shots=5, time_range=["2019-01-01", "2023-12-31"]
        )
        say(f"the 5 shots nearest to (10, 46): {nearest['shot_number'].values.tolist()}")
        frame = store.open_data(
            "L4A",
            data_type="geodataframe",
            bbox=[9.5, 45.5, 9.6, 45.6],
            time_range=["2019-01-01", "2023-12-31"],
        )
        say(f"as a GeoDataFrame: {len(frame)} points, columns {list(frame.columns)}")
