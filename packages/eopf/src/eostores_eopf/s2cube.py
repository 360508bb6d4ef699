"""Sentinel-2 cubes across UTM zones, built by the cube builder of eostores-stac.

Each item becomes a typed item record of eostores-stac (``eostores_stac.records.Item``)
whose assets are the chosen bands, one per output variable, each on its native grid: the
resolution group the analysis-mode rule picks for the target resolution
(:func:`.products.s2_source_resolution`), its grid from the item's projection metadata
(or from the product's coordinates where the item has none). The builder
(``eostores_stac.stack.CubeBuilder``) plans the output grid, groups the items per solar
day, reads every band once into the output grid (pasting where the grids agree,
resampling otherwise) and mosaicks the tiles, first valid pixel in time order. It reads
the bands through :class:`EopfAssetAccess`, which serves each band as a Zarr group of its
own (:mod:`.arrayview`) read through the store's range-reading file system.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from eostores.errors import DataNotFoundError, ServiceError

from .api import open_product, product_key_url
from .arrayview import ArrayView, ArrayViewFileSystem
from .catalog import EopfItem, for_each_product
from .config import STORE_ID, EopfSettings
from .products import Variable, s2_resolution_order, s2_source_resolution
from .schema import OpenRequest, resampling_methods

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["EopfAssetAccess", "grid_from_item", "open_s2_cube"]

#: Our method names -> the resampling names of the builder (rasterio's).
_RESAMPLING = {
    "nearest": "nearest",
    "bilinear": "bilinear",
    "center": "nearest",
    "mean": "average",
    "median": "med",
    "min": "min",
    "max": "max",
    "sum": "sum",
    "mode": "mode",
}

_views: dict[Any, ArrayViewFileSystem] = {}
_views_lock = threading.Lock()


def _view_fs(settings: EopfSettings) -> ArrayViewFileSystem:
    """The process's array view file system for ``settings``."""
    key = (settings.http, tuple(sorted((k, repr(v)) for k, v in settings.storage_options.items())))
    with _views_lock:
        fs = _views.get(key)
        if fs is None:
            fs = _views[key] = ArrayViewFileSystem(settings)
    return fs


class EopfAssetAccess:
    """How the cube builder reads band assets: each as a one-array Zarr group. Picklable."""

    store_id = STORE_ID

    def __init__(self, settings: EopfSettings, views: dict[str, ArrayView]):
        self.settings = settings
        self.views = dict(views)
        fs = _view_fs(settings)
        for view in self.views.values():
            fs.register(view)

    def __reduce__(self) -> tuple[Any, ...]:
        return EopfAssetAccess, (self.settings, self.views)

    def __repr__(self) -> str:
        return f"EopfAssetAccess(store_id={self.store_id!r})"

    @property
    def cache_key(self) -> str:
        return f"{STORE_ID}|{self.settings.url}|{self.settings.http!r}"

    def location(self, href: str) -> tuple[Any, str]:
        view = self.views.get(href)
        if view is None:
            raise FileNotFoundError(href)
        return _view_fs(self.settings), view.root

    def local_path(self, href: str) -> str | None:
        return None

    def probe(self, href: str) -> BaseException | None:
        """Why the band at ``href`` cannot be read (its product's metadata fails), or None."""
        view = self.views.get(href)
        try:
            if view is None:
                raise FileNotFoundError(href)
            _view_fs(self.settings).product_metadata(view.product, view.zarr_format)
        except Exception as error:
            return error
        return None


def band_resolutions(request: OpenRequest) -> dict[str, int]:
    """Per output variable, the resolution group it is read from (the analysis-mode rule)."""
    source = s2_source_resolution(request.resolution, request.geographic)
    chosen = {}
    for name, variable in request.variables.items():
        order = s2_resolution_order(source)
        chosen[name] = next(r for r in order if r in variable.groups)
    return chosen


