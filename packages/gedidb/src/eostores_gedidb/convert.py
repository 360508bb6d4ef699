"""gedidb query results (columns of shots) as an xarray.Dataset or a GeoDataFrame.

A query gives one numpy array per TileDB attribute and dimension: ``latitude``,
``longitude``, ``time`` (days since 1970-01-01), ``shot_number``, the scalar variables and
``<variable>_1`` ... ``<variable>_N`` for profiles. The dataset has one ``shot_number``
dimension (its index), ``latitude``, ``longitude`` and ``time`` coordinates along it, and
each profile variable gets its own profile dimension (``percentile`` for ``rh``,
``height_m`` for ``cover_z``...) whose coordinate holds the labels, so that profiles of
different lengths live side by side. No query result gives the same layout with no shots.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .variables import VariableInfo

__all__ = ["shots_dataset", "shots_geodataframe"]

_EPOCH = np.datetime64("1970-01-01", "D")


def _shot_count(data: Mapping[str, np.ndarray] | None) -> int:
    return 0 if not data else len(data["shot_number"])


def _times(data: Mapping[str, np.ndarray] | None) -> np.ndarray:
    if not data:
        return np.empty(0, dtype="datetime64[ns]")
    return (_EPOCH + np.asarray(data["time"], dtype=np.int64)).astype("datetime64[ns]")


def _values(variable: VariableInfo, data: Mapping[str, np.ndarray] | None) -> np.ndarray:
    """The variable's values as (shots,) or (shots, profile points)."""
    dtype = np.dtype(variable.dtype)
    if variable.profile is None:
        if not data:
            return np.empty(0, dtype=dtype)
        return np.asarray(data[variable.name])
    width = len(variable.profile.attributes)
    if not data:
        return np.empty((0, width), dtype=dtype)
    return np.stack([data[name] for name in variable.profile.attributes], axis=-1)


def shots_dataset(
    data: Mapping[str, np.ndarray] | None,
    variables: Sequence[VariableInfo],
    *,
    chunk_size: int | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Any:
    """The shots as a Dataset whose variables are dask arrays of ``chunk_size`` shots
    (None: one chunk)."""
    import xarray as xr

    count = _shot_count(data)
    shots = data["shot_number"] if data else np.empty(0, dtype=np.uint64)
    coords: dict[str, Any] = {
        "shot_number": ("shot_number", np.asarray(shots, dtype=np.uint64)),
        "latitude": (
            "shot_number",
            np.asarray(data["latitude"] if data else [], dtype=np.float64),
            {"units": "degrees_north", "standard_name": "latitude"},
        ),
        "longitude": (
            "shot_number",
            np.asarray(data["longitude"] if data else [], dtype=np.float64),
            {"units": "degrees_east", "standard_name": "longitude"},
        ),
        "time": ("shot_number", _times(data), {"standard_name": "time"}),
    }
    data_vars: dict[str, Any] = {}
    rows = max(1, count if chunk_size is None else min(chunk_size, count))
    for variable in variables:
        values = _values(variable, data)
        if variable.profile is not None and variable.profile.dim not in coords:
            coords[variable.profile.dim] = (
                variable.profile.dim,
                np.asarray(variable.profile.labels, dtype=np.int64),
            )
        data_vars[variable.name] = (variable.dims, _chunked(values, rows), variable.attrs())
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=dict(attrs or {}))


def _chunked(values: np.ndarray, rows: int) -> Any:
    """A dask array over ``values`` in blocks of ``rows`` shots, without copying them
    (``dask.array.from_array`` copies its input; these arrays are ours alone)."""
    import dask.array as da

    name = f"gedidb-shots-{uuid.uuid4().hex}"
    count = values.shape[0]
    starts = range(0, count, rows) if count else range(1)
    tail = (0,) * (values.ndim - 1)
    graph = {(name, i, *tail): values[start : start + rows] for i, start in enumerate(starts)}
    sizes = tuple(min(rows, count - start) for start in starts) if count else (0,)
    chunks = (sizes, *((size,) for size in values.shape[1:]))
    return da.Array(graph, name, chunks, meta=values[:0])


def shots_geodataframe(
    data: Mapping[str, np.ndarray] | None, variables: Sequence[VariableInfo]
) -> Any:
    """The shots as points (EPSG:4326) with their shot number, day and variables; a
    profile gives one column per label, ``<variable>_p<label>``."""
    import geopandas as gpd
    import pandas as pd

    columns: dict[str, Any] = {
        "shot_number": np.asarray(data["shot_number"] if data else [], dtype=np.uint64),
        "time": _times(data),
    }
    for variable in variables:
        values = _values(variable, data)
        if variable.profile is None:
            columns[variable.name] = values
        else:
            for index, label in enumerate(variable.profile.labels):
                columns[f"{variable.name}_p{label}"] = values[:, index]
    lon = np.asarray(data["longitude"] if data else [], dtype=np.float64)
    lat = np.asarray(data["latitude"] if data else [], dtype=np.float64)
    frame = pd.DataFrame(columns)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
