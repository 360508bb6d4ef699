"""The datasets of the emulated xcube server: a small cube as Zarr and as multi-level levels.

``sst = 10 + lat/10 + lon/100 + day`` and ``chl = 0.1 (day + 1)`` on a 0.1° lon/lat grid,
so that tests can check values after subsetting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["XCUBE_BBOX", "XCUBE_RES", "write_xcube_datasets", "xcube_demo_cube"]

XCUBE_BBOX = (0.0, 50.0, 3.0, 52.0)
XCUBE_RES = 0.1


def xcube_demo_cube() -> Any:
    """The xcube server's dataset ``demo``: ``sst = 10 + lat/10 + lon/100 + day``, ``chl``."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    x0, y0, x1, y1 = XCUBE_BBOX
    lon = np.round(np.arange(x0 + XCUBE_RES / 2, x1, XCUBE_RES), 6)
    lat = np.round(np.arange(y0 + XCUBE_RES / 2, y1, XCUBE_RES), 6)
    time_ = pd.date_range("2024-01-01", periods=5, freq="D")
    day = np.arange(len(time_), dtype="float32")[:, None, None]
    sst = 10 + lat[None, :, None] / 10 + lon[None, None, :] / 100 + day
    chl = np.broadcast_to(0.1 * (day + 1), sst.shape)
    return xr.Dataset(
        {
            "sst": (("time", "lat", "lon"), sst.astype("float32"), {"units": "degC"}),
            "chl": (("time", "lat", "lon"), chl.astype("float32"), {"units": "mg m-3"}),
        },
        coords={"time": time_, "lat": lat, "lon": lon},
        attrs={"title": "xcube server demo cube"},
    ).chunk({"time": 1, "lat": 10, "lon": 10})


def write_xcube_datasets(directory: Path) -> None:
    """Write ``datasets/demo.zarr`` and ``pyramids/demo.levels`` below ``directory`` once."""
    import warnings

    from eostores.fs import new_fs_data_store

    marker = Path(directory) / ".complete"
    if marker.exists():
        return
    cube = xcube_demo_cube()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for bucket, data_id, params in (
            ("datasets", "demo.zarr", {"zarr_format": 2}),
            ("pyramids", "demo.levels", {"num_levels": 2}),
        ):
            store = new_fs_data_store("file", root=str(Path(directory) / bucket))
            if not store.has_data(data_id):
                store.write_data(cube, data_id, replace=True, **params)
    marker.write_text("1")
