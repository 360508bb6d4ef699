"""The catalogue of one STAC store: which items and collections exist, their records, descriptors.

:class:`StacCatalog` is the layer below the store facade. It owns the API access
(:class:`~eostores_stac.api.StacApi`), a short-lived cache of parsed records (so that a
describe-then-open costs one request) and the store's asset access. Item mode, stack mode,
search and stac-xcube take a catalog as their argument and use only its public methods.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from eostores.descriptor import DatasetDescriptor, VariableDescriptor
from eostores.errors import InvalidParameterError
from eostores.schema import parse_time_range

from .access import AssetAccess
from .api import StacApi, item_data_id, stac_datetime
from .config import StoreSettings
from .records import Asset, Collection, Item, parse_collection, parse_item

__all__ = [
    "MetadataCache",
    "StacCatalog",
    "collection_attrs",
    "collection_descriptor",
    "item_attrs",
    "item_descriptor",
    "item_matches",
]


class MetadataCache:
    """Values kept for ``ttl`` seconds (at most ``max_entries``), shared by threads."""

    def __init__(self, ttl: float, max_entries: int = 512):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and now - found[0] <= self.ttl:
                return found[1]
        value = load()
        if self.ttl > 0:
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    oldest = min(self._entries, key=lambda k: self._entries[k][0])
                    del self._entries[oldest]
                self._entries[key] = (now, value)
        return value


class StacCatalog:
    """Items, collections and asset access of one store (settings in ``settings``)."""

    def __init__(self, settings: StoreSettings):
        self.settings = settings
        self.store_id = settings.store_id
        self.api = StacApi(settings)
        self._cache = MetadataCache(settings.metadata_ttl)
        self._access: AssetAccess | None = None

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def access(self) -> AssetAccess:
        """How assets are read: remotely, or downloaded first (DestinE Cache-A)."""
        if self._access is None:
            if self.settings.download_assets:
                from .destine import DownloadingAccess

                self._access = DownloadingAccess(self.settings)
            else:
                self._access = AssetAccess(self.settings)
        return self._access

    # -- records ----------------------------------------------------------------------------

    def item(self, data_id: str) -> Item:
        """The record of item ``data_id`` (one request, then cached)."""

        def load() -> Item:
            document, url = self.api.item(data_id)
            return parse_item(document, data_id, url)

        return self._cache.get(f"item:{data_id}", load)

    def collection(self, collection_id: str) -> Collection:
        """The record of collection ``collection_id`` (one request, then cached)."""
        return self._cache.get(
            f"collection:{collection_id}",
            lambda: parse_collection(self.api.collection(collection_id)),
        )

    def collection_variables(self, collection_id: str) -> dict[str, Asset]:
        """The data assets of a collection's items: from ``item_assets``, else one item."""

        def load() -> dict[str, Asset]:
            collection = self.collection(collection_id)
            if collection.variables is not None:
                return dict(collection.variables)
            for item in self.find_items(collections=[collection_id], limit=1):
                return dict(item.assets)
            return {}

        return self._cache.get(f"variables:{collection_id}", load)

    def collections(self) -> Iterator[Collection]:
        for document in self.api.collections():
            yield parse_collection(document)

    # -- listing --------------------------------------------------------------------------------

    def item_ids(self, with_records: bool) -> Iterator[tuple[str, Item | None]]:
        """``(data_id, record or None)`` of every item, streaming; records only if asked.

        Static catalogs are walked; their item documents are read only ``with_records``.
        """
        for data_id, document, url in self.api.iter_items():
            if document is not None:
                yield data_id, parse_item(document, data_id, url) if with_records else None
            elif with_records and url is not None:
                yield data_id, parse_item(self.api.read_json(url), data_id, url)
            else:
                yield data_id, None

    def find_items(
        self,
        *,
        collections: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        bbox: Sequence[float] | None = None,
        time_range: Any = None,
        query: Mapping[str, Any] | None = None,
        filter: Any = None,
        expression: Any = None,
        sortby: Any = None,
        limit: int | None = None,
    ) -> Iterator[Item]:
        """Items matching the criteria: by item search, else by a walk filtered here.

        ``bbox`` is in lon/lat, ``time_range`` a parsed TimeRange, ``filter`` the user's cql2
        (sent to the API) and ``expression`` its parsed form (matched here without search).
        The results of a narrow search (a service that may ignore what it does not support)
        are matched here too.
        """
        api = self.api
        criteria = dict(
            collections=collections,
            ids=ids,
            bbox=bbox,
            time_range=time_range,
            expression=expression,
        )
        if api.is_api and api.can_search:
            recheck = self.settings.narrow_search
            found = api.search(
                max_items=None if recheck else limit,
                collections=list(collections) if collections else None,
                ids=list(ids) if ids else None,
                bbox=list(bbox) if bbox is not None else None,
                datetime=stac_datetime(time_range),
                query=query,
                filter=filter,
                sortby=sortby,
            )
            items = (parse_item(document, item_data_id(document)) for document in found)
            if not recheck:
                yield from items
                return
        else:
            for name, value in (("query", query), ("sortby", sortby)):
                if value is not None:
                    raise InvalidParameterError(
                        f"{name} needs a STAC API with item search; use filter instead",
                        store_id=self.store_id,
                        parameter=name,
                    )
            items = (item for _data_id, item in self.item_ids(with_records=True) if item)
        yield from islice((item for item in items if item_matches(item, **criteria)), limit)


