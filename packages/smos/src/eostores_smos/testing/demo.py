"""The offline demo: a SMOS soil moisture cube opened lazily from the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["demo"]


def demo(say: Callable[[str], None], workdir: Path | None = None) -> None:
    """Start the emulator, point the store at it, open and read a small soil moisture cube."""
    from datetime import datetime

    import numpy as np

    from eostores import new_data_store

    from . import SmosEmulator, expected_value

    data_dir = str(workdir / "smos-archive") if workdir is not None else None
    with SmosEmulator(data_dir=data_dir) as emulator:
        store = new_data_store("smos", **emulator.store_params())
        say(f"SMOS emulator at {emulator.url}; store {store.store_id!r} pointed at it")
        say(f"data ids: {store.list_data_ids()}")
        described = store.describe_data("SMOS-L2C-SM")
        say(
            f"SMOS-L2C-SM: {len(described.data_vars)} variables, time {described.time_range}, "
            f"level-0 pixels of {described.spatial_res} degrees"
        )
        cube = store.open_data(
            "SMOS-L2C-SM",
            variable_names=["Soil_Moisture"],
            bbox=[0.0, 40.0, 10.0, 50.0],
            time_range=["2023-04-01", "2023-04-01"],
            res_level=2,
        )
        say(
            f"opened lazily: {dict(cube.sizes)}, one time step per half-orbit product: "
            f"{[str(t)[:16] for t in cube.time.values]}"
        )
        values = cube.Soil_Moisture.compute()
        stats = store.reader.stats
        say(
            f"computed with {stats['requests']} range requests: {stats['bytes_fetched']} of the "
            f"{stats['file_bytes']} bytes of {stats['files_read']} product files"
        )
        step, row, col = np.argwhere(np.isfinite(values.values))[0]
        when = datetime.fromisoformat(str(cube.time.values[step])[:26])
        lat, lon = float(cube.lat[row]), float(cube.lon[col])
        expected = float(expected_value("MIR_SMUDP2", "Soil_Moisture", lat, lon, when))
        actual = float(values.values[step, row, col])
        say(
            f"value check at lat {lat:.3f}, lon {lon:.3f}: Soil_Moisture = {actual:.5f} "
            f"(expected {expected:.5f} within the nearest-grid-point tolerance)"
        )
        assert abs(actual - expected) < 5e-4
