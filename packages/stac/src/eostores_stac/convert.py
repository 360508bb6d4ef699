"""Item mode: one STAC item -> one lazy xarray.Dataset of its chosen assets."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from eostores.errors import DataStoreError, InvalidParameterError

from .assets import AssetAccess, AssetReadWarning, open_asset
from .catalog import AssetInfo, Grid, asset_infos, item_time_range, primary_grid

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["open_item"]


def _grid_coords(grid: Grid, x_name: str = "x", y_name: str = "y") -> dict[str, Any]:
    xs, ys = grid.coords()
    return {x_name: (x_name, xs), y_name: (y_name, ys)}


def _crs_coordinate(crs: str) -> Any:
    import xarray as xr
    from pyproj import CRS

    value = CRS.from_user_input(crs)
    attrs = value.to_cf()
    attrs["spatial_ref"] = value.to_wkt()
    return xr.DataArray(0, attrs=attrs)


def _item_time(item: Mapping[str, Any]) -> Any:
    import numpy as np
    import pandas as pd

    start, end = item_time_range(item)
    when = start or end
    if when is None:
        return np.datetime64("NaT", "ns")
    stamp = pd.Timestamp(when)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_datetime64().astype("datetime64[ns]")


def _rename_to(dataset: Any, info: AssetInfo, names: tuple[str, ...]) -> Any:
    """Give the asset's dataset the dims of its variable (suffixed grids get own dims)."""
    _, y_name, x_name = names
    renames = {}
    if x_name != "x" and "x" in dataset.dims:
        renames["x"] = x_name
    if y_name != "y" and "y" in dataset.dims:
        renames["y"] = y_name
    if renames:
        dataset = dataset.rename(renames)
        if "spatial_ref" in dataset.coords:
            dataset = dataset.rename({"spatial_ref": f"spatial_ref_{info.key}"})
            for name in dataset.data_vars:
                dataset[name].attrs["grid_mapping"] = f"spatial_ref_{info.key}"
    return dataset


def _same_grid(dataset: Any, reference: tuple[Any, Any]) -> bool:
    """Whether the dataset's x/y coordinates are those of ``reference``."""
    import numpy as np

    if "x" not in dataset.dims or "y" not in dataset.dims:
        return False
    xs, ys = dataset["x"].values, dataset["y"].values
    if xs.shape != reference[0].shape or ys.shape != reference[1].shape:
        return False
    step = abs(float(xs[1] - xs[0])) if xs.size > 1 else 1.0
    return bool(
        np.allclose(xs, reference[0], atol=step * 1e-3)
        and np.allclose(ys, reference[1], atol=step * 1e-3)
    )


def open_item(
    item: Mapping[str, Any],
    *,
    data_id: str,
    variable_names: Sequence[str] | None,
    access: AssetAccess,
    apply_scaling: bool = True,
    bbox: tuple[float, float, float, float] | None = None,
    crs: str | None = None,
    spatial_res: float | None = None,
    time_range: Any = None,
    tile_size: tuple[int, int] | None = None,
    error_policy: str = "fail",
    store_id: str | None = None,
    stac_url: str | None = None,
) -> xr.Dataset:
    """Open the chosen assets of ``item`` into one dataset with dims (time, y, x).

    Variables on the grid most assets share use ``x``/``y``; others get their own dims
    ``x_<asset>``/``y_<asset>``. The time dimension holds the item's datetime.
    """
    import xarray as xr

    infos = asset_infos(item)
    names = list(infos) if variable_names is None else list(variable_names)
    primary = primary_grid(infos.values())
    when = _item_time(item)
    access.prefetch([infos[name].href for name in names])
    parts: list[Any] = []
    reference: tuple[Any, Any] | None = None
    for name in names:
        info = infos[name]
        try:
            dataset = open_asset(
                info,
                access,
                apply_scaling=apply_scaling,
                spatial_res=spatial_res,
                tile_size=tile_size,
                error_policy=error_policy,
            )
        except DataStoreError as error:
            if error_policy == "fail":
                raise
            if error_policy == "warn":
                warnings.warn(f"{error}; the asset is left out", AssetReadWarning, stacklevel=3)
            continue
        on_primary = info.grid is None or info.grid == primary
        if reference is None and on_primary and "x" in dataset.dims:
            reference = (dataset["x"].values, dataset["y"].values)
        if reference is not None and _same_grid(dataset, reference):
            dims = ("time", "y", "x")
        else:
            dims = ("time", f"y_{info.key}", f"x_{info.key}")
        parts.append(_rename_to(dataset, info, dims))
    if parts:
        result = xr.merge(parts, compat="override", join="override", combine_attrs="override")
    else:
        coords: dict[str, Any] = {}
        grid = primary
        if grid is not None:
            coords.update(_grid_coords(grid))
            coords["spatial_ref"] = _crs_coordinate(grid.crs)
        result = xr.Dataset(coords=coords)
    result = result.expand_dims(time=[when])
    for name in result.data_vars:
        result[name] = result[name].transpose("time", ...)
    native_crs = primary.crs if primary is not None else _dataset_crs(result)
    if bbox is not None:
        result = _select_bbox(result, bbox, crs or native_crs, native_crs, infos, data_id, store_id)
    if time_range is not None:
        result = result.sel(time=time_range.to_slice())
    result.attrs = _item_attrs(item, stac_url)
    if native_crs:
        result.attrs["crs"] = native_crs
    return result


