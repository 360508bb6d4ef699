"""Service files -> one normalised dataset: unpack, read, normalise, merge, subset.

The CDS answers with NetCDF (NetCDF-4, or classic NetCDF-3 for some datasets), a zip (or
tar) of NetCDF files, or GRIB; files are recognised by their first bytes. Every file is
normalised the same way before merging: ``valid_time`` (or an integer ``date``) becomes
``time``, ``latitude``/``longitude`` become ``lat``/``lon`` with latitudes ascending and
longitudes in the convention of the requested bounding box, time first among the
dimensions, CF attributes on the coordinates and, with ``normalize_names``, variable names
that are valid identifiers. The merged dataset is cut to the exact box and time range.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eostores.errors import DataStoreError

__all__ = [
    "empty_cube",
    "finish_attrs",
    "is_unpacked",
    "merge_pieces",
    "normalise",
    "open_result",
    "read_piece",
    "subset",
    "unpack_piece",
    "write_result",
]

_RENAMES = {"valid_time": "time", "latitude": "lat", "longitude": "lon"}
_MAGIC = {b"CDF": "netcdf3", b"\x89HD": "netcdf4", b"PK\x03": "zip", b"GRI": "grib"}
_READABLE = ("netcdf3", "netcdf4", "grib")


def _kind(path: Path) -> str:
    with open(path, "rb") as file:
        head = file.read(4)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[:2] == b"\x1f\x8b":
        return "tar"
    return "unknown"


def _unpacked_folder(path: Path) -> Path:
    return path.with_name(path.name + ".d")


def is_unpacked(path: Path) -> bool:
    """Whether a downloaded file is ready to read (an archive: extracted next to it)."""
    return _kind(path) not in ("zip", "tar") or _unpacked_folder(path).is_dir()


def unpack_piece(path: Path) -> None:
    """Extract an archive next to it (``<name>.d/``); the caller holds the piece's lock.

    The core's extraction refuses members that would leave the folder and moves the
    finished tree into place in one rename.
    """
    if not is_unpacked(path):
        from eostores.cache import extract_archive

        extract_archive(path, _unpacked_folder(path))


def read_piece(path: Path, *, store_id: str, data_id: str) -> list[Any]:
    """The datasets in one downloaded (and unpacked) file."""
    kind = _kind(path)
    if kind in ("zip", "tar"):
        folder = _unpacked_folder(path)
        members = sorted(p for p in folder.rglob("*") if p.is_file() and _kind(p) in _READABLE)
        if not members:
            raise DataStoreError(
                f"the archive {path.name} holds no NetCDF or GRIB file",
                store_id=store_id,
                data_id=data_id,
            )
        return [ds for member in members for ds in _open_file(member, store_id, data_id)]
    return _open_file(path, store_id, data_id)


def _open_file(path: Path, store_id: str, data_id: str) -> list[Any]:
    import xarray as xr

    kind = _kind(path)
    try:
        if kind == "netcdf4":
            return [xr.open_dataset(path, engine="h5netcdf", chunks={})]
        if kind == "netcdf3":
            return [xr.open_dataset(path, engine=_netcdf3_engine(), chunks={})]
        if kind == "grib":
            try:
                import cfgrib  # noqa: F401
            except ImportError:
                raise DataStoreError(
                    f"{path.name} is GRIB; install cfgrib to read it",
                    store_id=store_id,
                    data_id=data_id,
                ) from None
            return list(xr.open_datasets(path, engine="cfgrib"))  # type: ignore[attr-defined]
    except (OSError, ValueError) as error:
        raise DataStoreError(
            f"cannot read {path.name}: {type(error).__name__}: {error}",
            store_id=store_id,
            data_id=data_id,
        ) from None
    raise DataStoreError(
        f"{path.name} is neither NetCDF, GRIB nor an archive of them",
        store_id=store_id,
        data_id=data_id,
    )


def _netcdf3_engine() -> str:
    """The xarray engine for classic NetCDF (NetCDF-3): netCDF4 where installed (it also
    reads the CDF-5 variant), else scipy."""
    import importlib.util

    return "netcdf4" if importlib.util.find_spec("netCDF4") is not None else "scipy"


def normalise(ds: Any, bbox: Sequence[float], *, normalize_names: bool) -> Any:
    """Names, orientation, longitude convention and CF attributes of one dataset."""
    import numpy as np
    import pandas as pd

    renames = {name: new for name, new in _RENAMES.items() if name in ds.variables}
    if "time" in renames.values() and "time" in ds.variables:
        ds = ds.drop_vars("time")
    ds = ds.rename(renames)
    if "time" not in ds.dims and "date" in ds.dims:
        dates = pd.to_datetime(ds["date"].values.astype(str), format="%Y%m%d")
        ds = ds.assign_coords(date=dates).rename(date="time")
    if "lat" in ds.dims and ds.sizes["lat"] > 1 and float(ds["lat"][0]) > float(ds["lat"][-1]):
        ds = ds.isel(lat=slice(None, None, -1))
    if "lon" in ds.dims:
        xmin = float(bbox[0])
        lon = ds["lon"].values.astype("float64")
        wrapped = np.round(np.mod(lon - xmin, 360.0) + xmin, 9)
        if not np.array_equal(wrapped, lon):
            ds = ds.assign_coords(lon=("lon", wrapped, ds["lon"].attrs))
        order = np.argsort(ds["lon"].values, kind="stable")
        if not np.array_equal(order, np.arange(order.size)):
            ds = ds.isel(lon=order)
        _, first = np.unique(ds["lon"].values, return_index=True)
        if first.size != ds.sizes["lon"]:
            ds = ds.isel(lon=np.sort(first))
    if "time" in ds.dims:
        ds = ds.transpose("time", ...)
    if normalize_names:
        ds = ds.rename(
            {name: _identifier(name) for name in ds.data_vars if _identifier(name) != name}
        )
    return ds


def _identifier(name: str) -> str:
    text = re.sub(r"\W", "_", str(name))
    return f"_{text}" if text[:1].isdigit() else text


def merge_pieces(datasets: Sequence[Any]) -> Any:
    """One dataset from normalised pieces (variables merged, time steps concatenated)."""
    import xarray as xr

    if len(datasets) == 1:
        return datasets[0]
    return xr.combine_by_coords(
        list(datasets),
        data_vars="all",
        coords="different",
        compat="no_conflicts",
        join="outer",
        combine_attrs="drop_conflicts",
    )


def subset(ds: Any, bbox: Sequence[float], time_slice: slice) -> Any:
    """The exact box (edges included) and time range."""
    xmin, ymin, xmax, ymax = (float(v) for v in bbox)
    eps = 1e-9
    selection: dict[str, Any] = {}
    if "time" in ds.dims:
        selection["time"] = time_slice
    if "lat" in ds.dims:
        selection["lat"] = slice(ymin - eps, ymax + eps)
    if "lon" in ds.dims:
        selection["lon"] = slice(xmin - eps, xmax + eps)
    return ds.sel(selection)


def finish_attrs(ds: Any, *, data_id: str, dataset_title: str, request_key: str) -> Any:
    """CF attributes of coordinates and provenance of the whole dataset."""
    coordinate_attrs = {
        "lat": {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north"},
        "lon": {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east"},
        "time": {"standard_name": "time", "long_name": "time", "axis": "T"},
    }
    for name, attrs in coordinate_attrs.items():
        if name in ds.variables:
            merged = dict(ds[name].attrs)
            merged.pop("stored_direction", None)
            merged.update(attrs)
            ds[name].attrs = merged
    if "lat" in ds.variables:
        ds["lat"].attrs["axis"] = "Y"
    if "lon" in ds.variables:
        ds["lon"].attrs["axis"] = "X"
    attrs = {k: v for k, v in ds.attrs.items() if not k.startswith("GRIB_") and k != "history"}
    attrs.update(
        {
            "Conventions": "CF-1.8",
            "title": dataset_title,
            "source": "Copernicus Climate Data Store",
            "cds_data_id": data_id,
            "cds_request_hash": request_key,
            "history": f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} opened by eostores-cds",
        }
    )
    ds.attrs = attrs
    return ds


def write_result(ds: Any, path: Path) -> None:
    """Write ``ds`` as NetCDF atomically: to a hidden file of its own, renamed into place."""
    import tempfile

    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    part = Path(name)
    encoding: dict[str, dict[str, Any]] = {}
    for name, variable in ds.data_vars.items():
        shape = variable.shape
        chunks = list(shape)
        if variable.dims and variable.dims[0] == "time" and shape and shape[0] > 0:
            per_step = max(1, int(np.prod(shape[1:])) * variable.dtype.itemsize)
            chunks[0] = max(1, min(shape[0], (8 << 20) // per_step))
        entry: dict[str, Any] = {}
        if all(size > 0 for size in chunks) and chunks:
            entry["chunksizes"] = tuple(chunks)
        encoding[name] = entry
        variable.encoding = {}
    for name in ds.coords:
        ds[name].encoding = {}
    try:
        ds.to_netcdf(part, engine="h5netcdf", encoding=encoding)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def open_result(path: Path) -> Any:
    """A lazily loaded (dask-backed) dataset from a result file."""
    import xarray as xr

    return xr.open_dataset(path, engine="h5netcdf", chunks={})


def empty_cube(
    stamps: Sequence[dt.datetime],
    bbox: Sequence[float],
    resolution: float | None,
    origin: float,
    *,
    attrs: dict[str, Any],
) -> Any:
    """A dataset without variables, with the time, lat and lon a request would yield.

    Without a ``resolution`` (a native grid the catalogue does not state) it has time only.
    """
    import numpy as np
    import xarray as xr

    times = ("time", np.array(stamps, dtype="datetime64[ns]"))
    if resolution is None:
        return xr.Dataset(coords={"time": times}, attrs=dict(attrs))
    step = float(resolution)
    xmin, ymin, xmax, ymax = (float(v) for v in bbox)

    def axis(low: float, high: float, wrap: bool) -> Any:
        first = np.ceil((low - origin * step) / step - 1e-9)
        last = np.floor((high - origin * step) / step + 1e-9)
        values = np.round((np.arange(first, last + 1) + origin) * step, 9)
        if wrap and values.size and values[-1] - values[0] >= 360 - 1e-9:
            values = values[:-1]
        return values

    return xr.Dataset(
        coords={
            "time": times,
            "lat": ("lat", axis(ymin, ymax, False)),
            "lon": ("lon", axis(xmin, xmax, True)),
        },
        attrs=dict(attrs),
    )