# --------------------------------------------------------------------------- matching


def item_matches(
    item: Item,
    *,
    collections: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    bbox: Sequence[float] | None = None,
    time_range: Any = None,
    expression: Any = None,
) -> bool:
    """Whether ``item`` meets the criteria (as an item search would decide)."""
    if collections and item.collection not in collections:
        return False
    if ids and item.id not in ids:
        return False
    if bbox is not None and item.bbox is not None and not boxes_meet(item.bbox, bbox):
        return False
    if time_range is not None and not times_meet(item.start, item.end, time_range):
        return False
    return expression is None or bool(expression.matches(dict(item.document)))


def boxes_meet(box: Sequence[float], bbox: Sequence[float]) -> bool:
    """Whether two (xmin, ymin, xmax, ymax) boxes intersect (see records.flat_bbox)."""
    x0, y0, x1, y1 = box[0], box[1], box[2], box[3]
    return not (x0 > bbox[2] or x1 < bbox[0] or y0 > bbox[3] or y1 < bbox[1])


def times_meet(start: str | None, end: str | None, time_range: Any) -> bool:
    """Whether the interval [start, end] (ISO strings, None: open) overlaps ``time_range``."""
    if start and time_range.end and parse_time_range([start, None]).start > time_range.end:
        return False
    return not (end and time_range.start and parse_time_range([end, None]).start < time_range.start)


# --------------------------------------------------------------------------- descriptions


def variable_dims(asset: Asset, primary: Any) -> tuple[str, str, str]:
    """The dims of the variable of ``asset``: x/y on the primary grid, suffixed otherwise."""
    if asset.grid is None or primary is None or asset.grid == primary:
        return ("time", "y", "x")
    return ("time", f"y_{asset.key}", f"x_{asset.key}")


def item_attrs(item: Item) -> dict[str, Any]:
    """Attributes of an item for listings: collection, datetime, bbox, a few properties."""
    attrs = {
        "collection": item.collection,
        "datetime": item.properties.get("datetime"),
        "bbox": list(item.bbox) if item.bbox is not None else None,
    }
    for key in ("eo:cloud_cover", "platform", "proj:code"):
        if key in item.properties:
            attrs[key] = item.properties[key]
    return {k: v for k, v in attrs.items() if v is not None}


def collection_attrs(collection: Collection) -> dict[str, Any]:
    attrs = {
        "title": collection.title,
        "description": collection.description,
        "bbox": list(collection.bbox) if collection.bbox is not None else None,
        "time_range": list(collection.interval) if collection.interval else None,
    }
    return {k: v for k, v in attrs.items() if v is not None}


def item_descriptor(
    item: Item, *, open_params_schema: Any = None, apply_scaling: bool = True
) -> DatasetDescriptor:
    """Describe an item from its record: extent, time, one variable per data asset."""
    grid = item.primary_grid
    data_vars = {}
    dims: dict[str, int] = {"time": 1}
    for asset in item.assets.values():
        names = variable_dims(asset, grid)
        if asset.grid is not None:
            dims[names[1]], dims[names[2]] = asset.grid.shape
        data_vars[asset.key] = VariableDescriptor(
            asset.key, asset.output_dtype(apply_scaling), names, attrs=asset.attrs()
        )
    attrs = {
        "stac_item_id": item.id,
        "stac_collection": item.collection,
        "stac_item_url": item.url,
        "bbox_lonlat": list(item.bbox) if item.bbox is not None else None,
    }
    for key in ("eo:cloud_cover", "platform", "constellation", "instruments", "gsd"):
        if key in item.properties:
            attrs[key] = item.properties[key]
    if grid is not None:
        crs, bbox, res = grid.crs, grid.bounds, grid.resolution
    else:
        crs, bbox, res = "EPSG:4326", item.bbox, None
    return DatasetDescriptor(
        data_id=item.data_id,
        crs=crs,
        bbox=bbox,
        time_range=(item.start, item.end),
        spatial_res=res,
        dims=dims,
        data_vars=data_vars,
        attrs={k: v for k, v in attrs.items() if v is not None},
        open_params_schema=open_params_schema,
    )


def collection_descriptor(
    collection: Collection,
    variables: Mapping[str, Asset],
    *,
    open_params_schema: Any = None,
) -> DatasetDescriptor:
    """Describe a collection cube from the collection record and its variables."""
    resolutions = [v.grid.resolution for v in variables.values() if v.grid is not None]
    data_vars = {
        name: VariableDescriptor(
            name, asset.output_dtype(True), ("time", "y", "x"), attrs=asset.attrs()
        )
        for name, asset in variables.items()
    }
    attrs = {
        key: collection.document[key]
        for key in ("title", "description", "license", "keywords")
        if collection.document.get(key) is not None
    }
    finite = resolutions and all(math.isfinite(r) for r in resolutions)
    return DatasetDescriptor(
        data_id=collection.id,
        crs="EPSG:4326",
        bbox=collection.bbox,
        time_range=collection.interval,
        spatial_res=min(resolutions) if finite else None,
        data_vars=data_vars,
        attrs=attrs,
        open_params_schema=open_params_schema,
    )
