"""Which data ids exist and how each is described: the CLMS catalogue, cached on disk.

A data id is ``<dataset id>|<file name>`` for each pre-packaged raster file (GeoTIFF or
NetCDF) of a dataset the CLMS portal serves itself (``full_source`` EEA). Datasets whose
download information names another place (CDSE, WEkEO, legacy archives) are listed by
their dataset id alone, described with that place, and cannot be preloaded here.

The catalogue is read from ``@search`` (every batch, anonymously) and kept as JSON in a
local file for ``catalog_ttl`` seconds; a stale file is used when the service cannot be
reached.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eostores.errors import DataStoreError

from .config import DATA_ID_SEPARATOR

__all__ = ["Catalog", "Entry", "Product", "ProductFile", "describe", "load_catalog"]

logger = logging.getLogger("eostores.clms")

_RASTER_FORMATS = {"geotiff": "GeoTIFF", "tiff": "GeoTIFF", "tif": "GeoTIFF", "netcdf": "NetCDF"}
_SERVED_HERE = "EEA"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CACHE_VERSION = 1


@dataclass(frozen=True)
class ProductFile:
    """A pre-packaged downloadable file: the service's id (``@id``) and name (``file``)."""

    file_id: str
    name: str
    format: str
    size: str = ""
    year: str = ""
    version: str = ""


