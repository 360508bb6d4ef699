"""Which collections the store offers, how each is described, and which items make a cube.

The data ids are the collections the service lists that the store can cube (the product
types of :mod:`.products`). Descriptions come from the collection document and its
``item_assets``, never from a product. Item searches drop deprecated items and items whose
product href is not one the store may read (with a warning naming the item), and keep per
tile and solar day (Sentinel-2) or per acquisition (swaths) only the latest processing
version, preferring non-time-critical over near-real-time products. While a cube is made,
items whose product is missing are left out or fail the cube (:func:`for_each_product`).
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from eostores.errors import DataNotFoundError, DataStoreError

from .api import METADATA_KEYS, EopfApi, check_product_href, run_parallel
from .config import STORE_ID, EopfSettings
from .products import COLLECTIONS, ProductType

if TYPE_CHECKING:
    from eostores.descriptor import DatasetDescriptor
    from eostores.schema import JsonObjectSchema, TimeRange

__all__ = [
    "Catalog",
    "EopfItem",
    "ItemLeftOutWarning",
    "flat_bbox",
    "for_each_product",
    "latest_versions",
]

_Result = TypeVar("_Result")

_EPOCH = datetime(1970, 1, 1)
_TIMELINESS_RANK = {"NT": 2, "NTC": 2, "ST": 1, "STC": 1, "NR": 0, "NRT": 0}


class ItemLeftOutWarning(UserWarning):
    """An item of the service was left out (its product href is unsafe, or its product is
    missing)."""


def _warn_left_out(item_id: str, collection: Any, reason: str) -> None:
    warnings.warn(
        f"item {item_id!r} of {collection!r} is left out: {reason}",
        ItemLeftOutWarning,
        stacklevel=4,
    )


@dataclass(frozen=True, eq=False)
class EopfItem:
    """One STAC item of the service, parsed once: identity, time, footprint, product."""

    id: str
    collection: str
    time: datetime
    start: datetime
    end: datetime
    bbox: tuple[float, float, float, float]
    properties: Mapping[str, Any]
    product_href: str
    document: Mapping[str, Any]

    @property
    def centre_lon(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def solar_day(self) -> str:
        """The local solar date at the item's centre (UTC plus whole hours of longitude)."""
        offset = timedelta(hours=int(self.centre_lon / 15))
        return (self.time + offset).date().isoformat()

    @property
    def tile(self) -> str:
        """The tile of a Sentinel-2 item (``grid:code``, ``s2:mgrs_tile`` or its id)."""
        for key in ("grid:code", "s2:mgrs_tile", "mgrs:tile"):
            value = self.properties.get(key)
            if isinstance(value, str) and value:
                return value.removeprefix("MGRS-")
        match = re.search(r"_T(\d{2}[A-Z]{3})_", self.id)
        return match.group(1) if match else self.id

    @property
    def version(self) -> tuple[int, ...]:
        """The processing version as numbers (``05.11`` -> (5, 11)); () when unknown."""
        for key in ("processing:version", "s2:processing_baseline", "processing_baseline"):
            value = self.properties.get(key)
            if value is not None:
                numbers = re.findall(r"\d+", str(value))
                if numbers:
                    return tuple(int(n) for n in numbers)
        match = re.search(r"_N(\d{2})(\d{2})_", self.id)
        return (int(match.group(1)), int(match.group(2))) if match else ()

    @property
    def timeliness(self) -> int:
        """Rank of the timeliness: non-time-critical 2, short-time-critical 1, NRT 0."""
        value = self.properties.get("product:timeliness_category")
        if isinstance(value, str) and value.upper() in _TIMELINESS_RANK:
            return _TIMELINESS_RANK[value.upper()]
        for name, rank in _TIMELINESS_RANK.items():
            if f"_{name}_" in self.id:
                return rank
        return 1

    @property
    def created(self) -> str:
        value = self.properties.get("updated") or self.properties.get("created") or ""
        return str(value)

    @property
    def zarr_format(self) -> int | None:
        """The product's Zarr format as the item says it (by the key its
        ``product_metadata`` asset points at); None if it does not."""
        assets = self.document.get("assets")
        asset = assets.get("product_metadata") if isinstance(assets, Mapping) else None
        href = asset.get("href") if isinstance(asset, Mapping) else None
        if not isinstance(href, str):
            return None
        key = urlsplit(href).path.rstrip("/").rpartition("/")[2]
        return {key_name: number for number, key_name in METADATA_KEYS.items()}.get(key)

    @property
    def acquisition(self) -> tuple[Any, ...]:
        """What identifies one acquisition of a swath across reprocessings."""
        platform = self.properties.get("platform") or self.id[:3]
        orbit = self.properties.get("sat:absolute_orbit")
        return (platform, orbit, self.start.replace(microsecond=0).isoformat())


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None) - (value.utcoffset() or timedelta())
    return value


