"""Turning published files into what the store delivers.

* CSV tables with coordinate columns become GeoDataFrames of points.
* NetCDF and GeoTIFF files in the cache store become Zarr (``target_format="zarr"``):
  NetCDF files of one folder that combine by their coordinates (e.g. consecutive time
  steps) become one Zarr named after the folder; any other file becomes one Zarr of its
  own, named after it.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from eostores.errors import DataStoreError, InvalidParameterError

from .config import format_of

__all__ = ["convert_to_zarr", "csv_to_geodataframe", "zarr_conversion_plan"]

_X_COLUMNS = ("lon", "longitude", "x", "lng", "long")
_Y_COLUMNS = ("lat", "latitude", "y")
_CONVERTIBLE = ("netcdf", "geotiff")


# --------------------------------------------------------------------------- CSV


def _find_column(
    columns: Iterable[str], wanted: str | None, names: tuple[str, ...], parameter: str, key: str
) -> str:
    columns = list(columns)
    if wanted is not None:
        if wanted not in columns:
            raise InvalidParameterError(
                f"no column {wanted!r} in {key!r}; columns: {', '.join(columns)}",
                parameter=parameter,
                data_id=key,
            )
        return wanted
    by_lower = {column.lower(): column for column in columns}
    for name in names:
        if name in by_lower:
            return by_lower[name]
    raise InvalidParameterError(
        f"{key!r} has no coordinate column among {', '.join(names)}; name it with "
        f"{parameter} (columns: {', '.join(columns)})",
        parameter=parameter,
        data_id=key,
    )


def csv_to_geodataframe(data: bytes, params: Mapping[str, Any], key: str) -> Any:
    """Points from a CSV table's coordinate columns, with ``columns``, ``bbox``, ``crs``."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from eostores.schema import parse_bbox

    try:
        table = pd.read_csv(io.BytesIO(data))
    except (ValueError, pd.errors.ParserError) as error:
        raise DataStoreError(f"cannot read {key!r} as CSV: {error}", data_id=key) from None
    x = _find_column(table.columns, params.get("x_column"), _X_COLUMNS, "x_column", key)
    y = _find_column(table.columns, params.get("y_column"), _Y_COLUMNS, "y_column", key)
    columns = params.get("columns")
    if columns is not None:
        unknown = [column for column in columns if column not in table.columns]
        if unknown:
            raise InvalidParameterError(
                f"unknown column(s) {', '.join(map(repr, unknown))}; allowed: "
                f"{', '.join(map(str, table.columns))}",
                parameter="columns",
                data_id=key,
            )
    geometry = gpd.points_from_xy(table[x], table[y])
    frame = gpd.GeoDataFrame(
        table if columns is None else table[list(columns)],
        geometry=geometry,
        crs=params.get("source_crs") or "EPSG:4326",
    )
    if params.get("crs"):
        try:
            frame = frame.to_crs(params["crs"])
        except Exception as error:  # pyproj raises its own CRSError
            raise InvalidParameterError(
                f"crs {params['crs']!r} cannot be used: {error}", parameter="crs", data_id=key
            ) from None
    if params.get("bbox") is not None:
        box = shapely.box(*parse_bbox(params["bbox"], geographic=False))
        frame = frame[frame.intersects(box)]
    return frame


# --------------------------------------------------------------------------- Zarr


def _kind(data_id: str) -> str | None:
    """``"netcdf"`` or ``"geotiff"`` for the files that convert to Zarr, else None."""
    fmt = format_of(data_id)
    return fmt.format_id if fmt is not None and fmt.format_id in _CONVERTIBLE else None


def _zarr_id(data_id: str) -> str:
    stem, _ = posixpath.splitext(data_id)
    return stem + ".zarr"


def zarr_conversion_plan(data_ids: Iterable[str]) -> dict[str, list[str]]:
    """Which source ids go into which new Zarr id (sources of one folder may combine)."""
    by_folder: dict[tuple[str, str], list[str]] = {}
    for data_id in data_ids:
        kind = _kind(data_id)
        if kind is not None:
            by_folder.setdefault((posixpath.dirname(data_id), kind), []).append(data_id)
    plan: dict[str, list[str]] = {}
    for (folder, kind), members in by_folder.items():
        if kind == "netcdf" and len(members) > 1 and folder:
            plan[folder + ".zarr"] = sorted(members)
        else:
            for member in members:
                plan[_zarr_id(member)] = [member]
    return plan


def _regular_chunks(dataset: Any) -> Any:
    """Rechunk dimensions whose dask chunks are uneven, which Zarr cannot store."""
    uneven = {}
    for name, sizes in dataset.chunks.items():
        if len(set(sizes[:-1])) > 1 or (len(sizes) > 1 and sizes[-1] > sizes[0]):
            uneven[name] = max(sizes)
    return dataset.chunk(uneven) if uneven else dataset


def convert_to_zarr(
    cache_store: Any,
    data_ids: list[str],
    *,
    remove_sources: bool,
    report: Callable[[str], None] = lambda message: None,
) -> list[str]:
    """Convert the NetCDF/GeoTIFF ids among ``data_ids`` to Zarr in ``cache_store``.

    Returns ``data_ids`` with the converted sources replaced by the new Zarr ids.
    """
    import xarray as xr

    plan = zarr_conversion_plan(data_ids)
    produced: dict[str, str] = {}
    for target, sources in plan.items():
        report(f"converting {len(sources)} file(s) to {target}")
        datasets = [cache_store.open_data(source) for source in sources]
        groups: list[tuple[str, list[str], Any]] = []
        if len(datasets) > 1:
            try:
                groups = [
                    (target, sources, xr.combine_by_coords(datasets, combine_attrs="override"))
                ]
            except (ValueError, TypeError, KeyError):
                groups = [(_zarr_id(s), [s], d) for s, d in zip(sources, datasets, strict=True)]
        else:
            groups = [(target, sources, datasets[0])]
        for zarr_id, members, dataset in groups:
            cache_store.write_data(_regular_chunks(dataset), zarr_id, replace=True)
            for member in members:
                produced[member] = zarr_id
        for dataset in datasets:
            dataset.close()
        if remove_sources:
            for source in sources:
                cache_store.delete_data(source)
    result = [produced.get(data_id, data_id) for data_id in data_ids]
    return list(dict.fromkeys(result))