def _asset_grid(asset: Any, properties: Mapping[str, Any]) -> Any:
    """The grid of an asset from its projection metadata (``proj:transform``, or
    ``proj:bbox``, and ``proj:shape``); None if it has none or an unusable one."""
    from eostores_stac.records import Grid

    if not isinstance(asset, Mapping):
        return None
    crs = asset.get("proj:code") or properties.get("proj:code")
    epsg = asset.get("proj:epsg") or properties.get("proj:epsg")
    if not crs and isinstance(epsg, int):
        crs = f"EPSG:{epsg}"
    transform, box, shape = (asset.get(k) for k in ("proj:transform", "proj:bbox", "proj:shape"))
    try:
        rows, cols = (int(n) for n in shape)
        if transform and len(transform) >= 6:
            numbers = tuple(float(v) for v in transform[:6])
        else:
            west, south, east, north = (float(v) for v in box)
            numbers = ((east - west) / cols, 0.0, west, 0.0, (south - north) / rows, north)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not crs or rows < 1 or cols < 1 or numbers[1] or numbers[3] or not numbers[0]:
        return None
    return Grid(str(crs), numbers, (rows, cols))  # type: ignore[arg-type]


def _regridded(grid: Any, resolution: int) -> Any:
    """``grid``'s extent in cells of ``resolution`` (None if they do not tile it)."""
    from eostores_stac.records import Grid

    a, _, c, _, e, f = grid.transform
    size = (grid.shape[0] * abs(e) / resolution, grid.shape[1] * abs(a) / resolution)
    if any(n < 1 or abs(n - round(n)) > 1e-6 for n in size):
        return None
    step_x, step_y = math.copysign(resolution, a), math.copysign(resolution, e)
    return Grid(grid.crs, (step_x, 0.0, c, 0.0, step_y, f), (round(size[0]), round(size[1])))


def grid_from_item(item: EopfItem, variable: Variable, resolution: int) -> Any:
    """The grid of the band's resolution group from the item's projection metadata.

    The sample service publishes each band at its native resolution only, and the groups
    of a tile share one extent: the grid is that of an asset at ``resolution`` (the band's
    own first), else that of another asset (the band's own first) in cells of
    ``resolution``; None if no asset has a grid.
    """
    assets = item.document.get("assets")
    if not isinstance(assets, Mapping):
        return None
    own = f"{(variable.array or variable.name).upper()}_"
    keys = sorted(assets, key=lambda key: not str(key).upper().startswith(own))
    grids = [g for g in (_asset_grid(assets[k], item.properties) for k in keys) if g is not None]
    for grid in grids:
        if abs(grid.resolution - resolution) < 1e-9:
            return grid
    regridded = (_regridded(grid, resolution) for grid in grids)
    return next((grid for grid in regridded if grid is not None), None)


def _grid_from_product(
    settings: EopfSettings, item: EopfItem, variable: Variable, resolution: int, zarr_format: int
) -> Any:
    """The band's grid from the product's x/y coordinates and CRS attributes."""
    from eostores_stac.records import Grid

    tree = open_product(settings, item.product_href, item_id=item.id, zarr_format=zarr_format)
    group = variable.groups[resolution]
    try:
        dataset = tree[group].to_dataset()
        array = dataset[variable.array or variable.name]
    except KeyError:
        raise ServiceError(
            f"the product of item {item.id!r} has no {variable.path(resolution)!r}",
            store_id=STORE_ID,
        ) from None
    epsg = array.attrs.get("proj:epsg")
    crs = f"EPSG:{epsg}" if epsg else None
    crs = crs or (tree.attrs.get("other_metadata") or {}).get("horizontal_CRS_code")
    crs = crs or item.properties.get("proj:code")
    x, y = dataset["x"].values, dataset["y"].values
    if not crs or len(x) < 2 or len(y) < 2:
        raise ServiceError(
            f"the product of item {item.id!r} gives no grid for {variable.path(resolution)!r}",
            store_id=STORE_ID,
        )
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    transform = (dx, 0.0, float(x[0]) - dx / 2, 0.0, dy, float(y[0]) - dy / 2)
    return Grid(str(crs), transform, (len(y), len(x)))


