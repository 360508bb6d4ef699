"""The offline demo: a sample cube in a file store, listed, described, searched, subset, written.

Every part of the demo is an entry point of the group ``eostores.demos``, the core's
included: a function ``demo(say)`` that runs its store against local data or its emulator
and reports through ``say``; one that also takes ``workdir`` is given the demo's
temporary folder.
"""

from __future__ import annotations

import inspect
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO


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


def file_demo(say: Callable[[str], None], workdir: Path | None = None) -> None:
    """The file store: write, list, describe, search, subset, write NetCDF, reopen."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="eostores-demo-") as tmp:
            file_demo(say, Path(tmp))
        return
    from .registry import new_data_store

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


def run_demo(
    out: TextIO | None = None, workdir: str | None = None, names: Sequence[str] = ()
) -> None:
    """Run the demos ``names`` (default: of every installed store, entry points
    ``eostores.demos``)."""
    from .errors import InvalidParameterError
    from .registry import find_demo_extensions

    out = out or sys.stdout
    extensions = find_demo_extensions()
    unknown = sorted(set(names) - {e.name for e in extensions})
    if unknown:
        raise InvalidParameterError(
            f"no demo named {', '.join(unknown)}; installed: "
            + ", ".join(e.name for e in extensions),
            parameter="names",
        )
    extensions = [e for e in extensions if not names or e.name in names]

    def say(text: str) -> None:
        print(f"  {text}", file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="eostores-demo-", dir=workdir) as tmp:
        for extension in extensions:
            print(f"eostores demo: {extension.name}", file=out, flush=True)
            demo = extension.load()
            if "workdir" in inspect.signature(demo).parameters:
                folder = Path(tmp) / extension.name
                folder.mkdir()
                demo(say, workdir=folder)
            else:
                demo(say)
    print("demo finished", file=out)
