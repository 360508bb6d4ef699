"""Typed records of STAC items, their readable assets and collections, parsed once.

An item document is read into an :class:`Item` when it arrives (from an item request, a
search page or a catalog walk); everything after that (descriptors, item mode, cubes,
client-side matching) works on the record and never parses the document again. Asset
hrefs are made absolute here; which of them may be read is decided by the asset access.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

__all__ = [
    "Asset",
    "Collection",
    "Grid",
    "Item",
    "asset_format",
    "band_fields",
    "flat_bbox",
    "parse_collection",
    "parse_item",
    "parse_time",
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
_WIDE_DTYPES = ("float64", "int32", "uint32", "int64", "uint64")


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
class Asset:
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

    @property
    def scaled(self) -> bool:
        return self.scale not in (None, 1) or self.offset not in (None, 0)

    def output_dtype(self, apply_scaling: bool) -> str:
        """The dtype of the variable as opened."""
        dtype = self.dtype or "float32"
        if apply_scaling and (self.scaled or self.nodata is not None):
            return "float64" if dtype in _WIDE_DTYPES else "float32"
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


@dataclass(frozen=True, eq=False)
class Item:
    """One STAC item: identity, footprint, time, properties and readable data assets.

    ``document`` is the item as the service sent it (read-only by convention): filters are
    evaluated on it and service-specific asset fields read from it.
    """

    data_id: str
    id: str
    collection: str | None
    url: str | None
    bbox: tuple[float, float, float, float] | None
    start: str | None
    end: str | None
    properties: Mapping[str, Any]
    assets: Mapping[str, Asset]
    document: Mapping[str, Any] = field(repr=False)

    @cached_property
    def time(self) -> datetime | None:
        """The item's time (its datetime, else the start of its interval), UTC, naive."""
        return parse_time(self.start or self.end)

    @cached_property
    def primary_grid(self) -> Grid | None:
        """The grid most assets share (the finest on a tie): the dataset's ``x``/``y``."""
        return primary_grid(self.assets.values())

    @property
    def native_crs(self) -> str | None:
        grid = self.primary_grid
        return grid.crs if grid is not None else None


@dataclass(frozen=True, eq=False)
class Collection:
    """One STAC collection: identity, extent and the data assets its items carry."""

    id: str
    title: str | None
    description: str | None
    bbox: tuple[float, float, float, float] | None
    interval: tuple[str | None, str | None] | None
    variables: Mapping[str, Asset] | None
    document: Mapping[str, Any] = field(repr=False)


# --------------------------------------------------------------------------- parsing


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 instant as a naive UTC datetime (None for None or an unparsable value)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def asset_format(asset: Mapping[str, Any]) -> str | None:
    """``geotiff``, ``zarr`` or ``netcdf`` from the media type or the href suffix."""
    media = str(asset.get("type") or "").lower()
    if "tiff" in media or "jp2" in media:
        return "geotiff"
    if "zarr" in media:
        return "zarr"
    if "netcdf" in media or "x-hdf" in media or "hdf5" in media:
        return "netcdf"
    href = str(asset.get("href", ""))
    path = urlsplit(href).path.rstrip("/")
    named = parse_qs(urlsplit(href).query).get("filename")
    if named:
        path = named[0]
    return _FORMATS_BY_SUFFIX.get(posixpath.splitext(path)[1].lower())


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf"):
        return float(value)
    return None


def _grid(asset: Mapping[str, Any], properties: Mapping[str, Any]) -> Grid | None:
    def field_(name: str) -> Any:
        return asset.get(name, properties.get(name))

    crs = field_("proj:code")
    epsg = field_("proj:epsg")
    if not crs and isinstance(epsg, int) and not isinstance(epsg, bool):
        crs = f"EPSG:{epsg}"
    if not crs:
        crs = field_("proj:wkt2")
    transform = field_("proj:transform")
    shape = field_("proj:shape")
    try:
        if not (crs and transform and shape) or len(transform) < 6 or len(shape) != 2:
            return None
        numbers = tuple(float(v) for v in transform[:6])
        size = (int(shape[0]), int(shape[1]))
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in numbers) or numbers[0] == 0 or min(size) <= 0:
        return None
    return Grid(str(crs), numbers, size)  # type: ignore[arg-type]


