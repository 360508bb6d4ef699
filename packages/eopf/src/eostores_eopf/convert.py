"""Rectified or mosaicked layers -> the normalised cube the store returns.

The conventions of the analysis mode are applied here: a ``spatial_ref`` coordinate with
the CF description of the CRS, ``grid_mapping`` on every variable, the variable's own
attributes (units, long names, flag values and meanings of classification layers),
classification layers in their integer type with 0 for no data. ``to_cube`` lays a
dataset out by the cube convention (``lat``/``lon`` names, ascending coordinates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["finish_cube", "mosaic_first", "spatial_coords", "to_cube", "with_dtype"]

_CUBE_NAMES = {"latitude": "lat", "longitude": "lon"}


def spatial_coords(
    crs: str, transform: Sequence[float], shape: tuple[int, int], geographic: bool
) -> dict[str, Any]:
    """Cell-centre coordinates (``lat``/``lon`` or ``y``/``x``) of a grid, top row first."""
    a, _, c, _, e, f = transform[:6]
    rows, cols = shape
    x = c + a * (np.arange(cols) + 0.5)
    y = f + e * (np.arange(rows) + 0.5)
    x_name, y_name = ("lon", "lat") if geographic else ("x", "y")
    return {
        y_name: (y_name, y, _axis_attrs(y_name, crs)),
        x_name: (x_name, x, _axis_attrs(x_name, crs)),
    }


def _axis_attrs(name: str, crs: str) -> dict[str, Any]:
    if name == "lon":
        return {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}
    if name == "lat":
        return {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}
    standard = "projection_x_coordinate" if name == "x" else "projection_y_coordinate"
    return {"standard_name": standard, "units": "m", "axis": name.upper()}


def mosaic_first(layers: Sequence[Any]) -> Any:
    """Per pixel the first layer's value that is not NaN (lazy for dask arrays)."""
    result = layers[0]
    for layer in layers[1:]:
        result = result.fillna(layer) if hasattr(result, "fillna") else _fill(result, layer)
    return result


def _fill(first: Any, second: Any) -> Any:
    import dask.array as da

    return da.where(da.isnan(first), second, first)


def with_dtype(array: Any, dtype: str) -> Any:
    """``array`` (float, NaN = no data) in ``dtype``; integer types get 0 for no data."""
    if np.dtype(dtype).kind == "f":
        return array.astype(dtype)
    return array.fillna(0).round().astype(dtype)


def finish_cube(
    dataset: xr.Dataset,
    *,
    crs: str,
    variable_attrs: Mapping[str, Mapping[str, Any]],
    dtypes: Mapping[str, str],
    attrs: Mapping[str, Any],
) -> xr.Dataset:
    """The cube with the conventions of the analysis mode (see the module docstring), rows
    from south to north."""
    import xarray as xr
    from pyproj import CRS

    crs_attrs = CRS.from_user_input(crs).to_cf()
    for name in ("lat", "y"):  # rows south to north, as every eostores cube
        values = dataset[name].values if name in dataset.dims else ()
        if len(values) > 1 and values[0] > values[-1]:
            dataset = dataset.isel({name: slice(None, None, -1)})
    dataset = dataset.drop_vars(
        [n for n in ("spatial_ref", "crs") if n in dataset.variables], errors="ignore"
    )
    dataset = dataset.assign_coords(spatial_ref=xr.DataArray(np.int32(0), attrs=crs_attrs))
    for name in list(dataset.data_vars):
        array = dataset[name]
        if name in dtypes and str(array.dtype) != dtypes[name]:
            array = with_dtype(array, dtypes[name])
        own = dict(variable_attrs.get(name, {}))
        own["grid_mapping"] = "spatial_ref"
        if np.dtype(array.dtype).kind in "iu":
            array.encoding["_FillValue"] = 0  # no data, as in the products
        array.attrs = own
        dataset[name] = array
    dataset.attrs = dict(attrs)
    return dataset


def to_cube(dataset: xr.Dataset) -> xr.Dataset:
    """``lat``/``lon`` names, ascending coordinates, dimensions ordered time, y, x."""
    dataset = dataset.rename({k: v for k, v in _CUBE_NAMES.items() if k in dataset.dims})
    for name in ("lat", "lon", "y", "x", "time"):
        if name in dataset.dims and dataset.sizes[name] > 1:
            values = dataset[name].values
            if values[0] > values[-1]:
                dataset = dataset.isel({name: slice(None, None, -1)})
    order = [d for d in ("time", "lat", "y", "lon", "x") if d in dataset.dims]
    order += [d for d in dataset.dims if d not in order]
    return dataset.transpose(*order)
