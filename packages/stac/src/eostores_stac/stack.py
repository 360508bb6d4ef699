"""Stack mode: the items of a collection -> one analysis-ready (time, y, x) cube.

odc-stac (with odc-geo) plans the cube: it bins items into output chunks and builds a dask
graph whose size grows with the number of output chunks, not with items x assets x chunks.
Pixels are read by :class:`~eostores_stac.reader.AssetReaderDriver` through the store's own
access paths. Items spanning several UTM zones are reprojected onto the requested grid and
mosaicked per time step (first valid pixel in time order, or the median).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from eostores.errors import InvalidParameterError
from eostores.schema import (
    parse_bbox,
    parse_time_period,
    parse_time_range,
    resolve_variable_names,
)

from . import schema as schemas
from .catalog import AssetInfo, Grid, asset_infos
from .sampleitems import EXT_PROJECTION
from .search import check_filter, stac_datetime

if TYPE_CHECKING:
    import xarray as xr

    from .store import StacDataStore

__all__ = ["open_cube", "validate_stack_params"]

_DEFAULT_TILE = 1024
_ODC_MEDIA_TYPES = {"zarr": "application/x-zarr", "netcdf": "application/x-netcdf"}


def validate_stack_params(
    store: StacDataStore, data_id: str, open_params: Mapping[str, Any]
) -> dict[str, Any]:
    """Check the open parameters without any request (except the collection lookup)."""
    context = dict(store_id=store.store_id, data_id=data_id)
    relaxed = schemas.stack_open_params_schema()
    relaxed.required = []
    params = relaxed.validate_params(open_params, **context)
    parsed: dict[str, Any] = dict(params)
    crs = params.get("crs") or "EPSG:4326"
    parsed["crs"] = crs
    geographic = schemas.crs_is_geographic(crs, **context)
    with schemas.error_context(**context):
        if params.get("bbox") is not None:
            parsed["bbox"] = parse_bbox(params["bbox"], geographic=geographic)
        if params.get("time_range") is not None:
            parsed["time_range"] = parse_time_range(params["time_range"])
        if params.get("time_period") is not None:
            parsed["time_period"] = parse_time_period(params["time_period"])
    if params.get("filter") is not None:
        check_filter(params["filter"], store.store_id, data_id)
    size = params.get("tile_size")
    if size is not None:
        parsed["tile_size"] = (size, size) if isinstance(size, int) else tuple(size)
    return parsed


def _require(params: Mapping[str, Any], context: Mapping[str, Any]) -> None:
    for name in ("bbox", "time_range"):
        if params.get(name) is None:
            raise InvalidParameterError(
                f"missing required parameter {name!r}: stack mode needs a bbox and a time_range",
                parameter=name,
                **context,
            )


def open_cube(store: StacDataStore, collection_id: str, open_params: Mapping[str, Any]) -> Any:
    """Open the cube of ``collection_id``; see the module docstring."""
    context = dict(store_id=store.store_id, data_id=collection_id)
    params = validate_stack_params(store, collection_id, open_params)
    store._collection(collection_id)
    _require(params, context)
    variables = store._collection_variables(collection_id)
    with schemas.error_context(**context, parameter="variable_names"):
        names = resolve_variable_names(params.get("variable_names"), list(variables))
    _check_resampling(params.get("resampling"), names, context)
    items = find_items(store, collection_id, params)
    load_names = names or list(variables)[:1]
    items = [i for i in items if any(n in asset_infos(i) for n in load_names)]
    access = store._access([info.href for i in items for info in asset_infos(i).values()])
    items = complete_projection(
        items, load_names, access, store._store_params.get("max_workers", 8)
    )
    cube = build_cube(store, collection_id, items, names, load_names, params, access)
    return cube


def _check_resampling(value: Any, names: Sequence[str], context: Mapping[str, Any]) -> None:
    if isinstance(value, Mapping):
        unknown = [k for k in value if k != "*" and k not in names]
        if unknown:
            raise InvalidParameterError(
                f"resampling names unknown variable(s) {unknown}; allowed: {list(names)} or '*'",
                parameter="resampling",
                **context,
            )


def find_items(
    store: StacDataStore, collection_id: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The items of the collection meeting bbox (transformed to lon/lat), time and filters."""
    from .convert import transform_bbox
    from .search import _item_matches

    lonlat = transform_bbox(params["bbox"], params["crs"], "EPSG:4326")
    time_range = params["time_range"]
    api = store.api
    if api.is_api and api.can_search:
        found = api.search(
            collections=[collection_id],
            bbox=list(lonlat),
            datetime=stac_datetime(time_range),
            query=params.get("query"),
            filter=params.get("filter"),
        )
        items = list(found)
    else:
        if params.get("query") is not None:
            raise InvalidParameterError(
                "query needs a STAC API with item search; use filter instead",
                store_id=store.store_id,
                data_id=collection_id,
                parameter="query",
            )
        expression = check_filter(params["filter"]) if params.get("filter") is not None else None
        selection = {"collections": [collection_id]}
        items = [
            item
            for _, item in api.iter_items(with_documents=True)
            if item is not None and _item_matches(item, selection, lonlat, time_range, expression)
        ]
    return sorted(items, key=lambda i: (i.get("properties", {}).get("datetime") or "", i["id"]))


