"""The offline demo: a sample cube in a file store, listed, described, searched, subset, written.

Store packages add their own part through the entry point group ``eostores.demos``: a
function ``demo(say)`` that runs its store against its emulator and reports through ``say``.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TextIO

DEMOS_GROUP = "eostores.demos"


def sample_cube(days: int = 10, resolution: float = 1.0) -> Any:
    """A global daily cube whose values are known functions of time, latitude and longitude.

    ``sst = 20 + lat / 10 + lon / 100 + day`` and ``chl = 0.1 * (day + 1)``.
    """
    import numpy as np
    import pandas as pd
    import xarray as xr

    lat = np.arange(-90 + resolution / 2, 90, resolution)
    lon = np.arange(-180 + resolution / 2, 180, resolution)
    time = pd.date_range("2024-01-01", periods=days, freq="D")
    day = np.arange(days, dtype="float32")[:, None, None]
    sst = 20 + lat[None, :, None] / 10 + lon[None, None, :] / 100 + day
    chl = np.broadcast_to(0.1 * (day + 1), sst.shape)
    return xr.Dataset(
        {
            "sst": (
                ("time", "lat", "lon"),
                sst.astype("float32"),
                {"units": "degC", "long_name": "sea surface temperature"},
            ),
            "chl": (
                ("time", "lat", "lon"),
                chl.astype("float32"),
                {"units": "mg m-3", "long_name": "chlorophyll-a concentration"},
            ),
        },
        coords={
            "time": time,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        attrs={"title": "eostores sample cube"},
    ).chunk({"time": 1, "lat": 90, "lon": 90})


def core_demo(say: Callable[[str], None], workdir: Path) -> None:
    from . import new_data_store

    store = new_data_store("file", root=str(workdir), max_depth=2)
    say(f"file store at {workdir}")
    data_id = store.write_data(sample_cube(), "sample/cube.zarr")
    say(f"wrote a 10-day global cube as {data_id!r}")
    say(f"data ids: {store.list_data_ids(include_attrs=['format'])}")

    described = store.describe_data(data_id)
    say(
        f"described {data_id!r} from metadata: dims {described.dims}, variables "
        f"{sorted(described.data_vars)}, bbox {described.bbox}, time {described.time_range}, "
        f"period {described.time_period}"
    )
    found = [
        d.data_id for d in store.search_data(bbox=[0, 40, 10, 50], time_range=["2024-01-03", None])
    ]
    say(f"search bbox=[0, 40, 10, 50], from 2024-01-03: {found}")

    subset = store.open_data(
        data_id,
        variable_names=["sst"],
        bbox=[0, 40, 10, 50],
        time_range=["2024-01-03", "2024-01-05"],
    )
    say(
        f"opened a subset lazily: {dict(subset.sizes)}, variables {list(subset.data_vars)}, "
        f"time {str(subset.time.values[0])[:10]} .. {str(subset.time.values[-1])[:10]}"
    )
    first = subset.sst.isel(time=0, lat=0, lon=0)
    expected = 20 + float(first.lat) / 10 + float(first.lon) / 100 + 2
    say(f"value check: sst[0,0,0] = {float(first):.4f} (expected {expected:.4f})")
    nc_id = store.write_data(subset, "sample/subset.nc")
    say(f"wrote the subset as NetCDF: {nc_id!r} ({(workdir / nc_id).stat().st_size} bytes)")
    reopened = store.open_data(nc_id)
    say(f"reopened {nc_id!r}: {dict(reopened.sizes)}")


def run_demo(out: TextIO | None = None, workdir: str | None = None) -> None:
    """Run the core demo, then the demo of every installed store package."""
    out = out or sys.stdout

    def say(text: str) -> None:
        print(f"  {text}", file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="eostores-demo-", dir=workdir) as tmp:
        print("eostores demo: filesystem store", file=out)
        core_demo(say, Path(tmp) / "file-store")
        for ep in sorted(entry_points(group=DEMOS_GROUP), key=lambda e: e.name):
            print(f"eostores demo: {ep.name}", file=out)
            ep.load()(say)
    print("demo finished", file=out)
