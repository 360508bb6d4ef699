"""Opening a cube: size bound, item search, the product family's cube, the conventions.

The grid is bounded before anything is requested (with one time step) and again once the
items say how many time steps there are. Sentinel-2 cubes are built by eostores-stac's
cube builder (:mod:`.s2cube`); swath products are rectified (:mod:`.swathcube`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .catalog import Catalog, EopfItem
from .config import STORE_ID, EopfSettings
from .convert import finish_cube, spatial_coords, to_cube
from .products import ProductType
from .schema import OpenRequest, resampling_methods

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["check_size", "open_cube"]


def check_size(request: OpenRequest, time_steps: int, data_id: str, max_bytes: Any) -> None:
    """Refuse a grid larger than ``max_request_bytes`` (float32 cells)."""
    from eostores.limits import check_grid_size

    rows, columns = request.shape
    check_grid_size(
        (max(1, time_steps), max(1, len(request.variables)), rows, columns),
        4,
        max_bytes=max_bytes,
        store_id=STORE_ID,
        data_id=data_id,
    )


def variable_attrs(request: OpenRequest) -> dict[str, dict[str, Any]]:
    """The analysis-mode attributes of each output variable."""
    result = {}
    for name, variable in request.variables.items():
        attrs: dict[str, Any] = {}
        if variable.long_name:
            attrs["long_name"] = variable.long_name
        if variable.units:
            attrs["units"] = variable.units
        attrs.update(variable.attrs)
        attrs["source_variable"] = variable.name
        result[name] = attrs
    return result


def output_dtypes(request: OpenRequest) -> dict[str, str]:
    return {
        name: variable.dtype if variable.categorical else "float32"
        for name, variable in request.variables.items()
    }


def cube_attrs(
    request: OpenRequest, settings: EopfSettings, groups: list[list[str]], methods: dict[str, str]
) -> dict[str, Any]:
    """Provenance: where the cube came from and how it was made."""
    shown = {k: v for k, v in request.params.items() if v is not None}
    return {
        "title": f"{request.product.title} cube",
        "source": "EOPF Sentinel Zarr Samples",
        "stac_url": settings.url,
        "stac_collection": request.product.collection,
        "stac_item_ids": [item for group in groups for item in group],
        "stac_items_per_time": [list(group) for group in groups],
        "product_type": request.product.product_type,
        "resampling": dict(methods),
        "open_params": _json_safe(shown),
        "history": f"{datetime.now(UTC).isoformat(timespec='seconds')} "
        f"opened by eostores-eopf {__version__}",
    }


def _json_safe(value: Any) -> Any:
    from eostores.descriptor import to_json_value

    return to_json_value(value)


def open_cube(
    settings: EopfSettings, catalog: Catalog, request: OpenRequest, data_id: str
) -> xr.Dataset:
    """The cube of ``request`` (checked by :func:`.schema.parse_open_params`)."""
    check_size(request, 1, data_id, settings.max_request_bytes)
    catalog.collection(data_id)
    items = catalog.find_items(
        data_id, bbox=request.lonlat_bbox, time_range=request.time_range, query=request.query
    )
    days = len({item.solar_day for item in items})
    check_size(request, days, data_id, settings.max_request_bytes)
    product = request.product
    if product.is_tiled:
        from .s2cube import open_s2_cube

        cube, groups, methods = open_s2_cube(settings, items, request, data_id)
    else:
        cube, groups, methods = _open_swath_cube(settings, items, request, product, data_id)
    cube = finish_cube(
        cube,
        crs=request.crs,
        variable_attrs=variable_attrs(request),
        dtypes=output_dtypes(request),
        attrs=cube_attrs(request, settings, groups, methods),
    )
    return to_cube(cube) if request.force_cube else cube


def _open_swath_cube(
    settings: EopfSettings,
    items: list[EopfItem],
    request: OpenRequest,
    product: ProductType,
    data_id: str,
) -> tuple[xr.Dataset, list[list[str]], dict[str, str]]:
    from .rectify import grid_for
    from .swathcube import rectified_layers, stack_days, swath_dataset

    grid = grid_for(request.bbox, request.resolution, request.crs)
    sources = {n: float(v.native_resolution) for n, v in request.variables.items()}
    methods = resampling_methods(
        request.params, request.variables, sources, request.resolution_m, data_id
    )
    coords = spatial_coords(request.crs, grid.transform, grid.shape, request.geographic)
    found = rectified_layers(
        settings,
        items,
        request.variables,
        grid,
        request.lonlat_bbox,
        methods,
        request.tile_size,
        request.error_policy,
    )
    times, stacked, groups = stack_days(found, list(request.variables), grid.shape)
    if not times:
        import dask.array as da
        import xarray as xr

        y_name, x_name = list(coords)
        empty = {
            name: (("time", y_name, x_name), da.zeros((0, *grid.shape), dtype="float32"))
            for name in request.variables
        }
        times_coord = np.array([], dtype="datetime64[ns]")
        return xr.Dataset(empty, coords={"time": times_coord, **coords}), [], methods
    return swath_dataset(times, stacked, coords), groups, methods
