"""Stack mode: the items of a collection -> one analysis-ready (time, y, x) cube.

odc-stac (with odc-geo) plans the cube: it bins items into output chunks and builds a dask
graph whose size grows with the number of output chunks, not with items x assets x chunks.
Pixels are read by :class:`~eostores_stac.reader.AssetReaderDriver` through the catalog's
asset access. Items spanning several UTM zones are reprojected onto the requested grid and
mosaicked per time step (first valid pixel in time order, or the median).

The flow: parameters are checked and the output grid bounded before any request; the
catalog gives the collection's variables and the matching item records; assets without
projection metadata get their grids from their headers; odc-stac sees one small STAC item
per record, built from the record.
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import InvalidParameterError
from eostores.schema import parse_bbox, parse_time_period, parse_time_range, resolve_variable_names

from . import schema
from .assets import asset_error, read_grid
from .catalog import StacCatalog
from .config import DEFAULT_CUBE_TILE
from .convert import axis_attrs, cube_attrs, transform_bbox
from .reader import AssetReaderDriver
from .records import Asset, Grid, Item, parse_time

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["check_cube_size", "open_cube", "validate_stack_params"]

_ODC_MEDIA_TYPES = {"zarr": "application/x-zarr", "netcdf": "application/x-netcdf"}
_EXT_PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
_EXT_RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
_EPOCH = datetime(1970, 1, 1)


# --------------------------------------------------------------------------- parameters


def validate_stack_params(
    open_params: Mapping[str, Any], *, store_id: str, data_id: str
) -> dict[str, Any]:
    """The checked and parsed open parameters, without any request.

    Whether the required bbox and time_range are there is checked by :func:`open_cube`
    after the collection, so that an unknown collection is reported as such.
    """
    context = dict(store_id=store_id, data_id=data_id)
    schema.check_narrow_search(open_params, store_id, data_id)
    relaxed = schema.stack_open_params_schema(store_id=store_id)
    relaxed.required = []
    params = relaxed.validate_params(open_params, **context)
    parsed: dict[str, Any] = dict(params)
    crs = params.get("crs") or "EPSG:4326"
    parsed["crs"] = crs
    geographic = schema.crs_is_geographic(crs, **context)
    try:
        if params.get("bbox") is not None:
            parsed["bbox"] = parse_bbox(params["bbox"], geographic=geographic)
        if params.get("time_range") is not None:
            parsed["time_range"] = parse_time_range(params["time_range"])
        if params.get("time_period") is not None:
            parsed["time_period"] = parse_time_period(params["time_period"])
    except InvalidParameterError as error:
        raise InvalidParameterError(error.message, parameter=error.parameter, **context) from None
    if params.get("filter") is not None:
        parsed["expression"] = schema.check_filter(params["filter"], store_id, data_id)
    size = params.get("tile_size")
    if size is not None:
        parsed["tile_size"] = (size, size) if isinstance(size, int) else tuple(size)
    return parsed


def output_shape(bbox: Sequence[float], resolution: float) -> tuple[int, int]:
    """(rows, columns) of the grid covering ``bbox`` at ``resolution``, snapped outwards."""
    width = math.ceil(bbox[2] / resolution) - math.floor(bbox[0] / resolution)
    height = math.ceil(bbox[3] / resolution) - math.floor(bbox[1] / resolution)
    return max(1, height), max(1, width)


def check_cube_size(
    params: Mapping[str, Any],
    resolution: float,
    *,
    variables: int,
    time_steps: int,
    itemsize: int,
    max_bytes: int | None,
    store_id: str,
    data_id: str,
) -> None:
    """Refuse a cube larger than ``max_bytes`` before anything is requested or planned."""
    from eostores.limits import check_grid_size

    if not math.isfinite(resolution) or resolution <= 0:
        raise InvalidParameterError(
            f"spatial_res = {resolution!r} must be a positive number",
            store_id=store_id,
            data_id=data_id,
            parameter="spatial_res",
        )
    rows, columns = output_shape(params["bbox"], resolution)
    check_grid_size(
        (max(1, time_steps), max(1, variables), rows, columns),
        itemsize,
        max_bytes=max_bytes,
        store_id=store_id,
        data_id=data_id,
    )


def _check_resampling(value: Any, names: Sequence[str], context: Mapping[str, Any]) -> None:
    if isinstance(value, Mapping):
        unknown = [k for k in value if k != "*" and k not in names]
        if unknown:
            raise InvalidParameterError(
                f"resampling names unknown variable(s) {unknown}; allowed: {list(names)} or '*'",
                parameter="resampling",
                **context,
            )


# --------------------------------------------------------------------------- opening


def open_cube(catalog: StacCatalog, collection_id: str, params: Mapping[str, Any]) -> xr.Dataset:
    """Open the cube of ``collection_id`` (``params`` from :func:`validate_stack_params`)."""
    context = dict(store_id=catalog.store_id, data_id=collection_id)
    max_bytes = catalog.settings.max_request_bytes
    wanted = params.get("variable_names")
    if params.get("spatial_res") is not None and params.get("bbox") is not None:
        check_cube_size(
            params,
            params["spatial_res"],
            variables=len(wanted) if wanted is not None else 1,
            time_steps=1,
            itemsize=4,
            max_bytes=max_bytes,
            **context,
        )
    catalog.collection(collection_id)
    for name in ("bbox", "time_range"):
        if params.get(name) is None:
            raise InvalidParameterError(
                f"missing required parameter {name!r}: stack mode needs a bbox and a time_range",
                parameter=name,
                **context,
            )
    variables = catalog.collection_variables(collection_id)
    try:
        names = resolve_variable_names(wanted, list(variables))
    except InvalidParameterError as error:
        raise InvalidParameterError(error.message, parameter="variable_names", **context) from None
    _check_resampling(params.get("resampling"), names, context)
    load_names = names or list(variables)[:1]
    items = find_cube_items(catalog, collection_id, params, load_names)
    if not items:
        _no_items(catalog, collection_id, params, context)
    items = complete_grids(items, load_names, catalog)
    resolution = params.get("spatial_res") or default_resolution(items, load_names, params["crs"])
    scaled = params.get("apply_scaling", True)
    itemsize = max(
        (np.dtype(variables[n].output_dtype(scaled)).itemsize for n in names if n in variables),
        default=4,
    )
    builder = CubeBuilder(catalog, collection_id, items, names, load_names, params, resolution)
    check_cube_size(
        params,
        resolution,
        variables=len(names),
        time_steps=len(builder.groups),
        itemsize=itemsize,
        max_bytes=max_bytes,
        **context,
    )
    return builder.build(variables)


def find_cube_items(
    catalog: StacCatalog, collection_id: str, params: Mapping[str, Any], names: Sequence[str]
) -> list[Item]:
    """The collection's items in bbox (as lon/lat), time range and filters, in time order."""
    lonlat = transform_bbox(params["bbox"], params["crs"], "EPSG:4326")
    found = catalog.find_items(
        collections=[collection_id],
        bbox=lonlat,
        time_range=params["time_range"],
        query=params.get("query"),
        filter=params.get("filter"),
        expression=params.get("expression"),
    )
    items = [item for item in found if any(name in item.assets for name in names)]
    return sorted(items, key=lambda i: (i.time or _EPOCH, i.id))


