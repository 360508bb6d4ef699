"""The data ids, their descriptions, and the products that make up a cube.

Two data ids, one per product type: ``SMOS-L2C-SM`` (``MIR_SMUDP2``, soil moisture) and
``SMOS-L2C-OS`` (``MIR_OSUDP2``, ocean salinity). Their variables are static metadata; the
time extent comes from the catalogue's collection document.

Products are the catalogue's items of the data id's product type (the collection holds
other types too) whose ``assets.PRODUCT.alternate.s3.href`` names a product folder in the
archive, e.g. ``/eodata/SMOS/L2SM/MIR_SMUDP2/2023/04/01/<name>``; the file is
``<name>.nc`` in that folder. Those hrefs come from the service: one that is not a plain
relative path below the archive's top folder fails the search; an item without one, or
whose folder is not named like a product of its type, is skipped with a logged warning.
When the archive holds several versions of one half orbit, the latest processing version
is used. A product belongs to the time range that holds its mid-time. Long searches are
made in time windows, as the catalogue pages through a limited number of items.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eostores.errors import ServiceError
from eostores.paths import relative_path
from eostores.schema.types import short_repr

from .api import SearchLimitError, StacClient
from .config import (
    LEVEL0_HEIGHT,
    LEVEL0_RES,
    LEVEL0_WIDTH,
    MIN_SEARCH_WINDOW,
    NUM_LEVELS,
    PRODUCT_NAME_PATTERN,
    SEARCH_WINDOW,
    STORE_ID,
    Y_MAX,
    DatasetInfo,
    Product,
)

if TYPE_CHECKING:
    from eostores.descriptor import DatasetDescriptor
    from eostores.schema import JsonObjectSchema

__all__ = [
    "describe",
    "find_products",
    "first_product_time",
    "product_from_feature",
    "search_boxes",
    "search_items",
]

LOG = logging.getLogger(__name__)

#: Searches are widened by this much (degrees of latitude), so that products whose grid
#: points just outside the box still fill pixels inside it are found.
SEARCH_MARGIN_DEG = 0.1


# --------------------------------------------------------------------------- describing


def first_product_time(collection: Mapping[str, Any] | None) -> str | None:
    """The start of the collection's temporal extent (``YYYY-MM-DD``), if it has one."""
    try:
        interval = collection["extent"]["temporal"]["interval"][0]  # type: ignore[index]
        start = interval[0]
    except (KeyError, IndexError, TypeError):
        return None
    instant = _parse_instant(start) if isinstance(start, str) else None
    return instant.date().isoformat() if instant else None


def describe(
    info: DatasetInfo,
    collection: Mapping[str, Any] | None,
    open_params_schema: JsonObjectSchema | None,
    data_type: str = "dataset",
) -> DatasetDescriptor:
    """The descriptor of ``info`` (level 0) from static metadata and the catalogue's extent."""
    from eostores.descriptor import (
        DatasetDescriptor,
        MultiLevelDatasetDescriptor,
        VariableDescriptor,
    )

    dims = ("time", "lat", "lon")
    data_vars = {
        v.name: VariableDescriptor(v.name, "float32", dims, attrs=v.attrs()) for v in info.variables
    }
    coords = {
        "time": VariableDescriptor("time", "datetime64[ms]", ("time",)),
        "lat": VariableDescriptor("lat", "float64", ("lat",), attrs={"units": "degrees_north"}),
        "lon": VariableDescriptor("lon", "float64", ("lon",), attrs={"units": "degrees_east"}),
    }
    today = datetime.now(UTC).date().isoformat()
    fields: dict[str, Any] = dict(
        data_id=info.data_id,
        crs="EPSG:4326",
        bbox=(-180.0, -Y_MAX, 180.0, Y_MAX),
        time_range=(first_product_time(collection), today),
        spatial_res=LEVEL0_RES,
        dims={"lat": LEVEL0_HEIGHT, "lon": LEVEL0_WIDTH},
        coords=coords,
        data_vars=data_vars,
        attrs={
            "title": info.title,
            "product_type": info.product_type,
            "time_steps": "one per half-orbit product",
            "num_levels": NUM_LEVELS,
        },
        open_params_schema=open_params_schema,
    )
    if data_type == "mldataset":
        return MultiLevelDatasetDescriptor(**fields, num_levels=NUM_LEVELS)
    return DatasetDescriptor(**fields)


# --------------------------------------------------------------------------- products


def search_boxes(
    bbox: tuple[float, float, float, float] | None,
) -> list[tuple[float, float, float, float] | None]:
    """The catalogue searches (in -180..180) covering ``bbox``, widened by the margin.

    A box in 0..360 that crosses the antimeridian becomes two searches.
    """
    if bbox is None:
        return [None]
    xmin, ymin, xmax, ymax = bbox
    ymin, ymax = max(-90.0, ymin - SEARCH_MARGIN_DEG), min(90.0, ymax + SEARCH_MARGIN_DEG)
    widest = min(89.0, max(abs(ymin), abs(ymax)))
    margin = SEARCH_MARGIN_DEG / math.cos(math.radians(widest))
    xmin, xmax = xmin - margin, xmax + margin
    if xmax - xmin >= 360.0:
        return [(-180.0, ymin, 180.0, ymax)]
    if xmin >= 180.0:
        xmin, xmax = xmin - 360.0, xmax - 360.0
    if xmin < -180.0:
        xmin, xmax = xmin + 360.0, xmax + 360.0
    if xmax <= 180.0:
        return [(xmin, ymin, xmax, ymax)]
    return [(xmin, ymin, 180.0, ymax), (-180.0, ymin, xmax - 360.0, ymax)]