# --------------------------------------------------------------------------- projection metadata


def _read_grid(info: AssetInfo, access: Any) -> Grid:
    """The grid of an asset from its header (GeoTIFF) or coordinates (Zarr, NetCDF)."""
    if info.format == "geotiff":
        import rasterio

        source, kwargs = access.raster_source(info.href)
        with (
            rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"),
            rasterio.open(source, **kwargs) as dataset,
        ):
            return Grid(
                dataset.crs.to_string(),
                tuple(dataset.transform)[:6],
                (dataset.height, dataset.width),
            )
    from .reader import _xarray_source

    variable = _xarray_source(access, info)
    geobox = variable.odc.geobox
    return Grid(str(geobox.crs), tuple(geobox.affine)[:6], tuple(geobox.shape))


def complete_projection(
    items: list[dict[str, Any]], names: Sequence[str], access: Any, max_workers: int
) -> list[dict[str, Any]]:
    """Copies of the items whose chosen assets all carry projection metadata.

    Where the projection extension is missing, asset headers are read in parallel.
    """
    from .assets import asset_error

    pending: list[tuple[int, str, AssetInfo]] = []
    result = []
    for index, item in enumerate(items):
        item = copy.deepcopy(item)
        result.append(item)
        infos = asset_infos(item)
        for name in names:
            info = infos.get(name)
            if info is None:
                continue
            asset = item["assets"][name]
            if info.format in _ODC_MEDIA_TYPES:
                asset["type"] = _ODC_MEDIA_TYPES[info.format]
            asset["href"] = info.href
            if info.grid is None:
                pending.append((index, name, info))
            else:
                _set_grid(item, asset, info.grid)
    if pending:

        def read(entry: tuple[int, str, AssetInfo]) -> Grid:
            try:
                return _read_grid(entry[2], access)
            except Exception as error:
                raise asset_error(entry[2].href, error, access.store_id) from error

        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(pending)))) as pool:
            grids = list(pool.map(read, pending))
        for (index, name, _), grid in zip(pending, grids, strict=True):
            item = result[index]
            _set_grid(item, item["assets"][name], grid)
    return result


def _set_grid(item: dict[str, Any], asset: dict[str, Any], grid: Grid) -> None:
    asset["proj:code"] = grid.crs
    asset["proj:transform"] = list(grid.transform)
    asset["proj:shape"] = list(grid.shape)
    extensions = item.setdefault("stac_extensions", [])
    if not any("/projection/" in e for e in extensions):
        extensions.append(EXT_PROJECTION)


# --------------------------------------------------------------------------- the cube


def output_geobox(bbox: Sequence[float], crs: str, resolution: float) -> Any:
    """The output grid: ``bbox`` in ``crs`` snapped outwards to multiples of ``resolution``."""
    from odc.geo.geobox import GeoBox

    return GeoBox.from_bbox(tuple(bbox), crs, resolution=resolution)


def default_resolution(
    items: Sequence[Mapping[str, Any]], names: Sequence[str], crs: str, bbox: Sequence[float]
) -> float:
    """The finest native pixel size of the chosen assets, expressed in units of ``crs``."""
    from pyproj import CRS

    sizes = []
    native_crs = None
    for item in items:
        for name, info in asset_infos(item).items():
            if name in names and info.grid is not None:
                sizes.append(info.grid.resolution)
                native_crs = native_crs or info.grid.crs
    if not sizes:
        raise InvalidParameterError(
            "spatial_res is needed: the items carry no projection metadata", parameter="spatial_res"
        )
    finest = min(sizes)
    target = CRS.from_user_input(crs)
    if (
        native_crs is not None
        and CRS.from_user_input(native_crs).is_geographic == target.is_geographic
    ):
        return finest
    if target.is_geographic:
        return finest / 111320.0
    return finest * 111320.0