@dataclass(frozen=True)
class Product:
    """A CLMS dataset: its ids, extent, where it is hosted and its downloadable files."""

    id: str
    uid: str
    title: str
    url: str = ""
    description: str = ""
    crs: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    time_range: tuple[str | None, str | None] | None = None
    source: str = _SERVED_HERE
    location: str = ""
    files: tuple[ProductFile, ...] = field(default_factory=tuple)

    @property
    def hosted_here(self) -> bool:
        """Whether the CLMS download service delivers this dataset."""
        return self.source.upper() == _SERVED_HERE

    @property
    def place(self) -> str:
        """Where a dataset hosted elsewhere can be found, for messages."""
        return f"{self.source} ({self.location})" if self.location else self.source

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Product | None:
        """The product of one ``@search`` item, or ``None`` when it is unusable."""
        product_id, uid = item.get("id"), item.get("UID")
        if not _clean_name(product_id) or DATA_ID_SEPARATOR in product_id or not _clean_name(uid):
            return None
        info = _items(item.get("dataset_download_information"))
        first = info[0] if info else {}
        source = str(first.get("full_source") or _SERVED_HERE).strip() or _SERVED_HERE
        location = str(first.get("full_path") or "").strip()
        files = []
        seen: set[str] = set()
        for entry in _items(item.get("downloadable_files")):
            name, file_id = entry.get("file"), entry.get("@id")
            fmt = _RASTER_FORMATS.get(str(entry.get("format") or "").strip().lower())
            if fmt is None or not _clean_name(name) or not _clean_name(file_id) or name in seen:
                continue
            seen.add(name)
            files.append(
                ProductFile(
                    file_id=file_id,
                    name=name,
                    format=fmt,
                    size=str(entry.get("size") or ""),
                    year=str(entry.get("year") or ""),
                    version=str(entry.get("version") or ""),
                )
            )
        crs_list = item.get("coordinateReferenceSystemList")
        crs = next((str(c) for c in crs_list or () if isinstance(c, str) and c), None)
        return cls(
            id=product_id,
            uid=uid,
            title=str(item.get("title") or product_id),
            url=str(item.get("@id") or ""),
            description=str(item.get("description") or ""),
            crs=crs,
            bbox=_union_bbox(_items(item.get("geographicBoundingBox"))),
            time_range=_time_range(item.get("temporalExtentStart"), item.get("temporalExtentEnd")),
            source=source,
            location=location,
            files=tuple(files),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Product:
        values = dict(data)
        values["files"] = tuple(ProductFile(**f) for f in values.get("files", ()))
        for key in ("bbox", "time_range"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


def _clean_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not _CONTROL.search(value)


def _items(value: Any) -> list[Mapping[str, Any]]:
    items = value.get("items") if isinstance(value, Mapping) else value
    return [i for i in items or () if isinstance(i, Mapping)] if isinstance(items, list) else []


def _union_bbox(boxes: Iterable[Mapping[str, Any]]) -> tuple[float, float, float, float] | None:
    found = []
    for box in boxes:
        try:
            west, south = float(box["west"]), float(box["south"])
            east, north = float(box["east"]), float(box["north"])
        except (KeyError, TypeError, ValueError):
            continue
        if -180 <= west <= east <= 180 and -90 <= south <= north <= 90:
            found.append((west, south, east, north))
    if not found:
        return None
    return (
        min(b[0] for b in found),
        min(b[1] for b in found),
        max(b[2] for b in found),
        max(b[3] for b in found),
    )


def _date(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    match = re.match(r"\s*(\d{4}-\d{2}-\d{2})", value)
    return match.group(1) if match else None


def _time_range(start: Any, end: Any) -> tuple[str | None, str | None] | None:
    first, last = _date(start), _date(end)
    return None if first is None and last is None else (first, last)


@dataclass(frozen=True)
class Entry:
    """A data id and what it designates: a file of a product, or a product hosted elsewhere."""

    data_id: str
    product: Product
    file: ProductFile | None = None

    @property
    def preloadable(self) -> bool:
        return self.product.hosted_here and self.file is not None


class Catalog:
    """The data ids of the service, in catalogue order."""

    def __init__(self, products: Iterable[Product]):
        self.products = list(products)
        self.entries: dict[str, Entry] = {}
        for product in self.products:
            if product.files:
                for file in product.files:
                    data_id = f"{product.id}{DATA_ID_SEPARATOR}{file.name}"
                    self.entries.setdefault(data_id, Entry(data_id, product, file))
            elif not product.hosted_here:
                self.entries.setdefault(product.id, Entry(product.id, product))

    @classmethod
    def from_items(cls, items: Iterable[Mapping[str, Any]]) -> Catalog:
        products = []
        for item in items:
            product = Product.from_item(item)
            if product is None:
                logger.warning("skipping a catalogue item without a usable id or UID")
            else:
                products.append(product)
        return cls(products)

    def get(self, data_id: str) -> Entry | None:
        return self.entries.get(data_id)

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(product) for product in self.products]

    @classmethod
    def from_json(cls, data: Iterable[Mapping[str, Any]]) -> Catalog:
        return cls(Product.from_dict(product) for product in data)


# --------------------------------------------------------------------------- disk cache


def _read_cache(path: Path, api_url: str) -> tuple[float, Catalog] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != _CACHE_VERSION or data.get("api_url") != api_url:
            return None
        return float(data["fetched_at"]), Catalog.from_json(data["products"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.warning("ignoring the unreadable catalogue cache %s: %s", path, error)
        return None


def _write_cache(path: Path, api_url: str, catalog: Catalog) -> None:
    payload = {
        "version": _CACHE_VERSION,
        "api_url": api_url,
        "fetched_at": time.time(),
        "products": catalog.to_json(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(payload, file)
        os.replace(temporary, path)
    except OSError as error:
        logger.warning("cannot write the catalogue cache %s: %s", path, error)


def load_catalog(api: Any, cache_file: Path | None, ttl: float) -> Catalog:
    """The catalogue: from ``cache_file`` when younger than ``ttl`` seconds, else from
    ``@search`` (and saved there); a stale file stands in when the service fails."""
    cached = _read_cache(cache_file, api.api_url) if cache_file is not None else None
    if cached is not None and time.time() - cached[0] < ttl:
        return cached[1]
    try:
        catalog = Catalog.from_items(api.catalogue_items())
    except DataStoreError as error:
        if cached is None:
            raise
        logger.warning("using the stale catalogue cache because @search failed: %s", error)
        return cached[1]
    if cache_file is not None:
        _write_cache(cache_file, api.api_url, catalog)
    return catalog


# --------------------------------------------------------------------------- describing


def _projected_bbox(
    bbox: tuple[float, float, float, float] | None, crs: str | None
) -> tuple[float, float, float, float] | None:
    if bbox is None or crs is None:
        return None
    if crs.upper() in ("EPSG:4326", "OGC:CRS84"):
        return bbox
    try:
        from rasterio.warp import transform_bounds

        return tuple(transform_bounds("EPSG:4326", crs, *bbox, densify_pts=21))  # type: ignore[return-value]
    except Exception:  # an unknown CRS code: the extent stays unknown in that CRS
        return None


def describe(entry: Entry) -> Any:
    """The descriptor of ``entry`` from catalogue metadata (no data is read)."""
    from eostores.descriptor import DatasetDescriptor

    product = entry.product
    attrs: dict[str, Any] = {"title": product.title, "source": product.source}
    if product.description:
        attrs["description"] = product.description
    if product.url:
        attrs["product_url"] = product.url
    if product.bbox is not None:
        attrs["geographic_bbox"] = list(product.bbox)
    if entry.file is not None:
        attrs.update(file=entry.file.name, format=entry.file.format)
        if entry.file.size:
            attrs["size"] = entry.file.size
    if not entry.preloadable:
        attrs["hosted_by"] = product.place
        attrs["description"] = (
            f"Hosted by {product.place}; the CLMS download service does not deliver it. "
            + product.description
        ).strip()
    return DatasetDescriptor(
        data_id=entry.data_id,
        crs=product.crs,
        bbox=_projected_bbox(product.bbox, product.crs),
        time_range=product.time_range,
        attrs=attrs,
    )
