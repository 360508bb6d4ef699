"""STAC payload -> normalised xarray: scaling by the raster extension, item datasets, cube attrs.

Nothing here reads data: functions take the lazily opened per-asset datasets and the
records, and return datasets with ``(time, y, x)`` dims, CF attributes and provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import InvalidParameterError

from .records import Asset, Grid, Item

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "apply_raster_extension",
    "axis_attrs",
    "crs_coordinate",
    "crs_is_geographic",
    "item_dataset",
    "transform_bbox",
]


def transform_bbox(
    bbox: Sequence[float], source: str, target: str
) -> tuple[float, float, float, float]:
    """``bbox`` in ``source`` CRS as the smallest box in ``target`` CRS that contains it."""
    from pyproj import CRS, Transformer

    if CRS.from_user_input(source) == CRS.from_user_input(target):
        return (bbox[0], bbox[1], bbox[2], bbox[3])
    transformer = Transformer.from_crs(source, target, always_xy=True)
    return transformer.transform_bounds(*bbox, densify_pts=21)


def crs_is_geographic(crs: str, **context: Any) -> bool:
    """Whether ``crs`` is geographic; InvalidParameterError (with ``context``) if unknown."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return bool(CRS.from_user_input(crs).is_geographic)
    except CRSError:
        raise InvalidParameterError(
            f"crs = {crs!r} is not a known coordinate reference system", parameter="crs", **context
        ) from None


def crs_coordinate(crs: str) -> xr.DataArray:
    """A scalar grid-mapping coordinate (CF attributes and WKT) of ``crs``."""
    import xarray as xr
    from pyproj import CRS

    value = CRS.from_user_input(crs)
    attrs = value.to_cf()
    attrs["spatial_ref"] = value.to_wkt()
    return xr.DataArray(0, attrs=attrs)


def axis_attrs(name: str) -> dict[str, str]:
    """CF attributes of the x/y or lon/lat coordinate ``name``."""
    return {
        "lon": {"standard_name": "longitude", "units": "degrees_east"},
        "lat": {"standard_name": "latitude", "units": "degrees_north"},
        "x": {"standard_name": "projection_x_coordinate", "units": "m"},
        "y": {"standard_name": "projection_y_coordinate", "units": "m"},
    }[name]


def apply_raster_extension(dataset: xr.Dataset, asset: Asset, apply_scaling: bool) -> xr.Dataset:
    """nodata -> NaN, then scale and offset (raster extension), or record them as attrs."""
    for name in list(dataset.data_vars):
        variable = dataset[name]
        attrs = {**variable.attrs, **asset.attrs()}
        nodata = asset.nodata
        if nodata is None:
            nodata = variable.attrs.get("file_nodata")
        if apply_scaling:
            if nodata is not None and variable.dtype.kind in "iuf" and not np.isnan(nodata):
                variable = variable.where(variable != nodata)
            if asset.scale not in (None, 1):
                variable = variable * asset.scale
            if asset.offset not in (None, 0):
                variable = variable + asset.offset
            for key in ("nodata", "file_nodata", "scale", "offset"):
                attrs.pop(key, None)
            target = asset.output_dtype(True)
            if variable.dtype != target and variable.dtype.kind == "f":
                variable = variable.astype(target)
        elif nodata is not None:
            attrs["nodata"] = nodata
            attrs.pop("file_nodata", None)
        variable.attrs = attrs
        dataset[name] = variable
    return dataset


# --------------------------------------------------------------------------- item datasets


def _item_time(item: Item) -> np.datetime64:
    when = item.time
    if when is None:
        return np.datetime64("NaT", "ns")
    return np.datetime64(when.isoformat(), "ns")


def _grid_coords(grid: Grid) -> dict[str, Any]:
    xs, ys = grid.coords()
    return {"x": ("x", xs), "y": ("y", ys)}