def flat_bbox(box: Any) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` of a STAC bbox: 4 numbers, or 6 with the heights
    (``[minx, miny, minz, maxx, maxy, maxz]``); None if it is neither."""
    if not isinstance(box, list | tuple) or len(box) not in (4, 6):
        return None
    west, south, east, north = box if len(box) == 4 else (box[0], box[1], box[3], box[4])
    try:
        return float(west), float(south), float(east), float(north)
    except (TypeError, ValueError):
        return None


def parse_item(document: Mapping[str, Any], allow_s3: bool = True) -> EopfItem | None:
    """The record of an item document; None (with a warning) if it cannot be used."""
    item_id = str(document.get("id", ""))
    properties = document.get("properties") or {}
    if not isinstance(properties, Mapping):
        properties = {}
    when = _parse_time(properties.get("datetime"))
    start = _parse_time(properties.get("start_datetime")) or when
    end = _parse_time(properties.get("end_datetime")) or when
    box = flat_bbox(document.get("bbox"))
    assets = document.get("assets") or {}
    product = assets.get("product") if isinstance(assets, Mapping) else None
    href = product.get("href") if isinstance(product, Mapping) else None
    reason = None
    if start is None or end is None:
        reason = "it has no valid datetime"
    elif box is None:
        reason = "it has no bbox"
    if reason is None:
        try:
            href = check_product_href(href, allow_s3=allow_s3, item_id=item_id)
        except DataStoreError as error:
            reason = error.message
    if reason is not None:
        _warn_left_out(item_id, document.get("collection"), reason)
        return None
    assert start is not None and end is not None and box is not None
    return EopfItem(
        id=item_id,
        collection=str(document.get("collection") or ""),
        time=when or start,
        start=start,
        end=end,
        bbox=box,
        properties=properties,
        product_href=href,
        document=document,
    )


def latest_versions(items: Iterable[EopfItem], tiled: bool) -> list[EopfItem]:
    """Per tile and solar day (``tiled``) or per acquisition, the latest processing version.

    Among swath products of one acquisition, non-time-critical ones come first. Ties go
    to the most recently created item. The result is in time order.
    """
    best: dict[Any, EopfItem] = {}
    for item in items:
        key = (item.tile, item.solar_day) if tiled else item.acquisition
        rank = (item.timeliness, item.version, item.created, item.id)
        known = best.get(key)
        if known is None or rank > (known.timeliness, known.version, known.created, known.id):
            best[key] = item
    return sorted(best.values(), key=lambda i: (i.time, i.id))


def for_each_product(
    settings: EopfSettings,
    items: Sequence[EopfItem],
    work: Callable[[EopfItem], _Result],
    error_policy: str,
) -> list[tuple[EopfItem, _Result]]:
    """``work`` on every item (in parallel, see :func:`.api.run_parallel`), in order.

    ``work`` raises DataNotFoundError for an item whose product is missing (a service may
    list products it has removed or not yet converted). With ``error_policy`` "warn" such
    an item is left out with an ItemLeftOutWarning naming it; with "fail" the error is
    raised. Any other error is raised.
    """

    def attempt(item: EopfItem) -> tuple[bool, Any]:
        try:
            return True, work(item)
        except DataNotFoundError as error:
            if error_policy == "fail":
                raise
            return False, error.message

    kept = []
    for item, (found, outcome) in zip(items, run_parallel(settings, attempt, items), strict=True):
        if found:
            kept.append((item, outcome))
        else:
            _warn_left_out(item.id, item.collection, outcome)
    return kept


class Catalog:
    """The service's collections (read once per store) and item searches."""

    def __init__(self, api: EopfApi):
        self.api = api
        self._collections: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _all(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._collections is None:
                listed = self.api.collections()
                self._collections = {
                    str(doc.get("id")): doc for doc in listed if doc.get("id") in COLLECTIONS
                }
            return self._collections

    def collection_ids(self) -> list[str]:
        """The collections the service offers that the store can cube, in its order."""
        return list(self._all())

    def has(self, collection: str) -> bool:
        return collection in COLLECTIONS and collection in self._all()

    def collection(self, collection: str) -> dict[str, Any]:
        """The collection document; DataNotFoundError if the store cannot offer it."""
        if collection not in COLLECTIONS:
            raise DataNotFoundError(
                "no such data id; the store cubes "
                + ", ".join(sorted(COLLECTIONS))
                + " where the service offers them",
                store_id=STORE_ID,
                data_id=collection,
            )
        document = self._all().get(collection)
        if document is None:
            raise DataNotFoundError(
                "the service does not offer this collection", store_id=STORE_ID, data_id=collection
            )
        return document

    def find_items(
        self,
        collection: str,
        *,
        bbox: tuple[float, float, float, float] | None,
        time_range: TimeRange | None,
        query: Mapping[str, Any] | None = None,
        latest_only: bool = True,
        max_items: int | None = None,
    ) -> list[EopfItem]:
        """The usable items of a search, deprecated ones dropped, latest versions kept."""
        from eostores.schema import TimeRange as _TimeRange

        span = time_range or _TimeRange()
        datetime_text = None
        if span.start is not None or span.end is not None:
            datetime_text = span.isoformat()  # to the microsecond: STAC times have fractions
        found = []
        for document in self.api.search(
            [collection], bbox=bbox, datetime=datetime_text, query=query, max_items=max_items
        ):
            properties = document.get("properties") or {}
            if properties.get("deprecated") is True:
                continue
            box = flat_bbox(document.get("bbox"))
            if box is not None and box[2] - box[0] >= 180:
                continue  # footprints across the antimeridian, mis-reported by the service
            item = parse_item(document, allow_s3=True)
            if item is not None and item.collection == collection:
                found.append(item)
        if not latest_only:
            return sorted(found, key=lambda i: (i.time, i.id))
        return latest_versions(found, COLLECTIONS[collection].is_tiled)

    # -- descriptions

    def describe(
        self, collection: str, open_schema: JsonObjectSchema | None = None
    ) -> DatasetDescriptor:
        """The collection as a cube: extent, variables with units and native resolutions."""
        return describe_collection(
            self.collection(collection), COLLECTIONS[collection], open_schema
        )


def describe_collection(
    document: Mapping[str, Any], product: ProductType, open_schema: JsonObjectSchema | None
) -> DatasetDescriptor:
    """A descriptor from a collection document and the product type's conventions."""
    from eostores.descriptor import DatasetDescriptor, VariableDescriptor

    extent = document.get("extent") or {}
    boxes = (extent.get("spatial") or {}).get("bbox") or [None]
    bbox = flat_bbox(boxes[0]) if isinstance(boxes, list) else None
    intervals = (extent.get("temporal") or {}).get("interval") or [[None, None]]
    interval = intervals[0] if intervals and isinstance(intervals[0], list) else [None, None]
    templates = document.get("item_assets") or {}
    data_vars = {}
    for name, variable in product.variables.items():
        attrs = variable.describe()
        attrs.update(_asset_attrs(templates, name, variable.native_resolution))
        data_vars[name] = VariableDescriptor(
            name=name, dtype=variable.dtype, dims=("time", "lat", "lon"), attrs=attrs
        )
    attrs = {
        "title": document.get("title") or product.title,
        "description": document.get("description"),
        "product_type": product.product_type,
        "stac_collection": product.collection,
        "default_spatial_res_m": product.default_resolution,
    }
    return DatasetDescriptor(
        data_id=product.collection,
        crs="EPSG:4326",
        bbox=bbox,
        time_range=(_date(interval[0]), _date(interval[1] if len(interval) > 1 else None)),
        spatial_res=product.default_resolution / 111320.0,
        data_vars=data_vars,
        attrs={k: v for k, v in attrs.items() if v is not None},
        open_params_schema=open_schema,
    )


def _date(text: Any) -> str | None:
    value = _parse_time(text)
    return value.date().isoformat() if value is not None else None


def _asset_attrs(templates: Mapping[str, Any], name: str, resolution: int) -> dict[str, Any]:
    """Attributes of the ``item_assets`` entry of variable ``name`` (best match)."""
    candidates: Sequence[str] = (
        f"{name.upper()}_{resolution}m",
        f"{name}_{resolution}m",
        name,
        name.upper(),
    )
    for key in candidates:
        template = templates.get(key) if isinstance(templates, Mapping) else None
        if not isinstance(template, Mapping):
            continue
        attrs: dict[str, Any] = {"stac_asset": key}
        for field_name in ("title", "gsd"):
            if template.get(field_name) is not None:
                attrs[field_name] = template[field_name]
        bands = template.get("raster:bands") or template.get("bands") or []
        if isinstance(bands, list) and bands and isinstance(bands[0], Mapping):
            band = bands[0]
            for source, target in (("unit", "units"), ("nodata", "nodata")):
                if band.get(source) is not None:
                    attrs[target] = band[source]
        eo_bands = template.get("eo:bands") or []
        first = eo_bands[0] if isinstance(eo_bands, list) and eo_bands else None
        if isinstance(first, Mapping) and first.get("common_name"):
            attrs["common_name"] = first["common_name"]
        return attrs
    return {}