def _groupby(params: Mapping[str, Any], mid_lon: float) -> Any:
    """The odc-stac groupby: its own rule where it has one, else a function of the item."""
    rule = params.get("groupby") or "solar_day"
    if params.get("time_period") is None and rule in ("solar_day", "time", "id"):
        return rule
    key = _group_key(params, mid_lon)
    return lambda item, parsed, index: key(item)


def _item_datetime(item: Any) -> datetime:
    when = item.datetime or item.common_metadata.start_datetime
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def _period_index(when: datetime, start: datetime | None, period: Any) -> int:
    origin = start or datetime(1970, 1, 1)
    if period.unit in ("M", "Y"):
        months = (when.year - origin.year) * 12 + when.month - origin.month
        span = period.count * (12 if period.unit == "Y" else 1)
        return months // span
    return int((when - origin) // period.to_timedelta())


def _period_start(index: int, start: datetime | None, period: Any) -> datetime:
    import pandas as pd

    origin = start or datetime(1970, 1, 1)
    if period.unit in ("M", "Y"):
        span = period.count * (12 if period.unit == "Y" else 1)
        return (pd.Timestamp(origin) + pd.DateOffset(months=index * span)).to_pydatetime()
    return origin + index * period.to_timedelta()


def build_cube(
    store: StacDataStore,
    collection_id: str,
    items: list[dict[str, Any]],
    names: list[str],
    load_names: list[str],
    params: Mapping[str, Any],
    access: Any,
) -> xr.Dataset:
    import numpy as np
    import odc.stac
    import pystac

    from .reader import AssetReaderDriver

    crs = params["crs"]
    resolution = params.get("spatial_res") or default_resolution(
        items, load_names, crs, params["bbox"]
    )
    geobox = output_geobox(params["bbox"], crs, resolution)
    apply_scaling = params.get("apply_scaling", True)
    tile = params.get("tile_size") or (_DEFAULT_TILE, _DEFAULT_TILE)
    chunks = {"time": 1, "x": tile[0], "y": tile[1], **(params.get("chunks") or {})}
    if not items:
        return _finish_cube(
            _empty_cube(geobox, names, store, collection_id, apply_scaling, chunks),
            store,
            collection_id,
            [],
            names,
            params,
        )
    infos: dict[str, AssetInfo] = {}
    items = [copy.deepcopy(item) for item in items]
    for item in items:
        for name, info in asset_infos(item).items():
            if name in load_names:
                infos[info.href] = info
                if apply_scaling:
                    # odc-stac sees the output: the reader masks and scales every item.
                    out = info.output_dtype(True)
                    band = {"data_type": out, "nodata": "nan"} if out.startswith("float") else {}
                    item["assets"][name]["raster:bands"] = [band] if band else []
    driver = AssetReaderDriver(
        access,
        infos,
        apply_scaling=apply_scaling,
        error_policy=params.get("error_policy", "fail"),
    )
    stac_items = [pystac.Item.from_dict(item, preserve_dict=True) for item in items]
    median = params.get("mosaic") == "median"
    ((mid_lon, _),) = geobox.extent.centroid.to_crs("epsg:4326").points
    kwargs: dict[str, Any] = dict(
        bands=load_names,
        geobox=geobox,
        groupby="id" if median else _groupby(params, mid_lon),
        resampling=params.get("resampling") or "nearest",
        chunks=chunks,
        driver=driver,
        fail_on_error=True,
    )
    cube = odc.stac.load(stac_items, **kwargs)
    groups = _group_ids(stac_items, params, mid_lon)
    if median:
        cube = _median_mosaic(cube, stac_items, params, mid_lon)
    if params.get("time_period") is not None:
        start = params["time_range"].start
        keys = sorted(
            {_period_index(_item_datetime(i), start, params["time_period"]) for i in stac_items}
        )
        starts = [_period_start(k, start, params["time_period"]) for k in keys]
        cube = cube.assign_coords(time=np.array(starts, dtype="datetime64[ns]"))
    if not names:
        cube = cube.drop_vars(list(cube.data_vars))
    return _finish_cube(cube, store, collection_id, groups, names, params, infos)


def _group_ids(stac_items: list[Any], params: Mapping[str, Any], mid_lon: float) -> list[list[str]]:
    """The ids of the items behind each time step, in time order."""
    key = _group_key(params, mid_lon)
    groups: dict[Any, list[Any]] = {}
    for item in stac_items:
        groups.setdefault(key(item), []).append(item)
    ordered = sorted(groups.items(), key=lambda kv: kv[0])
    return [[i.id for i in sorted(g, key=lambda i: (_item_datetime(i), i.id))] for _, g in ordered]


def _group_key(params: Mapping[str, Any], mid_lon: float) -> Any:
    period = params.get("time_period")
    if period is not None:
        start = params["time_range"].start
        return lambda item: _period_index(_item_datetime(item), start, period)
    rule = params.get("groupby") or "solar_day"
    if rule == "solar_day":
        return lambda item: _solar_day(item, mid_lon)
    if rule == "time":
        return lambda item: _item_datetime(item)
    if rule == "id":
        return lambda item: (_item_datetime(item), item.id)
    if rule == "day":
        return lambda item: _item_datetime(item).date().isoformat()
    return lambda item: str(item.properties.get(rule))


def _solar_day(item: Any, lon: float) -> str:
    """The local solar date at longitude ``lon`` (as odc-stac groups by solar day)."""
    when = _item_datetime(item) + timedelta(seconds=int(lon / 15) * 3600)
    return when.date().isoformat()


def _median_mosaic(
    cube: Any, stac_items: list[Any], params: Mapping[str, Any], mid_lon: float
) -> Any:
    """Per-item layers (odc groupby=id) reduced to one median per time step."""
    import numpy as np
    import xarray as xr

    key = _group_key(params, mid_lon)
    by_time = sorted(stac_items, key=lambda i: (_item_datetime(i), i.id))
    keys = [key(item) for item in by_time]
    steps = []
    times = []
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


def _empty_cube(
    geobox: Any,
    names: Sequence[str],
    store: StacDataStore,
    collection_id: str,
    apply_scaling: bool,
    chunks: Mapping[str, int],
) -> Any:
    import dask.array as da
    import numpy as np
    import xarray as xr
    from odc.geo.xr import xr_coords

    coords = dict(xr_coords(geobox, crs_coord_name="spatial_ref"))
    coords["time"] = np.array([], dtype="datetime64[ns]")
    variables = store._collection_variables(collection_id)
    shape = (0, *geobox.shape)
    data_vars = {}
    for name in names:
        dtype = variables[name].output_dtype(apply_scaling) if name in variables else "float32"
        array = da.zeros(shape, dtype=dtype, chunks=(1, chunks["y"], chunks["x"]))
        data_vars[name] = (("time", *geobox.dimensions), array)
    return xr.Dataset(data_vars, coords=coords)


def _finish_cube(
    cube: Any,
    store: StacDataStore,
    collection_id: str,
    groups: list[list[str]],
    names: Sequence[str],
    params: Mapping[str, Any],
    infos: Mapping[str, AssetInfo] | None = None,
) -> Any:
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
    by_name: dict[str, AssetInfo] = {}
    for info in (infos or {}).values():
        by_name.setdefault(info.key, info)
    for name in cube.data_vars:
        attrs = by_name[name].attrs() if name in by_name else {}
        if params.get("apply_scaling", True):
            for key in ("nodata", "scale", "offset"):
                attrs.pop(key, None)
        attrs["grid_mapping"] = "crs"
        cube[name].attrs = attrs
    cube[x_name].attrs.update(_axis_attrs(x_name))
    cube[y_name].attrs.update(_axis_attrs(y_name))
    shown = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in params.items()
        if k not in ("time_range", "time_period", "bbox")
    }
    shown["bbox"] = list(params["bbox"])
    shown["time_range"] = [
        params["time_range"].start_isoformat(),
        params["time_range"].end_isoformat(),
    ]
    if params.get("time_period") is not None:
        shown["time_period"] = str(params["time_period"])
    cube.attrs = {
        "Conventions": "CF-1.9",
        "title": f"{collection_id} cube",
        "stac_url": store.url,
        "stac_collection": collection_id,
        "stac_item_ids": [i for group in groups for i in group],
        "stac_items": json.dumps(
            {str(t): ids for t, ids in zip(cube["time"].values, groups, strict=False)}
        ),
        "open_params": json.dumps(shown, default=str),
    }
    return cube


def _axis_attrs(name: str) -> dict[str, str]:
    return {
        "lon": {"standard_name": "longitude", "units": "degrees_east"},
        "lat": {"standard_name": "latitude", "units": "degrees_north"},
        "x": {"standard_name": "projection_x_coordinate", "units": "m"},
        "y": {"standard_name": "projection_y_coordinate", "units": "m"},
    }[name]