def _same_grid(dataset: xr.Dataset, reference: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether the dataset's x/y coordinates are those of ``reference``."""
    if "x" not in dataset.dims or "y" not in dataset.dims:
        return False
    x_name = next(str(d) for d in dataset.dims if d == "x" or str(d).startswith("x_"))
    xs, ys = dataset[x_name].values, dataset["y" + x_name[1:]].values
    if xs.shape != reference[0].shape or ys.shape != reference[1].shape:
        return False
    step = abs(float(xs[1] - xs[0])) if xs.size > 1 else 1.0
    return bool(
        np.allclose(xs, reference[0], atol=step * 1e-3)
        and np.allclose(ys, reference[1], atol=step * 1e-3)
    )


def _own_dims(dataset: xr.Dataset, key: str) -> xr.Dataset:
    """Give an asset on another grid its own dims ``x_<key>``/``y_<key>`` and grid mapping."""
    renames = {dim: f"{dim}_{key}" for dim in ("x", "y") if dim in dataset.dims}
    if not renames:
        return dataset
    dataset = dataset.rename(renames)
    if "spatial_ref" in dataset.coords:
        dataset = dataset.rename({"spatial_ref": f"spatial_ref_{key}"})
        for name in dataset.data_vars:
            dataset[name].attrs["grid_mapping"] = f"spatial_ref_{key}"
    return dataset


def item_dataset(
    item: Item,
    parts: Sequence[tuple[Asset, xr.Dataset]],
    *,
    bbox: Sequence[float] | None = None,
    crs: str | None = None,
    time_range: Any = None,
    stac_url: str | None = None,
    store_id: str | None = None,
) -> xr.Dataset:
    """One dataset with dims (time, y, x) from the opened assets of ``item``.

    Variables on the grid most assets share use ``x``/``y``; others get their own dims
    ``x_<asset>``/``y_<asset>``. The time dimension holds the item's datetime. ``bbox``
    (in ``crs``, default the item's own CRS) selects native pixels.
    """
    import xarray as xr

    primary = item.primary_grid
    reference: tuple[np.ndarray, np.ndarray] | None = None
    renamed = []
    for asset, dataset in parts:
        on_primary = asset.grid is None or asset.grid == primary
        if reference is None and on_primary and "x" in dataset.dims:
            reference = (dataset["x"].values, dataset["y"].values)
        if reference is None or not _same_grid(dataset, reference):
            dataset = _own_dims(dataset, asset.key)
        renamed.append(dataset)
    if renamed:
        result = xr.merge(renamed, compat="override", join="override", combine_attrs="override")
    else:
        coords: dict[str, Any] = {}
        if primary is not None:
            coords.update(_grid_coords(primary))
            coords["spatial_ref"] = crs_coordinate(primary.crs)
        result = xr.Dataset(coords=coords)
    result = result.expand_dims(time=[_item_time(item)])
    for name in result.data_vars:
        result[name] = result[name].transpose("time", ...)
    native_crs = item.native_crs or _dataset_crs(result)
    if bbox is not None:
        selected = _select_bbox(result, item, bbox, crs or native_crs, native_crs, store_id)
        if any(selected.sizes[d] == 0 for d in selected.dims if d != "time"):
            raise InvalidParameterError(
                _outside_message(result, bbox, crs, native_crs),
                store_id=store_id,
                data_id=item.data_id,
                parameter="bbox",
            )
        result = selected
    if time_range is not None:
        result = result.sel(time=time_range.to_slice())
    result.attrs = _item_attrs(item, stac_url)
    if native_crs:
        result.attrs["crs"] = native_crs
    return result


def _dataset_crs(dataset: xr.Dataset) -> str | None:
    if "spatial_ref" in dataset.coords:
        wkt = dataset["spatial_ref"].attrs.get("spatial_ref") or dataset["spatial_ref"].attrs.get(
            "crs_wkt"
        )
        if wkt:
            from pyproj import CRS

            epsg = CRS.from_wkt(wkt).to_epsg()
            return f"EPSG:{epsg}" if epsg else wkt
    return None


def _select_bbox(
    dataset: xr.Dataset,
    item: Item,
    bbox: Sequence[float],
    bbox_crs: str | None,
    native_crs: str | None,
    store_id: str | None,
) -> xr.Dataset:
    if native_crs is None or bbox_crs is None:
        raise InvalidParameterError(
            "bbox cannot be applied: the item has no projection metadata",
            store_id=store_id,
            data_id=item.data_id,
            parameter="bbox",
        )
    box = transform_bbox(bbox, bbox_crs, native_crs)
    selection = {}
    for x_name in [str(d) for d in dataset.dims if d == "x" or str(d).startswith("x_")]:
        y_name = "y" + x_name[1:]
        asset = item.assets.get(x_name[2:])
        grid_crs = asset.grid.crs if asset is not None and asset.grid else native_crs
        own = transform_bbox(bbox, bbox_crs, grid_crs) if grid_crs != native_crs else box
        selection[x_name] = _slice(dataset[x_name].values, own[0], own[2])
        if y_name in dataset.dims:
            selection[y_name] = _slice(dataset[y_name].values, own[1], own[3])
    return dataset.sel(selection)


def _outside_message(
    dataset: xr.Dataset, bbox: Sequence[float], crs: str | None, native_crs: str
) -> str:
    """Why ``bbox`` selects nothing: the item's extent in the CRS of bbox, and a hint when a
    longitude/latitude box was read in the item's own projected CRS."""
    bbox_crs = crs or native_crs
    x_name = next(str(d) for d in dataset.dims if d == "x" or str(d).startswith("x_"))
    xs, ys = dataset[x_name].values, dataset["y" + x_name[1:]].values
    native = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
    extent = [round(v, 6) for v in transform_bbox(native, native_crs, bbox_crs)]
    message = (
        f"bbox {list(bbox)} in {bbox_crs} does not overlap the item, whose extent in "
        f"{bbox_crs} is {extent}"
    )
    lonlat_like = -180 <= bbox[0] <= bbox[2] <= 180 and -90 <= bbox[1] <= bbox[3] <= 90
    if crs is None and lonlat_like and not crs_is_geographic(native_crs):
        message += (
            f" (bbox is read in the item's own CRS {native_crs} unless crs is given; "
            "for longitude/latitude pass crs='EPSG:4326')"
        )
    return message


def _slice(values: np.ndarray, low: float, high: float) -> slice:
    if values.size > 1 and values[0] > values[-1]:
        return slice(high, low)
    return slice(low, high)


def _item_attrs(item: Item, stac_url: str | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "stac_item_id": item.id,
        "stac_collection": item.collection,
        "stac_item_url": item.url,
        "stac_url": stac_url,
        "datetime": item.properties.get("datetime"),
    }
    for key in ("eo:cloud_cover", "platform", "proj:code"):
        if key in item.properties:
            attrs[key] = item.properties[key]
    return {k: v for k, v in attrs.items() if v is not None}


def cube_attrs(
    collection_id: str,
    stac_url: str,
    times: Sequence[Any],
    groups: Sequence[Sequence[str]],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Provenance attributes of a stack-mode cube."""
    import json

    shown = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in params.items()
        if k not in ("time_range", "time_period", "bbox", "expression")
    }
    shown["bbox"] = list(params["bbox"])
    shown["time_range"] = [
        params["time_range"].start_isoformat(),
        params["time_range"].end_isoformat(),
    ]
    if params.get("time_period") is not None:
        shown["time_period"] = str(params["time_period"])
    return {
        "Conventions": "CF-1.9",
        "title": f"{collection_id} cube",
        "stac_url": stac_url,
        "stac_collection": collection_id,
        "stac_item_ids": [i for group in groups for i in group],
        "stac_items": json.dumps(
            {str(t): list(ids) for t, ids in zip(times, groups, strict=False)}
        ),
        "open_params": json.dumps(shown, default=str),
    }
