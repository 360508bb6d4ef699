"""Item mode: one STAC item -> one lazy xarray.Dataset of its chosen assets."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eostores.errors import DataStoreError, InvalidParameterError
from eostores.schema import parse_bbox, parse_time_range, resolve_variable_names

from . import schema
from .assets import AssetReadWarning, open_asset
from .catalog import StacCatalog
from .convert import apply_raster_extension, item_dataset

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["open_item", "validate_item_params"]


def validate_item_params(
    open_params: Mapping[str, Any], *, store_id: str, data_id: str
) -> dict[str, Any]:
    """The checked and parsed open parameters; everything but variable names, no request."""
    context = dict(store_id=store_id, data_id=data_id)
    params = schema.item_open_params_schema().validate_params(open_params, **context)
    parsed: dict[str, Any] = dict(params)
    crs = params.get("crs")
    geographic = crs is not None and schema.crs_is_geographic(crs, **context)
    try:
        if params.get("bbox") is not None:
            parsed["bbox"] = parse_bbox(params["bbox"], geographic=geographic)
        if params.get("time_range") is not None:
            parsed["time_range"] = parse_time_range(params["time_range"])
    except InvalidParameterError as error:
        raise InvalidParameterError(error.message, parameter=error.parameter, **context) from None
    if params.get("tile_size") is not None:
        size = params["tile_size"]
        parsed["tile_size"] = (size, size) if isinstance(size, int) else tuple(size)
    return parsed


def open_item(catalog: StacCatalog, data_id: str, params: Mapping[str, Any]) -> xr.Dataset:
    """Open the chosen assets of item ``data_id`` (``params`` from validate_item_params)."""
    item = catalog.item(data_id)
    try:
        names = resolve_variable_names(params.get("variable_names"), list(item.assets))
    except InvalidParameterError as error:
        raise InvalidParameterError(
            error.message, store_id=catalog.store_id, data_id=data_id, parameter="variable_names"
        ) from None
    access = catalog.access
    error_policy = params.get("error_policy", "fail")
    access.prefetch([item.assets[name].href for name in names])
    parts = []
    for name in names:
        asset = item.assets[name]
        try:
            dataset = open_asset(
                asset,
                access,
                spatial_res=params.get("spatial_res"),
                tile_size=params.get("tile_size"),
                error_policy=error_policy,
            )
        except DataStoreError as error:
            if error_policy == "fail":
                raise
            if error_policy == "warn":
                warnings.warn(f"{error}; the asset is left out", AssetReadWarning, stacklevel=3)
            continue
        parts.append(
            (asset, apply_raster_extension(dataset, asset, params.get("apply_scaling", True)))
        )
    return item_dataset(
        item,
        parts,
        bbox=params.get("bbox"),
        crs=params.get("crs"),
        time_range=params.get("time_range"),
        stac_url=catalog.url,
        store_id=catalog.store_id,
    )