def _parse_instant(text: str) -> datetime | None:
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    return instant


def _archive_folder(href: Any) -> str | None:
    """The path of a product folder below the archive's top folder (its bucket), or None
    if ``href`` names none; a path that is not a plain path in the archive is refused."""
    if not isinstance(href, str) or not href.strip():
        return None
    text = href.strip()
    if text.lower().startswith("s3://"):
        text = text[5:]
    elif text.startswith("/"):
        text = text[1:]
    else:
        raise ServiceError(
            f"the catalogue gave the archive path {href!r}, which is neither /<bucket>/... "
            "nor s3://<bucket>/...",
            store_id=STORE_ID,
        )
    if not text.strip("/"):
        return None
    path = relative_path(text, from_service=True, store_id=STORE_ID)
    _bucket, _sep, below = path.partition("/")
    return below or None


def _skip(feature: Mapping[str, Any], reason: str) -> None:
    LOG.warning("skipped the catalogue item %s: %s", short_repr(feature.get("id")), reason)


def product_from_feature(feature: Mapping[str, Any], info: DatasetInfo) -> Product | None:
    """The product of a catalogue item, or None if it is of another product type.

    An item of the product type that names no product (no archive path, or a name that is
    not a product name of the type) is skipped with a logged warning; an archive path that
    is not a plain path in the archive fails with a ServiceError.
    """
    properties = feature.get("properties")
    if not isinstance(properties, Mapping) or properties.get("productType") != info.product_type:
        return None
    try:
        href = feature["assets"]["PRODUCT"]["alternate"]["s3"]["href"]
    except (KeyError, TypeError):
        href = None
    folder = _archive_folder(href)
    if folder is None:
        _skip(feature, f"it gives no product folder in the archive ({short_repr(href)})")
        return None
    name = folder.rpartition("/")[2]
    match = PRODUCT_NAME_PATTERN.match(name)
    if match is None or f"MIR_{match['kind']}" != info.product_type:
        _skip(feature, f"{short_repr(name)} is not a {info.product_type} product name")
        return None
    start = _parse_instant(str(properties.get("start_datetime") or "")) or datetime.strptime(
        match["start"], "%Y%m%dT%H%M%S"
    )
    end = _parse_instant(str(properties.get("end_datetime") or "")) or datetime.strptime(
        match["stop"], "%Y%m%dT%H%M%S"
    )
    if end < start:
        raise ServiceError(
            f"the catalogue gives {name} an end {end.isoformat()} before its start",
            store_id=STORE_ID,
        )
    return Product(
        time=start + (end - start) / 2,
        start=start,
        end=end,
        name=name,
        path=f"{folder}/{name}.nc",
        product_type=info.product_type,
    )


def _version(product: Product) -> tuple[int, int]:
    match = PRODUCT_NAME_PATTERN.match(product.name)
    assert match is not None
    return int(match["version"]), int(match["counter"])


def select_products(products: Iterable[Product], start: datetime, end: datetime) -> list[Product]:
    """One product per half orbit (the latest version), mid-time in ``[start, end]``, by time."""
    latest: dict[tuple[datetime, datetime], Product] = {}
    for product in products:
        if not start <= product.time <= end:
            continue
        key = (product.start, product.end)
        known = latest.get(key)
        if known is None or _version(product) > _version(known):
            latest[key] = product
    return sorted(latest.values())


def search_items(
    client: StacClient,
    start: datetime,
    end: datetime,
    bbox: tuple[float, float, float, float] | None,
) -> Iterator[dict[str, Any]]:
    """Every catalogue item of ``[start, end]`` in ``bbox``, searched window by window.

    Windows are :data:`SEARCH_WINDOW` long at first; one that holds more items than the
    catalogue pages through is searched again in halves, and the rest of the search keeps
    the shorter windows. Items overlapping two windows come twice.
    """
    window, begin = SEARCH_WINDOW, start
    while True:
        stop = min(begin + window, end)
        try:
            items = list(client.items(begin, stop, bbox))
        except SearchLimitError as error:
            if window <= MIN_SEARCH_WINDOW:
                raise ServiceError(
                    f"{error.message}, even for the items from {begin.isoformat()} to "
                    f"{stop.isoformat()}; choose a smaller bbox",
                    status=error.status,
                    url=error.url,
                    store_id=STORE_ID,
                ) from None
            window = max((stop - begin) / 2, MIN_SEARCH_WINDOW)
            continue
        yield from items
        if stop >= end:
            return
        begin = stop


def find_products(
    client: StacClient,
    info: DatasetInfo,
    start: datetime,
    end: datetime,
    bbox: tuple[float, float, float, float] | None,
) -> list[Product]:
    """The products of ``info`` with their mid-time in ``[start, end]`` overlapping ``bbox``."""
    found: dict[str, Product] = {}
    for box in search_boxes(bbox):
        for feature in search_items(client, start, end, box):
            product = product_from_feature(feature, info)
            if product is not None:
                found.setdefault(product.name, product)
    return select_products(found.values(), start, end)
