"""What STAC metadata says about data: readable assets, their grids and scaling, descriptors.

Everything here works on item and collection documents (dicts) alone; nothing reads data.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from eostores.descriptor import DatasetDescriptor, VariableDescriptor

from .api import self_href

__all__ = [
    "AssetInfo",
    "Grid",
    "asset_infos",
    "collection_descriptor",
    "collection_variables",
    "item_descriptor",
]

#: Asset roles that never hold data to open.
_NON_DATA_ROLES = {"thumbnail", "overview", "metadata", "visual"}
_FORMATS_BY_SUFFIX = {
    ".tif": "geotiff",
    ".tiff": "geotiff",
    ".cog": "geotiff",
    ".jp2": "geotiff",
    ".zarr": "zarr",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".h5": "netcdf",
    ".hdf5": "netcdf",
}
_DTYPES = {
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
}  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """A regular pixel grid: CRS, affine transform (6 numbers, GDAL order a..f) and shape."""

    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]

    @property
    def resolution(self) -> float:
        return abs(self.transform[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        a, _, c, _, e, f = self.transform
        height, width = self.shape
        xs = (c, c + a * width)
        ys = (f, f + e * height)
        return (min(xs), min(ys), max(xs), max(ys))

    def coords(self) -> tuple[Any, Any]:
        """Pixel-centre x and y coordinates (in the grid's own order)."""
        import numpy as np

        a, _, c, _, e, f = self.transform
        height, width = self.shape
        return c + a * (np.arange(width) + 0.5), f + e * (np.arange(height) + 0.5)


@dataclass(frozen=True)
class AssetInfo:
    """A readable data asset of an item: where it is, its format, grid and scaling."""

    key: str
    href: str
    format: str
    media_type: str | None = None
    title: str | None = None
    roles: tuple[str, ...] = ()
    dtype: str | None = None
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None
    unit: str | None = None
    grid: Grid | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def scaled(self) -> bool:
        return self.scale not in (None, 1) or self.offset not in (None, 0)

    def output_dtype(self, apply_scaling: bool) -> str:
        """The dtype of the variable as opened."""
        dtype = self.dtype or "float32"
        if apply_scaling and (self.scaled or self.nodata is not None):
            return "float64" if dtype in ("float64", "int32", "uint32", "int64") else "float32"
        return dtype

    def attrs(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name in ("title", "unit", "nodata", "scale", "offset"):
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        if self.media_type:
            result["media_type"] = self.media_type
        if self.roles:
            result["roles"] = list(self.roles)
        result["stac_asset"] = self.key
        return result


def asset_format(asset: Mapping[str, Any]) -> str | None:
    """``geotiff``, ``zarr`` or ``netcdf`` from the media type or the href suffix."""
    media = str(asset.get("type") or "").lower()
    if "tiff" in media or "geotiff" in media or "jp2" in media:
        return "geotiff"
    if "zarr" in media:
        return "zarr"
    if "netcdf" in media or "x-hdf" in media or "hdf5" in media:
        return "netcdf"
    path = urlsplit(str(asset.get("href", ""))).path.rstrip("/")
    if "filename=" in str(asset.get("href", "")):
        path = str(asset["href"]).rsplit("filename=", 1)[1].split("&", 1)[0]
    suffix = posixpath.splitext(path)[1].lower()
    return _FORMATS_BY_SUFFIX.get(suffix)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf"):
        return float(value)
    return None


def _grid(asset: Mapping[str, Any], item: Mapping[str, Any]) -> Grid | None:
    properties = item.get("properties", {})
    crs = asset.get("proj:code") or properties.get("proj:code")
    epsg = asset.get("proj:epsg", properties.get("proj:epsg"))
    if not crs and isinstance(epsg, int):
        crs = f"EPSG:{epsg}"
    if not crs:
        crs = asset.get("proj:wkt2") or properties.get("proj:wkt2")
    transform = asset.get("proj:transform") or properties.get("proj:transform")
    shape = asset.get("proj:shape") or properties.get("proj:shape")
    if not (crs and transform and shape) or len(transform) < 6 or len(shape) != 2:
        return None
    return Grid(str(crs), tuple(float(v) for v in transform[:6]), (int(shape[0]), int(shape[1])))


def resolve_href(href: str, item: Mapping[str, Any]) -> str:
    """``href`` made absolute against the item's self link (relative hrefs in static catalogs)."""
    base = self_href(dict(item))
    if "://" in href or base is None:
        return href
    return urljoin(base, href)


def asset_infos(item: Mapping[str, Any]) -> dict[str, AssetInfo]:
    """The readable data assets of ``item`` by key, in document order."""
    result: dict[str, AssetInfo] = {}
    for key, asset in (item.get("assets") or {}).items():
        roles = tuple(asset.get("roles") or ())
        if _NON_DATA_ROLES & set(roles) and "data" not in roles:
            continue
        fmt = asset_format(asset)
        if fmt is None:
            continue
        bands = asset.get("raster:bands") or [{}]
        band = bands[0] if bands and isinstance(bands[0], Mapping) else {}
        dtype = band.get("data_type")
        extra = {k: v for k, v in asset.items() if k.startswith("xcube:")}
        result[key] = AssetInfo(
            key=key,
            href=resolve_href(str(asset.get("href", "")), item),
            format=fmt,
            media_type=asset.get("type"),
            title=asset.get("title"),
            roles=roles,
            dtype=dtype if dtype in _DTYPES else None,
            nodata=_number(band.get("nodata")),
            scale=_number(band.get("scale")),
            offset=_number(band.get("offset")),
            unit=band.get("unit"),
            grid=_grid(asset, item),
            extra=extra,
        )
    return result


def flat_bbox(box: Any) -> tuple[float, ...] | None:
    """The (xmin, ymin, xmax, ymax) of a STAC bbox of 4 or 6 numbers (None if there is none)."""
    return tuple(box[:2]) + tuple(box[-2:]) if box else None


def item_time_range(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    properties = item.get("properties", {})
    when = properties.get("datetime")
    start = properties.get("start_datetime") or when
    end = properties.get("end_datetime") or when
    return start, end


def primary_grid(assets: Iterable[AssetInfo]) -> Grid | None:
    """The grid most assets share (the finest on a tie): the dataset's ``x``/``y``."""
    counts: dict[Grid, int] = {}
    for info in assets:
        if info.grid is not None:
            counts[info.grid] = counts.get(info.grid, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda g: (counts[g], -g.resolution))


def dims_for(info: AssetInfo, primary: Grid | None) -> tuple[str, ...]:
    """The dimensions of the variable of ``info``: x/y on the primary grid, suffixed otherwise."""
    if info.grid is None or primary is None or info.grid == primary:
        return ("time", "y", "x")
    return ("time", f"y_{info.key}", f"x_{info.key}")


def item_descriptor(
    data_id: str,
    item: Mapping[str, Any],
    *,
    open_params_schema: Any = None,
    apply_scaling: bool = True,
) -> DatasetDescriptor:
    """Describe an item from its document: extent, time, one variable per data asset."""
    assets = asset_infos(item)
    grid = primary_grid(assets.values())
    properties = item.get("properties", {})
    data_vars = {}
    dims: dict[str, int] = {"time": 1}
    for info in assets.values():
        names = dims_for(info, grid)
        if info.grid is not None:
            dims[names[1]], dims[names[2]] = info.grid.shape
        data_vars[info.key] = VariableDescriptor(
            info.key, info.output_dtype(apply_scaling), names, attrs=info.attrs()
        )
    attrs = {
        "stac_item_id": item.get("id"),
        "stac_collection": item.get("collection"),
        "stac_item_url": self_href(dict(item)),
        "bbox_lonlat": item.get("bbox"),
    }
    for key in ("eo:cloud_cover", "platform", "constellation", "instruments", "gsd"):
        if key in properties:
            attrs[key] = properties[key]
    if grid is not None:
        crs, bbox, res = grid.crs, grid.bounds, grid.resolution
    else:
        crs, bbox, res = "EPSG:4326", flat_bbox(item.get("bbox")), None
    return DatasetDescriptor(
        data_id=data_id,
        crs=crs,
        bbox=bbox,
        time_range=item_time_range(item),
        spatial_res=res,
        dims=dims,
        data_vars=data_vars,
        attrs={k: v for k, v in attrs.items() if v is not None},
        open_params_schema=open_params_schema,
    )


def collection_variables(collection: Mapping[str, Any]) -> dict[str, AssetInfo] | None:
    """Data assets announced by the collection's ``item_assets``, or None if there are none."""
    templates = collection.get("item_assets")
    if not isinstance(templates, Mapping) or not templates:
        return None
    fake_item = {"assets": {k: {"href": "", **v} for k, v in templates.items()}}
    for asset in fake_item["assets"].values():
        if asset_format(asset) is None and "data" in (asset.get("roles") or []):
            asset["type"] = asset.get("type") or "image/tiff"
    return asset_infos(fake_item)


def collection_descriptor(
    collection: Mapping[str, Any],
    variables: Mapping[str, AssetInfo],
    *,
    open_params_schema: Any = None,
) -> DatasetDescriptor:
    """Describe a collection cube from the collection document and its variables."""
    extent = collection.get("extent", {})
    boxes = extent.get("spatial", {}).get("bbox") or [None]
    intervals = extent.get("temporal", {}).get("interval") or [[None, None]]
    interval = intervals[0] if intervals else [None, None]
    resolutions = [v.grid.resolution for v in variables.values() if v.grid is not None]
    data_vars = {
        name: VariableDescriptor(
            name, info.output_dtype(True), ("time", "y", "x"), attrs=info.attrs()
        )
        for name, info in variables.items()
    }
    attrs = {
        key: collection[key]
        for key in ("title", "description", "license", "keywords")
        if collection.get(key) is not None
    }
    return DatasetDescriptor(
        data_id=str(collection.get("id")),
        crs="EPSG:4326",
        bbox=flat_bbox(boxes[0]),
        time_range=(interval[0], interval[1]) if interval else None,
        spatial_res=min(resolutions)
        if resolutions and all(math.isfinite(r) for r in resolutions)
        else None,
        data_vars=data_vars,
        attrs=attrs,
        open_params_schema=open_params_schema,
    )