def _no_items(
    catalog: StacCatalog, collection_id: str, params: Mapping[str, Any], context: Mapping[str, Any]
) -> None:
    """No item matched: an InvalidParameterError naming what to change and where the
    collection has data; a warning only when spatial_res is given and the boxes overlap
    (an empty time axis on the requested grid is then a legitimate answer)."""
    collection = catalog.collection(collection_id)
    crs = params["crs"]
    bbox = [float(v) for v in params["bbox"]]
    time_range = params["time_range"]
    wanted = f"bbox {bbox} in {crs}, time_range {_period(time_range.start, time_range.end)}"
    if params.get("query") or params.get("filter"):
        wanted += " and the query/filter"
    covers = []
    overlap = True
    if collection.bbox is not None:
        extent = [round(v, 6) for v in transform_bbox(collection.bbox, "EPSG:4326", crs)]
        covers.append(f"bbox {extent} in {crs}")
        lonlat = transform_bbox(bbox, crs, "EPSG:4326")
        west, south, east, north = collection.bbox
        overlap = (
            lonlat[0] <= east and west <= lonlat[2] and lonlat[1] <= north and south <= lonlat[3]
        )
    in_time = True
    if collection.interval is not None:
        covers.append(f"time {_period(*collection.interval)}")
        first, last = (parse_time(value) for value in collection.interval)
        in_time = (time_range.end is None or first is None or first <= time_range.end) and (
            time_range.start is None or last is None or time_range.start <= last
        )
    message = f"no item of collection {collection_id!r} matches {wanted}"
    if covers:
        message += f"; the collection covers {' and '.join(covers)}"
    if overlap and params.get("spatial_res") is not None:
        warnings.warn(f"{message}; the cube has an empty time axis", UserWarning, stacklevel=4)
        return
    if not overlap:
        parameter = "bbox"
    elif not in_time or not (params.get("query") or params.get("filter")):
        parameter = "time_range"
    else:
        parameter = "filter" if params.get("filter") else "query"
    raise InvalidParameterError(message, parameter=parameter, **context)