def _self_href(document: Mapping[str, Any]) -> str | None:
    for link in document.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def _resolve(href: str, base: str | None) -> str:
    """``href`` made absolute against ``base`` (relative hrefs of static catalogs)."""
    if "://" in href or base is None:
        return href
    return urljoin(base, href)


def _first_band(bands: Any) -> Mapping[str, Any]:
    """The first entry of a band list (``raster:bands`` or ``bands``), else an empty one."""
    if isinstance(bands, list) and bands and isinstance(bands[0], Mapping):
        return bands[0]
    return {}


def band_fields(asset: Mapping[str, Any]) -> dict[str, Any]:
    """``data_type``, ``nodata``, ``unit``, ``scale`` and ``offset`` of an asset's first band.

    Each is taken from the first place that has it: ``raster:bands[0]`` (STAC 1.0, raster
    v1: ``scale``/``offset``), the asset itself (STAC 1.1 common metadata, raster v2:
    ``raster:scale``/``raster:offset``), then ``bands[0]`` (STAC 1.1 bands, same names).
    """
    places = (
        (_first_band(asset.get("raster:bands")), "scale", "offset"),
        (asset, "raster:scale", "raster:offset"),
        (_first_band(asset.get("bands")), "raster:scale", "raster:offset"),
    )
    result: dict[str, Any] = {}
    for name in ("data_type", "nodata", "unit", "scale", "offset"):
        for place, scale, offset in places:
            value = place.get({"scale": scale, "offset": offset}.get(name, name))
            if value is not None:
                result[name] = value
                break
    return result


def parse_assets(
    assets: Mapping[str, Any], properties: Mapping[str, Any], base: str | None
) -> dict[str, Asset]:
    """The readable data assets by key, in document order."""
    result: dict[str, Asset] = {}
    for key, asset in (assets or {}).items():
        if not isinstance(asset, Mapping) or not isinstance(key, str):
            continue
        roles = tuple(str(r) for r in asset.get("roles") or () if isinstance(r, str))
        if _NON_DATA_ROLES & set(roles) and "data" not in roles:
            continue
        fmt = asset_format(asset)
        if fmt is None:
            continue
        band = band_fields(asset)
        dtype = band.get("data_type")
        unit = band.get("unit")
        result[key] = Asset(
            key=key,
            href=_resolve(str(asset.get("href", "")), base),
            format=fmt,
            media_type=asset.get("type") if isinstance(asset.get("type"), str) else None,
            title=asset.get("title") if isinstance(asset.get("title"), str) else None,
            roles=roles,
            dtype=dtype if dtype in _DTYPES else None,
            nodata=_number(band.get("nodata")),
            scale=_number(band.get("scale")),
            offset=_number(band.get("offset")),
            unit=unit if isinstance(unit, str) else None,
            grid=_grid(asset, properties),
        )
    return result


def flat_bbox(box: Any) -> tuple[float, float, float, float] | None:
    """(xmin, ymin, xmax, ymax) of a STAC bbox (None if there is none).

    A bbox has 4 numbers, or 6 with elevations: ``[xmin, ymin, zmin, xmax, ymax, zmax]``.
    """
    if not isinstance(box, list | tuple) or len(box) not in (4, 6):
        return None
    corners = (
        (box[0], box[1], box[2], box[3]) if len(box) == 4 else (box[0], box[1], box[3], box[4])
    )
    try:
        values = [float(v) for v in corners]
    except (TypeError, ValueError):
        return None
    return (values[0], values[1], values[2], values[3])