def _dataset_crs(dataset: Any) -> str | None:
    if "spatial_ref" in dataset.coords:
        wkt = dataset["spatial_ref"].attrs.get("spatial_ref") or dataset["spatial_ref"].attrs.get(
            "crs_wkt"
        )
        if wkt:
            from pyproj import CRS

            epsg = CRS.from_wkt(wkt).to_epsg()
            return f"EPSG:{epsg}" if epsg else wkt
    return None


def transform_bbox(
    bbox: tuple[float, float, float, float], source: str, target: str
) -> tuple[float, float, float, float]:
    """``bbox`` in ``source`` CRS as the smallest box in ``target`` CRS that contains it."""
    from pyproj import CRS, Transformer

    if CRS.from_user_input(source) == CRS.from_user_input(target):
        return bbox
    transformer = Transformer.from_crs(source, target, always_xy=True)
    return transformer.transform_bounds(*bbox, densify_pts=21)


def _select_bbox(
    dataset: Any,
    bbox: tuple[float, float, float, float],
    bbox_crs: str,
    native_crs: str | None,
    infos: Mapping[str, AssetInfo],
    data_id: str,
    store_id: str | None,
) -> Any:
    if native_crs is None:
        raise InvalidParameterError(
            "bbox cannot be applied: the item has no projection metadata",
            store_id=store_id,
            data_id=data_id,
            parameter="bbox",
        )
    box = transform_bbox(bbox, bbox_crs, native_crs)
    selection = {}
    for x_name in [d for d in dataset.dims if d == "x" or d.startswith("x_")]:
        y_name = "y" + x_name[1:]
        key = x_name[2:]
        grid_crs = infos[key].grid.crs if key in infos and infos[key].grid else native_crs
        own = transform_bbox(bbox, bbox_crs, grid_crs) if grid_crs != native_crs else box
        selection[x_name] = _slice(dataset[x_name].values, own[0], own[2])
        if y_name in dataset.dims:
            selection[y_name] = _slice(dataset[y_name].values, own[1], own[3])
    return dataset.sel(selection)


def _slice(values: Any, low: float, high: float) -> slice:
    if values.size > 1 and values[0] > values[-1]:
        return slice(high, low)
    return slice(low, high)


def _item_attrs(item: Mapping[str, Any], stac_url: str | None) -> dict[str, Any]:
    from .api import self_href

    properties = item.get("properties", {})
    attrs: dict[str, Any] = {
        "stac_item_id": item.get("id"),
        "stac_collection": item.get("collection"),
        "stac_item_url": self_href(dict(item)),
        "stac_url": stac_url,
        "datetime": properties.get("datetime"),
    }
    for key in ("eo:cloud_cover", "platform", "proj:code"):
        if key in properties:
            attrs[key] = properties[key]
    return {k: v for k, v in attrs.items() if v is not None}