def _period(start: Any, end: Any) -> str:
    def text(value: Any) -> str:
        if value is None:
            return ".."
        return value.isoformat() if isinstance(value, datetime) else str(value)

    return f"{text(start)}/{text(end)}"


def complete_grids(items: list[Item], names: Sequence[str], catalog: StacCatalog) -> list[Item]:
    """The items, with the grids their chosen assets lack read from the asset headers.

    Headers are read in parallel (``max_workers`` threads); items that had every grid are
    returned as they are.
    """
    pending = [
        (index, name)
        for index, item in enumerate(items)
        for name in names
        if name in item.assets and item.assets[name].grid is None
    ]
    if not pending:
        return items
    access = catalog.access

    def read(entry: tuple[int, str]) -> Grid:
        asset = items[entry[0]].assets[entry[1]]
        try:
            return read_grid(asset, access)
        except Exception as error:
            raise asset_error(asset.href, error, catalog.store_id) from error

    workers = max(1, min(catalog.settings.max_workers, len(pending)))
    contexts = [contextvars.copy_context() for _ in pending]  # the call's deadline
    with ThreadPoolExecutor(max_workers=workers) as pool:
        grids = list(pool.map(lambda c, e: c.run(read, e), contexts, pending))
    updates: dict[int, dict[str, Asset]] = {}
    for (index, name), grid in zip(pending, grids, strict=True):
        asset = dataclasses.replace(items[index].assets[name], grid=grid)
        updates.setdefault(index, dict(items[index].assets))[name] = asset
    return [
        dataclasses.replace(item, assets=updates[index]) if index in updates else item
        for index, item in enumerate(items)
    ]


def default_resolution(items: Sequence[Item], names: Sequence[str], crs: str) -> float:
    """The finest native pixel size of the chosen assets, expressed in units of ``crs``."""
    from pyproj import CRS

    sizes = []
    native_crs = None
    for item in items:
        for name in names:
            asset = item.assets.get(name)
            if asset is not None and asset.grid is not None:
                sizes.append(asset.grid.resolution)
                native_crs = native_crs or asset.grid.crs
    if not sizes:
        raise InvalidParameterError(
            "spatial_res is needed: no item in bbox and time_range carries projection metadata",
            parameter="spatial_res",
        )
    finest = min(sizes)
    target = CRS.from_user_input(crs)
    if (
        native_crs is not None
        and CRS.from_user_input(native_crs).is_geographic == target.is_geographic
    ):
        return finest
    return finest / 111320.0 if target.is_geographic else finest * 111320.0


# --------------------------------------------------------------------------- grouping