def parse_item(document: Mapping[str, Any], data_id: str, url: str | None = None) -> Item:
    """The record of an item document; ``url`` is where it was read (for relative hrefs)."""
    properties = document.get("properties") or {}
    if not isinstance(properties, Mapping):
        properties = {}
    url = _self_href(document) or url
    when = properties.get("datetime")
    return Item(
        data_id=data_id,
        id=str(document.get("id", "")),
        collection=document.get("collection")
        if isinstance(document.get("collection"), str)
        else None,
        url=url,
        bbox=flat_bbox(document.get("bbox")),
        start=properties.get("start_datetime") or when,
        end=properties.get("end_datetime") or when,
        properties=properties,
        assets=parse_assets(document.get("assets") or {}, properties, url),
        document=document,
    )


def parse_collection(document: Mapping[str, Any]) -> Collection:
    """The record of a collection document; variables from its ``item_assets``."""
    extent = document.get("extent")
    extent = extent if isinstance(extent, Mapping) else {}
    spatial, temporal = extent.get("spatial"), extent.get("temporal")
    return Collection(
        id=str(document.get("id", "")),
        title=document.get("title"),
        description=document.get("description"),
        bbox=_overall_bbox(spatial.get("bbox") if isinstance(spatial, Mapping) else None),
        interval=_overall_interval(
            temporal.get("interval") if isinstance(temporal, Mapping) else None
        ),
        variables=_item_assets(document.get("item_assets")),
        document=document,
    )


def _overall_bbox(boxes: Any) -> tuple[float, float, float, float] | None:
    """The overall bbox of a collection extent: the first of STAC's list of bboxes.

    Also read: one flat bbox, and (xcube server) bboxes keyed by dataset id, joined.
    """
    if isinstance(boxes, Mapping):
        found = [box for box in map(flat_bbox, boxes.values()) if box is not None]
        if not found:
            return None
        corners = list(zip(*found, strict=True))
        return (min(corners[0]), min(corners[1]), max(corners[2]), max(corners[3]))
    if not isinstance(boxes, list) or not boxes:
        return None
    return flat_bbox(boxes if _number(boxes[0]) is not None else boxes[0])


def _overall_interval(intervals: Any) -> tuple[str | None, str | None] | None:
    """The overall interval of a collection extent (None if it has none that can be read).

    Read as :func:`_overall_bbox`: STAC's first interval, or (xcube server) the span of
    intervals keyed by dataset id, an open end staying open.
    """
    if isinstance(intervals, Mapping):
        found = [pair for pair in map(_interval, intervals.values()) if pair is not None]
        if not found:
            return None
        starts, ends = [pair[0] for pair in found], [pair[1] for pair in found]
        return (_outermost(starts, min), _outermost(ends, max))
    if isinstance(intervals, list) and intervals:
        return _interval(intervals[0])
    return None


def _interval(value: Any) -> tuple[str | None, str | None] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    start, end = (str(v) if v is not None else None for v in value)
    return (start, end)


def _outermost(times: list[str | None], pick: Any) -> str | None:
    """``pick`` (min or max) of RFC 3339 times by their instant; None (open) if any is."""
    if any(parse_time(t) is None for t in times):
        return None
    return pick(times, key=parse_time)


def _item_assets(templates: Any) -> dict[str, Asset] | None:
    """Data assets announced by a collection's ``item_assets`` (None if there are none)."""
    if not isinstance(templates, Mapping) or not templates:
        return None
    assets = {}
    for key, template in templates.items():
        if not isinstance(template, Mapping):
            continue
        asset = {"href": "", **template}
        if asset_format(asset) is None and "data" in (asset.get("roles") or []):
            asset["type"] = "image/tiff"
        assets[key] = asset
    return parse_assets(assets, {}, None)


def primary_grid(assets: Iterable[Asset]) -> Grid | None:
    """The grid most assets share (the finest on a tie)."""
    counts: dict[Grid, int] = {}
    for asset in assets:
        if asset.grid is not None:
            counts[asset.grid] = counts.get(asset.grid, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda g: (counts[g], -g.resolution))
