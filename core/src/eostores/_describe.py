"""The fields of descriptors, read from lazily opened data: metadata and 1-D coordinates only.

The functions return plain dicts of descriptor fields; :mod:`eostores.descriptor` builds
the descriptors from them.
"""

from __future__ import annotations

import math
from typing import Any

_X_NAMES = ("lon", "longitude", "x")
_Y_NAMES = ("lat", "latitude", "y")
_TIME_NAMES = ("time", "t", "valid_time")


def variable_fields(name: Any, variable: Any) -> dict[str, Any]:
    """The fields of the VariableDescriptor of an xarray variable."""
    chunks = None
    if variable.chunks:
        chunks = tuple(c[0] for c in variable.chunks)
    else:
        preferred = variable.encoding.get("preferred_chunks") or {}
        if preferred and all(d in preferred for d in variable.dims):
            chunks = tuple(preferred[d] for d in variable.dims)
        elif variable.encoding.get("chunks"):
            chunks = tuple(variable.encoding["chunks"])
    return dict(
        name=str(name),
        dtype=str(variable.dtype),
        dims=variable.dims,
        chunks=chunks,
        attrs=dict(variable.attrs),
    )


def _find_coord(dataset: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        if name in dataset.coords and dataset.coords[name].ndim == 1:
            return dataset.coords[name]
    return None


def _edges(coord: Any) -> tuple[float, float, float | None]:
    values = coord.values
    if values.size == 0:
        raise ValueError("empty coordinate")
    lo, hi = float(values.min()), float(values.max())
    if values.size < 2:
        return lo, hi, None
    res = abs(float(values[1]) - float(values[0]))
    return lo - res / 2, hi + res / 2, res


def _crs_of(dataset: Any, x_name: str | None) -> str | None:
    for var in dataset.variables.values():
        wkt = var.attrs.get("crs_wkt") or var.attrs.get("spatial_ref")
        if wkt:
            try:
                import pyproj

                return crs_code(pyproj.CRS.from_user_input(wkt))
            except Exception:
                return None
    if x_name in ("lon", "longitude"):
        return "EPSG:4326"
    return None


def infer_time_period(times: Any) -> str | None:
    """The regular period of a time coordinate as ``<n><unit>``, or None when irregular."""
    import numpy as np
    import pandas as pd

    if len(times) < 2:
        return None
    index = pd.DatetimeIndex(times)
    months = index.year * 12 + index.month - 1
    steps = np.unique(np.diff(months))
    if steps.size == 1 and steps[0] > 0 and (index.day == index.day[0]).all():
        step = int(steps[0])
        return f"{step // 12}Y" if step % 12 == 0 else f"{step}M"
    deltas = np.unique(np.diff(index.values).astype("timedelta64[s]").astype(np.int64))
    if deltas.size == 1 and deltas[0] > 0:
        seconds = int(deltas[0])
        for unit, size in (("W", 604800), ("D", 86400), ("H", 3600)):
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
    return None


def dataset_fields(dataset: Any) -> dict[str, Any]:
    """The fields of the DatasetDescriptor of a dataset (variables as field dicts too)."""
    x = _find_coord(dataset, _X_NAMES)
    y = _find_coord(dataset, _Y_NAMES)
    bbox = spatial_res = None
    if x is not None and y is not None and x.size and y.size:
        x0, x1, xres = _edges(x)
        y0, y1, yres = _edges(y)
        bbox = (x0, y0, x1, y1)
        spatial_res = xres if xres is not None else yres
    elif x is None or y is None:
        bbox = _bbox_from_attrs(dataset.attrs)
    time_range = time_period = None
    t = _find_coord(dataset, _TIME_NAMES)
    if t is not None and t.size and t.dtype.kind == "M":
        time_range = _time_range_from_bounds(dataset, t) or _time_range_of(t.values)
        time_period = infer_time_period(t.values)
    elif t is None:
        time_range = _time_range_from_attrs(dataset.attrs)
    return dict(
        crs=_crs_of(dataset, x.name if x is not None else None),
        bbox=bbox,
        time_range=time_range,
        time_period=time_period,
        spatial_res=spatial_res,
        dims={str(k): int(v) for k, v in dataset.sizes.items()},
        coords={str(k): variable_fields(k, v) for k, v in dataset.coords.items()},
        data_vars={str(k): variable_fields(k, v) for k, v in dataset.data_vars.items()},
        attrs=dict(dataset.attrs),
    )


_GEOSPATIAL_ATTRS = (
    "geospatial_lon_min",
    "geospatial_lat_min",
    "geospatial_lon_max",
    "geospatial_lat_max",
)


def _bbox_from_attrs(attrs: Any) -> tuple[float, float, float, float] | None:
    """The bbox of the ACDD ``geospatial_lon/lat_min/max`` attributes, if all are numbers."""
    try:
        values = tuple(float(attrs[name]) for name in _GEOSPATIAL_ATTRS)
    except (KeyError, TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None  # type: ignore[return-value]


def _time_range_of(values: Any) -> tuple[str, str] | None:
    import pandas as pd

    times = pd.DatetimeIndex(values).dropna()
    if not len(times):
        return None
    return _iso(times.min()), _iso(times.max())


def _time_range_from_bounds(dataset: Any, time: Any) -> tuple[str, str] | None:
    """The range the time cells cover, from the CF bounds variable of the time coordinate."""
    names = [time.attrs.get("bounds"), f"{time.name}_bnds", f"{time.name}_bounds"]
    for name in names:
        if not name or name not in dataset.variables:
            continue
        bounds = dataset.variables[name]
        if bounds.ndim == 2 and bounds.dims[0] == time.dims[0] and bounds.dtype.kind == "M":
            return _time_range_of(bounds.values.ravel())
    return None


def _time_range_from_attrs(attrs: Any) -> tuple[str, str] | None:
    """The range of the ACDD ``time_coverage_start/end`` attributes, if both parse."""
    import pandas as pd

    try:
        start, end = (
            pd.Timestamp(attrs[name]) for name in ("time_coverage_start", "time_coverage_end")
        )
    except (KeyError, TypeError, ValueError):
        return None
    if start is pd.NaT or end is pd.NaT:
        return None
    if start.tzinfo is not None:
        start = start.tz_convert("UTC").tz_localize(None)
    if end.tzinfo is not None:
        end = end.tz_convert("UTC").tz_localize(None)
    return _iso(start), _iso(end)


def _iso(timestamp: Any) -> str:
    if timestamp.hour == timestamp.minute == timestamp.second == 0 and not timestamp.microsecond:
        return timestamp.strftime("%Y-%m-%d")
    return timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def crs_code(crs: Any) -> str:
    """``AUTHORITY:CODE`` of a pyproj CRS where it has one, else its string form."""
    code = crs.to_authority()
    return f"{code[0]}:{code[1]}" if code else crs.to_string()


def feature_property_schema(kind: str) -> Any:
    """The nullable schema of a feature property whose numpy dtype is of ``kind``."""
    from .schema import JsonBooleanSchema, JsonIntegerSchema, JsonNumberSchema, JsonStringSchema

    schema_class = {
        "b": JsonBooleanSchema,
        "i": JsonIntegerSchema,
        "u": JsonIntegerSchema,
        "f": JsonNumberSchema,
    }.get(kind, JsonStringSchema)
    return schema_class(nullable=True)


def geodataframe_fields(gdf: Any) -> dict[str, Any]:
    """The fields of the GeoDataFrameDescriptor of a GeoDataFrame."""
    from .schema import JsonObjectSchema

    properties = {
        str(name): feature_property_schema(getattr(dtype, "kind", "O"))
        for name, dtype in gdf.dtypes.items()
        if name != gdf.geometry.name
    }
    bbox = tuple(float(v) for v in gdf.total_bounds) if len(gdf) else None
    return dict(
        crs=crs_code(gdf.crs) if gdf.crs is not None else None,
        bbox=bbox,
        num_features=len(gdf),
        feature_schema=JsonObjectSchema(properties=properties),
    )