def _period_index(when: datetime, start: datetime | None, period: Any) -> int:
    origin = start or _EPOCH
    if period.unit in ("M", "Y"):
        months = (when.year - origin.year) * 12 + when.month - origin.month
        return months // (period.count * (12 if period.unit == "Y" else 1))
    return int((when - origin) // period.to_timedelta())


def _period_start(index: int, start: datetime | None, period: Any) -> datetime:
    import pandas as pd

    origin = start or _EPOCH
    if period.unit in ("M", "Y"):
        span = period.count * (12 if period.unit == "Y" else 1)
        return (pd.Timestamp(origin) + pd.DateOffset(months=index * span)).to_pydatetime()
    return origin + index * period.to_timedelta()


def group_key(params: Mapping[str, Any], mid_lon: float) -> Callable[[Item], Any]:
    """The key that puts items of one time step together (the groupby or time_period rule)."""
    period = params.get("time_period")
    if period is not None:
        start = params["time_range"].start
        return lambda item: _period_index(item.time or _EPOCH, start, period)
    rule = params.get("groupby") or "solar_day"
    if rule == "solar_day":
        offset = timedelta(seconds=int(mid_lon / 15) * 3600)
        return lambda item: ((item.time or _EPOCH) + offset).date().isoformat()
    if rule == "time":
        return lambda item: item.time or _EPOCH
    if rule == "id":
        return lambda item: (item.time or _EPOCH, item.id)
    if rule == "day":
        return lambda item: (item.time or _EPOCH).date().isoformat()
    return lambda item: str(item.properties.get(rule))


# --------------------------------------------------------------------------- the cube


class CubeBuilder:
    """Builds the cube of ``items`` (records in time order) on the requested grid."""

    def __init__(
        self,
        catalog: StacCatalog,
        collection_id: str,
        items: list[Item],
        names: list[str],
        load_names: list[str],
        params: Mapping[str, Any],
        resolution: float,
    ):
        from odc.geo.geobox import GeoBox

        self.catalog = catalog
        self.collection_id = collection_id
        self.items = items
        self.names = names
        self.load_names = load_names
        self.params = params
        self.geobox = GeoBox.from_bbox(tuple(params["bbox"]), params["crs"], resolution=resolution)
        ((self.mid_lon, _),) = self.geobox.extent.centroid.to_crs("epsg:4326").points
        self.key = group_key(params, self.mid_lon)
        self.keys = [self.key(item) for item in items]
        self.groups = self._groups()
        tile = params.get("tile_size") or (DEFAULT_CUBE_TILE, DEFAULT_CUBE_TILE)
        self.chunks = {"time": 1, "x": tile[0], "y": tile[1], **(params.get("chunks") or {})}
        self.apply_scaling = params.get("apply_scaling", True)

    def _groups(self) -> list[list[str]]:
        """The ids of the items behind each time step, in time order."""
        groups: dict[Any, list[Item]] = {}
        for item, key in zip(self.items, self.keys, strict=True):
            groups.setdefault(key, []).append(item)
        ordered = sorted(groups.items(), key=lambda kv: kv[0])
        return [
            [i.id for i in sorted(g, key=lambda i: (i.time or _EPOCH, i.id))] for _, g in ordered
        ]

    def build(self, variables: Mapping[str, Asset]) -> xr.Dataset:
        if not self.items:
            return self._finish(self._empty(variables), {})
        import odc.stac

        assets = {
            item.assets[name].href: item.assets[name]
            for item in self.items
            for name in self.load_names
            if name in item.assets
        }
        driver = AssetReaderDriver(
            self.catalog.access,
            assets,
            apply_scaling=self.apply_scaling,
            error_policy=self.params.get("error_policy", "fail"),
        )
        median = self.params.get("mosaic") == "median"
        cube = odc.stac.load(
            [self._stac_item(item) for item in self.items],
            bands=self.load_names,
            geobox=self.geobox,
            groupby="id" if median else self._odc_groupby(),
            resampling=self.params.get("resampling") or "nearest",
            chunks=self.chunks,
            driver=driver,
            fail_on_error=True,
        )
        if median:
            cube = self._median(cube)
        if self.params.get("time_period") is not None:
            start = self.params["time_range"].start
            starts = [
                _period_start(k, start, self.params["time_period"]) for k in sorted(set(self.keys))
            ]
            cube = cube.assign_coords(time=np.array(starts, dtype="datetime64[ns]"))
        if not self.names:
            cube = cube.drop_vars(list(cube.data_vars))
        by_name: dict[str, Asset] = {}
        for asset in assets.values():
            by_name.setdefault(asset.key, asset)
        return self._finish(cube, by_name)

    def _odc_groupby(self) -> Any:
        """odc-stac's own rule where it has one, else our key per item index."""
        rule = self.params.get("groupby") or "solar_day"
        if self.params.get("time_period") is None and rule in ("solar_day", "time", "id"):
            return rule
        keys = self.keys
        return lambda item, parsed, index: keys[index]

    def _stac_item(self, item: Item) -> Any:
        """A STAC item for odc-stac with the chosen assets only, built from the record."""
        import pystac

        assets = {}
        for name in self.load_names:
            asset = item.assets.get(name)
            if asset is None:
                continue
            entry: dict[str, Any] = {
                "href": asset.href,
                "type": _ODC_MEDIA_TYPES.get(asset.format, asset.media_type or "image/tiff"),
                "roles": ["data"],
            }
            if asset.grid is not None:
                entry["proj:code"] = asset.grid.crs
                entry["proj:transform"] = list(asset.grid.transform)
                entry["proj:shape"] = list(asset.grid.shape)
            band = self._band(asset)
            if band:
                entry["raster:bands"] = [band]
            assets[name] = entry
        properties = {"datetime": _rfc3339(item.time)}
        for key in ("start_datetime", "end_datetime"):
            if item.properties.get(key):
                properties[key] = item.properties[key]
        document = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [_EXT_PROJECTION, _EXT_RASTER],
            "id": item.id,
            "collection": item.collection,
            "geometry": item.document.get("geometry"),
            "bbox": list(item.bbox) if item.bbox is not None else None,
            "properties": properties,
            "links": [],
            "assets": assets,
        }
        return pystac.Item.from_dict(document, preserve_dict=False)

    def _band(self, asset: Asset) -> dict[str, Any]:
        """The raster:bands entry odc-stac needs to allocate the output."""
        if self.apply_scaling:
            # odc-stac sees the output: the reader masks and scales every item.
            out = asset.output_dtype(True)
            return {"data_type": out, "nodata": "nan"} if out.startswith("float") else {}
        band: dict[str, Any] = {}
        if asset.dtype:
            band["data_type"] = asset.dtype
        if asset.nodata is not None:
            band["nodata"] = asset.nodata
        return band

    def _median(self, cube: xr.Dataset) -> xr.Dataset:
        """Per-item layers (odc groupby=id) reduced to one median per time step."""
        import xarray as xr

        by_time = sorted(
            range(len(self.items)), key=lambda i: (self.items[i].time or _EPOCH, self.items[i].id)
        )
        keys = [self.keys[i] for i in by_time]
        steps, times = [], []
        for group in sorted(set(keys)):
            indices = [i for i, k in enumerate(keys) if k == group]
            layer = cube.isel(time=indices)
            times.append(layer.time.values[0])
            steps.append(layer.median("time", skipna=True, keep_attrs=True))
        result = xr.concat(steps, dim="time", coords="minimal", compat="override")
        result = result.assign_coords(time=np.array(times, dtype="datetime64[ns]"))
        for name in cube.data_vars:
            result[name] = result[name].astype(cube[name].dtype)
        return result

    def _empty(self, variables: Mapping[str, Asset]) -> xr.Dataset:
        import dask.array as da
        import xarray as xr
        from odc.geo.xr import xr_coords

        coords = dict(xr_coords(self.geobox, crs_coord_name="spatial_ref"))
        coords["time"] = np.array([], dtype="datetime64[ns]")
        shape = (0, *self.geobox.shape)
        data_vars = {}
        for name in self.names:
            dtype = (
                variables[name].output_dtype(self.apply_scaling) if name in variables else "float32"
            )
            array = da.zeros(shape, dtype=dtype, chunks=(1, self.chunks["y"], self.chunks["x"]))
            data_vars[name] = (("time", *self.geobox.dimensions), array)
        return xr.Dataset(data_vars, coords=coords)

    def _finish(self, cube: xr.Dataset, by_name: Mapping[str, Asset]) -> xr.Dataset:
        """Cube convention: ascending coordinates, a ``crs`` variable, provenance attributes."""
        renames = {k: v for k, v in (("longitude", "lon"), ("latitude", "lat")) if k in cube.dims}
        if renames:
            cube = cube.rename(renames)
        y_name = "lat" if "lat" in cube.dims else "y"
        x_name = "lon" if "lon" in cube.dims else "x"
        ys = cube[y_name].values
        if ys.size > 1 and ys[0] > ys[-1]:
            cube = cube.isel({y_name: slice(None, None, -1)})
        if "spatial_ref" in cube.coords:
            cube = cube.rename({"spatial_ref": "crs"})
        for name in cube.data_vars:
            attrs = by_name[name].attrs() if name in by_name else {}
            if self.apply_scaling:
                for key in ("nodata", "scale", "offset"):
                    attrs.pop(key, None)
            attrs["grid_mapping"] = "crs"
            cube[name].attrs = attrs
        cube[x_name].attrs.update(axis_attrs(x_name))
        cube[y_name].attrs.update(axis_attrs(y_name))
        groups = self.groups if self.items else []
        cube.attrs = cube_attrs(
            self.collection_id, self.catalog.url, cube["time"].values, groups, self.params
        )
        return cube


def _rfc3339(when: datetime | None) -> str:
    return (when or _EPOCH).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