def _product_format(settings: EopfSettings, item: EopfItem) -> int:
    """The product's Zarr format, its metadata read (once per process); DataNotFoundError
    if the product is missing."""
    try:
        return _view_fs(settings).product_metadata(item.product_href, item.zarr_format)[0]
    except FileNotFoundError as error:
        raise DataNotFoundError(
            f"the product of item {item.id!r} is missing ({error})", store_id=STORE_ID
        ) from None


def _item_record(
    settings: EopfSettings,
    item: EopfItem,
    variables: dict[str, Variable],
    resolutions: dict[str, int],
) -> tuple[Any, dict[str, ArrayView]]:
    """The item as an eostores-stac record with one asset per output variable, and the
    array views of those assets."""
    import dataclasses

    from eostores_stac.records import Asset, parse_item

    zarr_format = _product_format(settings, item)
    views: dict[str, ArrayView] = {}
    assets = {}
    for name, variable in variables.items():
        resolution = resolutions[name]
        path = variable.path(resolution)
        href = product_key_url(item.product_href, path)
        group, _, array = path.rpartition("/")
        views[href] = ArrayView(item.product_href, group, array, zarr_format)
        grid = grid_from_item(item, variable, resolution)
        if grid is None:
            grid = _grid_from_product(settings, item, variable, resolution, zarr_format)
        assets[name] = Asset(
            key=name,
            href=href,
            format="zarr",
            media_type="application/vnd+zarr",
            title=variable.long_name,
            roles=("data",),
            dtype="float32",
            grid=grid,
        )
    record = parse_item(item.document, data_id=item.id)
    return dataclasses.replace(record, assets=assets), views


def stac_records(
    settings: EopfSettings, items: list[EopfItem], request: OpenRequest
) -> tuple[list[Any], dict[str, ArrayView], dict[str, int]]:
    """The items as eostores-stac records with one asset per output variable.

    Products are read in parallel; items whose product is missing are left out or fail
    the call, as ``request.error_policy`` says (:func:`.catalog.for_each_product`).
    """
    resolutions = band_resolutions(request)
    names = list(request.variables) or [next(iter(request.product.variables))]
    variables = {n: request.variables.get(n) or request.product.variables[n] for n in names}
    if not request.variables:
        resolutions = {names[0]: min(variables[names[0]].groups)}

    def one(item: EopfItem) -> tuple[Any, dict[str, ArrayView]]:
        return _item_record(settings, item, variables, resolutions)

    found = for_each_product(settings, items, one, request.error_policy)
    views = {href: view for _, (_, item_views) in found for href, view in item_views.items()}
    return [record for _, (record, _) in found], views, resolutions


def open_s2_cube(
    settings: EopfSettings, items: list[EopfItem], request: OpenRequest, data_id: str
) -> tuple[xr.Dataset, list[list[str]], dict[str, str]]:
    """The cube, the item ids per time step and the resampling method per variable."""
    from eostores_stac.stack import CubeBuilder

    records, views, resolutions = stac_records(settings, items, request)
    sources = {name: float(resolutions[name]) for name in request.variables}
    methods = resampling_methods(
        request.params, request.variables, sources, request.resolution_m, data_id
    )
    params: dict[str, Any] = {
        "bbox": request.bbox,
        "crs": request.crs,
        "time_range": request.time_range,
        "tile_size": request.tile_size,
        "groupby": "solar_day",
        "resampling": {name: _RESAMPLING[method] for name, method in methods.items()} or None,
        "apply_scaling": False,
        "error_policy": "fail",
    }
    load_names = list(resolutions)
    access = EopfAssetAccess(settings, views)
    catalog = SimpleNamespace(access=access, url=settings.url, store_id=STORE_ID)
    builder = CubeBuilder(
        catalog,  # type: ignore[arg-type]
        data_id,
        records,
        list(request.variables),
        load_names,
        params,
        request.resolution,
    )
    cube = builder.build(dict(_template_assets(load_names)))
    return cube, [list(group) for group in builder.groups] if records else [], methods


def _template_assets(names: list[str]) -> list[tuple[str, Any]]:
    from eostores_stac.records import Asset

    return [(name, Asset(key=name, href="", format="zarr", dtype="float32")) for name in names]
