"""Which datasets the catalogue holds and how each is described, cached on disk.

The catalogue is walked as the toolbox walks it (client configuration -> STAC root ->
product collections -> dataset items) but through the store's session, concurrently, and
at most once per ``catalogue_ttl``: the listing and every dataset's items are written to
the cache folder (atomically, under a lock shared by threads and processes). A dataset
asked for before any walk is fetched alone through the catalogue's id mapping (mapping ->
its product -> its items). Items are parsed into the toolbox's own models
(``CopernicusMarineDataset``: versions, parts, services, variables, coordinates), from
which descriptions and open-parameter schemas are made; no data is read to describe.

Every href from the service is confined below the catalogue before it is requested;
links that try to leave it are skipped with a warning.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eostores.errors import DataNotFoundError, DataStoreError, ServiceError
from eostores.paths import confine_url, safe_filename

from .api import CatalogueLocation, CmemsApi
from .config import STORE_ID

if TYPE_CHECKING:
    from copernicusmarine import CopernicusMarineDataset, CopernicusMarinePart

__all__ = ["ARCO_SERVICES", "Catalogue", "CoordinateSummary", "DatasetRecord", "DatasetSummary"]

logger = logging.getLogger("eostores.cmems")

#: The toolbox's ARCO service names (and the STAC asset keys they come from; crossed).
ARCO_SERVICES = {"arco-geo-series": "timeChunked", "arco-time-series": "geoChunked"}
_WORKERS = 8
_ISO_PERIODS = {"H": "H", "D": "D", "W": "W", "M": "M", "Y": "Y"}


# --------------------------------------------------------------------------- records


@dataclass
class DatasetRecord:
    """A dataset as the catalogue gives it: its product and its STAC items (all versions)."""

    dataset_id: str
    product_id: str
    product_title: str
    doi: str | None
    items: list[dict[str, Any]]  # {"url": ..., "document": STAC item}

    @property
    def dataset_name(self) -> str:
        """The title of the default part's item, as the toolbox names a dataset."""
        from copernicusmarine.catalogue_parser.models import (
            PART_DEFAULT,
            get_version_and_part_from_full_dataset_id,
        )

        for item in self.items:
            document = item["document"]
            if get_version_and_part_from_full_dataset_id(document["id"])[2] == PART_DEFAULT:
                title = (document.get("properties") or {}).get("title")
                if isinstance(title, str) and title:
                    return title
        return self.dataset_id

    @property
    def has_zarr_series(self) -> bool:
        """Whether an item offers an ARCO series service as Zarr (sparse data do not).

        As in the toolbox's models, items whose series are in preparation
        (``admp_in_preparation``) or whose part is retired (``admp_retired_date`` past)
        offer none.
        """
        for item in self.items:
            if not _item_offered(item["document"].get("properties")):
                continue
            assets = item["document"].get("assets")
            for key, asset in (assets or {}).items() if isinstance(assets, dict) else ():
                kind = asset.get("type") if isinstance(asset, dict) else None
                if key in ARCO_SERVICES.values() and isinstance(kind, str) and "zarr" in kind:
                    return True
        return False

    def attrs(self) -> dict[str, Any]:
        """What listing shows about the dataset."""
        name = self.dataset_name
        return {
            "title": f"{self.product_title} - {name}",
            "dataset_name": name,
            "product_id": self.product_id,
            "product_title": self.product_title,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "product_id": self.product_id,
            "product_title": self.product_title,
            "doi": self.doi,
            "items": self.items,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatasetRecord:
        return cls(
            dataset_id=data["dataset_id"],
            product_id=data["product_id"],
            product_title=data["product_title"],
            doi=data.get("doi"),
            items=list(data["items"]),
        )


def _item_offered(properties: Any) -> bool:
    """Whether the toolbox offers an item's ARCO series, by its ``admp_*`` properties."""
    from copernicusmarine.core_functions.exceptions import WrongDatetimeFormat
    from copernicusmarine.core_functions.utils import datetime_parser

    if not isinstance(properties, dict):
        return True
    if properties.get("admp_in_preparation"):
        return False
    retired = properties.get("admp_retired_date")
    if not isinstance(retired, str) or not retired:
        return True
    try:
        return datetime_parser(retired) >= datetime_parser("now")
    except (WrongDatetimeFormat, OverflowError, TypeError):  # an unreadable date retires nothing
        return True


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class CoordinateSummary:
    """One coordinate of a dataset part, from the services' ``viewDims``."""

    name: str
    axis: str | None
    units: str
    minimum: Any
    maximum: Any
    step: float | None
    size: int | None
    values: tuple[Any, ...] | None = None


@dataclass
class DatasetSummary:
    """What describing and validating a dataset needs, from its default version and part."""

    dataset_id: str
    title: str
    product_id: str
    product_title: str
    doi: str | None
    versions: list[str]
    parts: dict[str, list[str]]
    default_version: str
    default_part: str
    services: list[str]
    variables: dict[str, dict[str, Any]]
    coordinates: dict[str, CoordinateSummary]
    chunks: dict[str, dict[str, int]] = field(default_factory=dict)
    time_step: str | None = None

    @property
    def depth(self) -> CoordinateSummary | None:
        return next((c for c in self.coordinates.values() if c.axis == "z"), None)

    def axis_coordinate(self, axis: str) -> CoordinateSummary | None:
        return next((c for c in self.coordinates.values() if c.axis == axis), None)

    @property
    def time_range(self) -> tuple[datetime, datetime] | None:
        time_coordinate = self.axis_coordinate("t")
        if time_coordinate is None:
            return None
        return (_as_datetime(time_coordinate.minimum), _as_datetime(time_coordinate.maximum))

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        x, y = self.axis_coordinate("x"), self.axis_coordinate("y")
        if x is None or y is None or None in (x.minimum, x.maximum, y.minimum, y.maximum):
            return None
        half_x, half_y = (x.step or 0.0) / 2, (y.step or 0.0) / 2
        return (
            float(x.minimum) - half_x,
            max(-90.0, float(y.minimum) - half_y),
            float(x.maximum) + half_x,
            min(90.0, float(y.maximum) + half_y),
        )

    @property
    def spatial_res(self) -> float | None:
        x = self.axis_coordinate("x")
        return float(x.step) if x is not None and x.step else None

    @property
    def depth_range(self) -> tuple[float, float] | None:
        depth = self.depth
        if depth is None or depth.minimum is None or depth.maximum is None:
            return None
        return (float(depth.minimum), float(depth.maximum))


def _as_datetime(value: Any) -> datetime:
    from copernicusmarine.core_functions.utils import timestamp_or_datestring_to_datetime

    moment = timestamp_or_datestring_to_datetime(value)
    return moment.replace(tzinfo=None) if moment.tzinfo is not None else moment


def _period_from_iso(step: Any) -> str | None:
    """``P1D`` -> ``1D``, ``PT1H`` -> ``1H``, ``P1M`` -> ``1M``; None if not expressible."""
    if not isinstance(step, str) or not step.startswith("P"):
        return None
    body = step[1:]
    if body.startswith("T"):
        body = body[1:]
        if body.endswith("H") and body[:-1].isdigit():
            return f"{int(body[:-1])}H"
        return None
    if len(body) >= 2 and body[-1] in _ISO_PERIODS and body[:-1].isdigit():
        return f"{int(body[:-1])}{_ISO_PERIODS[body[-1]]}"
    return None


def _period_from_ms(step: float | None) -> str | None:
    if not step:
        return None
    hours = step / 3_600_000
    if hours >= 24 and (hours / 24).is_integer():
        return f"{int(hours // 24)}D"
    if hours.is_integer():
        return f"{int(hours)}H"
    return None


def toolbox_dataset(record: DatasetRecord) -> CopernicusMarineDataset:
    """The toolbox's model of a dataset (versions sorted as the toolbox sorts them)."""
    import pystac
    from copernicusmarine.catalogue_parser.models import (
        CopernicusMarineDataset,
        DatasetItem,
        get_version_and_part_from_full_dataset_id,
    )

    items = []
    try:
        for entry in record.items:
            stac_item = pystac.Item.from_dict(entry["document"])
            parsed_id, version, part = get_version_and_part_from_full_dataset_id(stac_item.id)
            items.append(
                DatasetItem(
                    item_id=stac_item.id,
                    parsed_id=parsed_id,
                    parsed_part=part,
                    parsed_version=version,
                    url=entry["url"],
                    stac_item=stac_item,
                    stac_json=entry["document"],
                    product_doi=record.doi,
                    product_id=record.product_id,
                )
            )
        dataset = CopernicusMarineDataset(
            dataset_id=record.dataset_id,
            dataset_name=record.dataset_name,
            product_id=record.product_id,
            digital_object_identifier=record.doi,
            versions=[],
        )
        dataset.parse_dataset_metadata_items(items, raise_on_error=True)
        dataset.sort_versions()
    except DataStoreError:
        raise
    except Exception as error:
        raise ServiceError(
            f"the catalogue entry of the dataset cannot be read: {type(error).__name__}: {error}",
            store_id=STORE_ID,
            data_id=record.dataset_id,
        ) from None
    return dataset


def summarize(record: DatasetRecord, dataset: CopernicusMarineDataset) -> DatasetSummary:
    """The summary of ``dataset``'s default version and part."""
    version = dataset.get_version(None)
    part = version.get_part(None)
    services = [
        s for s in part.services if s.service_name in ARCO_SERVICES and s.service_format == "zarr"
    ]
    if not services:
        raise DataNotFoundError(
            "the dataset has no ARCO (Zarr) service to open it with; services: "
            + ", ".join(s.service_name for s in part.services),
            store_id=STORE_ID,
            data_id=record.dataset_id,
        )
    first = services[0]
    variables: dict[str, dict[str, Any]] = {}
    coordinates: dict[str, CoordinateSummary] = {}
    for variable in first.variables:
        dims = []
        for coordinate in variable.coordinates:
            dims.append(coordinate.coordinate_id)
            if coordinate.coordinate_id not in coordinates:
                coordinates[coordinate.coordinate_id] = _coordinate_summary(coordinate)
        variables[variable.short_name] = {
            "standard_name": variable.standard_name,
            "units": variable.units,
            "dims": tuple(sorted(dims, key=lambda d: "tzyx".find(coordinates[d].axis or "?"))),
        }
    chunks: dict[str, dict[str, int]] = {}
    for service in services:
        lengths: dict[str, int] = {}
        for variable in service.variables:
            for coordinate in variable.coordinates:
                if coordinate.chunking_length:
                    lengths.setdefault(coordinate.coordinate_id, int(coordinate.chunking_length))
        chunks[service.service_name] = lengths
    return DatasetSummary(
        dataset_id=record.dataset_id,
        title=record.dataset_name,
        product_id=record.product_id,
        product_title=record.product_title,
        doi=record.doi,
        versions=[v.label for v in dataset.versions],
        parts={v.label: [p.name for p in v.parts] for v in dataset.versions},
        default_version=version.label,
        default_part=part.name,
        services=[s.service_name for s in services],
        variables=variables,
        coordinates=coordinates,
        chunks=chunks,
        time_step=_time_step(record, version.label, part, coordinates),
    )


def _coordinate_summary(coordinate: Any) -> CoordinateSummary:
    values = tuple(coordinate.values) if coordinate.values else None
    minimum, maximum = coordinate.minimum_value, coordinate.maximum_value
    if values and minimum is None:
        minimum = min(values)
    if values and maximum is None:
        maximum = max(values)
    size = len(values) if values else None
    step = float(coordinate.step) if coordinate.step else None
    if (
        size is None
        and step
        and isinstance(minimum, int | float)
        and isinstance(maximum, int | float)
    ):
        size = math.floor((float(maximum) - float(minimum)) / step + 0.5) + 1
    axis = coordinate.axis or ("t" if coordinate.coordinate_id == "time" else None)
    return CoordinateSummary(
        name=coordinate.coordinate_id,
        axis=axis,
        units=coordinate.coordinate_unit,
        minimum=minimum,
        maximum=maximum,
        step=step,
        size=size,
        values=values,
    )


def _time_step(
    record: DatasetRecord,
    version: str,
    part: CopernicusMarinePart,
    coordinates: dict[str, CoordinateSummary],
) -> str | None:
    for entry in record.items:
        if entry["url"] != part.url_metadata:
            continue
        dims = (entry["document"].get("properties") or {}).get("cube:dimensions") or {}
        for dim in dims.values():
            if isinstance(dim, dict) and dim.get("type") == "temporal":
                period = _period_from_iso(dim.get("step"))
                if period:
                    return period
    time_coordinate = next((c for c in coordinates.values() if c.axis == "t"), None)
    return _period_from_ms(time_coordinate.step if time_coordinate else None)


# --------------------------------------------------------------------------- disk cache


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("ignoring unreadable catalogue cache file %s: %s", path, error)
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _links(document: Any, rel: str) -> list[str]:
    links = document.get("links") if isinstance(document, dict) else None
    return [
        link["href"]
        for link in links or []
        if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str)
    ]


class Catalogue:
    """The datasets of one service configuration, cached in ``root`` for ``ttl`` seconds."""

    def __init__(self, api: CmemsApi, root: Path, ttl: float):
        self.api = api
        self.root = Path(root)
        self.ttl = float(ttl)
        self._lock = threading.RLock()
        self._listing: dict[str, Any] | None = None
        self._records: dict[str, tuple[float, DatasetRecord | None]] = {}
        self._models: dict[str, CopernicusMarineDataset] = {}
        self._locations: tuple[float, list[CatalogueLocation], dict[str, list[str]]] | None = None
        #: Catalogue walks made by this object (for tests and benchmarks).
        self.walks = 0

    # -- freshness

    def _fresh(self, created: Any) -> bool:
        return isinstance(created, int | float) and 0 <= time.time() - created < self.ttl

    def _record_path(self, data_id: str) -> Path:
        return self.root / "datasets" / f"{safe_filename(data_id)}.json"

    def _file_lock(self, name: str) -> Any:
        import filelock

        self.root.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(str(self.root / f"{name}.lock"))

    # -- listing

    def listing(self) -> dict[str, dict[str, Any]]:
        """Every dataset id with its attributes; one catalogue walk per ``ttl``."""
        with self._lock:
            if self._listing is not None and self._fresh(self._listing.get("created")):
                return self._listing["datasets"]
            path = self.root / "listing.json"
            cached = _read_json(path)
            if cached is None or not self._fresh(cached.get("created")):
                with self._file_lock("walk"):
                    cached = _read_json(path)
                    if cached is None or not self._fresh(cached.get("created")):
                        cached = self._walk()
            self._listing = cached
            return cached["datasets"]

    def _listing_if_fresh(self) -> dict[str, dict[str, Any]] | None:
        with self._lock:
            if self._listing is not None and self._fresh(self._listing.get("created")):
                return self._listing["datasets"]
            cached = _read_json(self.root / "listing.json")
            if cached is not None and self._fresh(cached.get("created")):
                self._listing = cached
                return cached["datasets"]
        return None

    def _walk(self) -> dict[str, Any]:
        created = time.time()
        records: dict[str, DatasetRecord] = {}
        for location in self.api.catalogues():
            root_document = self.api.get_json(location.stac_url)
            folder = location.stac_url.rsplit("/", 1)[0]
            product_urls = [
                url
                for href in _links(root_document, "child")
                if (url := self._below(folder, href, location.stac_url)) is not None
            ]
            with ThreadPoolExecutor(_WORKERS, thread_name_prefix="cmems-walk") as pool:
                products = list(pool.map(self._product, product_urls))
                jobs = [
                    (product, url)
                    for product in products
                    if product is not None
                    for url in product["item_urls"]
                ]
                items = list(pool.map(lambda job: self._item(job[1]), jobs))
            for (product, url), document in zip(jobs, items, strict=True):
                if document is None:
                    continue
                parsed_id = _parsed_id(document["id"])
                record = records.get(parsed_id)
                if record is None:
                    record = records[parsed_id] = DatasetRecord(
                        dataset_id=parsed_id,
                        product_id=product["id"],
                        product_title=product["title"],
                        doi=product["doi"],
                        items=[],
                    )
                if record.product_id == product["id"]:
                    record.items.append({"url": url, "document": document})
        for data_id in [k for k, v in records.items() if not v.has_zarr_series]:
            logger.debug("not listing %s: it has no ARCO Zarr series service", data_id)
            del records[data_id]
        datasets: dict[str, Any] = {}
        for data_id in sorted(records):
            record = records[data_id]
            _write_json(self._record_path(data_id), {"created": created, **record.to_json()})
            datasets[data_id] = record.attrs()
        listing = {"created": created, "config_url": self.api.config_url, "datasets": datasets}
        _write_json(self.root / "listing.json", listing)
        with self._lock:
            self.walks += 1
            self._records.update({k: (created, v) for k, v in records.items()})
        return listing

    def _below(self, folder: str, href: str, where: str) -> str | None:
        """The URL of ``href`` (relative to ``folder``) if it stays below it, else None."""
        relative = href
        if "://" in href and href.startswith(folder.rstrip("/") + "/"):
            relative = href[len(folder.rstrip("/")) + 1 :]
        try:
            return confine_url(folder, relative, from_service=True, store_id=STORE_ID)
        except DataStoreError as error:
            logger.warning("skipping the catalogue link %r of %s: %s", href, where, error.message)
            return None

    def _product(self, url: str) -> dict[str, Any] | None:
        document = self._document(url)
        if document is None:
            return None
        product_id = document.get("id")
        if not isinstance(product_id, str) or not product_id:
            logger.warning("skipping the product collection %s: it has no id", url)
            return None
        folder = url.rsplit("/", 1)[0]
        item_urls = [
            item_url
            for href in _links(document, "item")
            if (item_url := self._below(folder, href, url)) is not None
        ]
        title = document.get("title")
        doi = document.get("sci:doi")
        return {
            "id": product_id,
            "title": title if isinstance(title, str) and title else product_id,
            "doi": doi if isinstance(doi, str) else None,
            "item_urls": item_urls,
        }

    def _item(self, url: str) -> dict[str, Any] | None:
        document = self._document(url)
        if document is None:
            return None
        if not isinstance(document.get("id"), str) or not document["id"]:
            logger.warning("skipping the dataset item %s: it has no id", url)
            return None
        return document

    def _document(self, url: str, data_id: str | None = None) -> dict[str, Any] | None:
        """A catalogue document; None (with a warning) when the catalogue links to nothing."""
        try:
            document = self.api.get_json(url, data_id=data_id)
        except DataNotFoundError as error:
            logger.warning("the catalogue links to a missing document: %s", error.message)
            return None
        if not isinstance(document, dict):
            raise ServiceError(
                f"the catalogue document {url} is not a JSON object",
                store_id=STORE_ID,
                data_id=data_id,
            )
        return document

    # -- one dataset

    def has(self, data_id: str) -> bool:
        listing = self._listing_if_fresh()
        if listing is not None:
            return data_id in listing
        return self.record(data_id) is not None

    def record(self, data_id: str) -> DatasetRecord | None:
        """The catalogue record of ``data_id``, or None when the catalogue lacks it."""
        with self._lock:
            memo = self._records.get(data_id)
            if memo is not None and self._fresh(memo[0]):
                return memo[1]
        cached = _read_json(self._record_path(data_id))
        if (
            cached is not None
            and self._fresh(cached.get("created"))
            and cached.get("dataset_id") == data_id
        ):
            record = DatasetRecord.from_json(cached)
            with self._lock:
                self._records[data_id] = (cached["created"], record)
            return record
        listing = self._listing_if_fresh()
        if listing is not None and data_id not in listing:
            return None
        created = time.time()
        record = self._fetch_record(data_id)
        if record is not None:
            _write_json(self._record_path(data_id), {"created": created, **record.to_json()})
        with self._lock:
            self._records[data_id] = (created, record)
        return record

    def _mappings(self) -> tuple[list[CatalogueLocation], dict[str, list[str]]]:
        """The catalogues and the product ids of each dataset (from the id mappings)."""
        with self._lock:
            if self._locations is not None and self._fresh(self._locations[0]):
                return self._locations[1], self._locations[2]
        created = time.time()
        locations = self.api.catalogues()
        products: dict[str, list[str]] = {}
        for index, location in enumerate(locations):
            mapping = self.api.get_json(location.id_mapping_url)
            if not isinstance(mapping, dict):
                raise ServiceError(
                    f"the id mapping {location.id_mapping_url} is not a JSON object",
                    store_id=STORE_ID,
                )
            for data_id, product_ids in mapping.items():
                if isinstance(product_ids, str):
                    products.setdefault(data_id, []).extend(
                        f"{index}:{p.strip()}" for p in product_ids.split(",") if p.strip()
                    )
        with self._lock:
            self._locations = (created, locations, products)
        return locations, products

    def _fetch_record(self, data_id: str) -> DatasetRecord | None:
        locations, products = self._mappings()
        record: DatasetRecord | None = None
        for entry in products.get(data_id, []):
            index, _, product_id = entry.partition(":")
            location = locations[int(index)]
            product_url = self._below(
                location.stac_root, f"{product_id}/product.stac.json", location.id_mapping_url
            )
            if product_url is None:
                continue
            product = self._product(product_url)
            if product is None:
                continue
            urls = [u for u in product["item_urls"] if data_id in u or _quoted(data_id) in u]
            with ThreadPoolExecutor(_WORKERS, thread_name_prefix="cmems-items") as pool:
                documents = list(pool.map(self._item, urls))
            found = [
                {"url": url, "document": document}
                for url, document in zip(urls, documents, strict=True)
                if document is not None and _parsed_id(document["id"]) == data_id
            ]
            if not found:
                continue
            if record is None and DatasetRecord(data_id, "", "", None, found).has_zarr_series:
                record = DatasetRecord(
                    dataset_id=data_id,
                    product_id=product["id"],
                    product_title=product["title"],
                    doi=product["doi"],
                    items=found,
                )
        return record

    def dataset(self, data_id: str) -> CopernicusMarineDataset:
        """The toolbox model of ``data_id``; DataNotFoundError when the catalogue lacks it."""
        with self._lock:
            model = self._models.get(data_id)
        record = self.record(data_id)
        if record is None:
            raise DataNotFoundError(
                "the Copernicus Marine catalogue has no such dataset",
                store_id=STORE_ID,
                data_id=data_id,
            )
        if model is None:
            model = toolbox_dataset(record)
            if not model.versions:
                raise DataNotFoundError(
                    "the dataset has no current version with a service",
                    store_id=STORE_ID,
                    data_id=data_id,
                )
            with self._lock:
                self._models[data_id] = model
        return model

    def summary(self, data_id: str) -> DatasetSummary:
        record = self.record(data_id)
        model = self.dataset(data_id)
        assert record is not None
        return summarize(record, model)


def _parsed_id(item_id: str) -> str:
    from copernicusmarine.catalogue_parser.models import get_version_and_part_from_full_dataset_id

    return get_version_and_part_from_full_dataset_id(item_id)[0]


def _quoted(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def describe(summary: DatasetSummary, open_params_schema: Any = None) -> Any:
    """The descriptor of a dataset from its catalogue summary (no data read).

    Data types are not in the catalogue: ARCO variables decode to float32, as stated.
    """
    from eostores.descriptor import DatasetDescriptor, VariableDescriptor

    chunk_lengths = summary.chunks.get("arco-geo-series") or next(iter(summary.chunks.values()), {})
    coords: dict[str, VariableDescriptor] = {}
    dims: dict[str, int] = {}
    for name, coordinate in summary.coordinates.items():
        attrs: dict[str, Any] = {"units": coordinate.units}
        if coordinate.axis:
            attrs["axis"] = coordinate.axis.upper()
        if coordinate.axis == "t":
            attrs["minimum"] = _as_datetime(coordinate.minimum).isoformat()
            attrs["maximum"] = _as_datetime(coordinate.maximum).isoformat()
        else:
            attrs["minimum"], attrs["maximum"] = coordinate.minimum, coordinate.maximum
            if coordinate.step:
                attrs["step"] = coordinate.step
        coords[name] = VariableDescriptor(
            name=name,
            dtype="datetime64[ns]" if coordinate.axis == "t" else "float32",
            dims=(name,),
            attrs=attrs,
        )
        if coordinate.size is not None:
            dims[name] = coordinate.size
    data_vars = {}
    for name, info in summary.variables.items():
        var_dims = tuple(info["dims"])
        chunks = None
        if var_dims and all(d in chunk_lengths for d in var_dims):
            chunks = tuple(chunk_lengths[d] for d in var_dims)
        attrs = {k: info[k] for k in ("standard_name", "units") if info.get(k)}
        data_vars[name] = VariableDescriptor(
            name=name, dtype="float32", dims=var_dims, chunks=chunks, attrs=attrs
        )
    time_range = summary.time_range
    attrs = {
        "title": summary.title,
        "product_id": summary.product_id,
        "product_title": summary.product_title,
        "doi": summary.doi,
        "versions": summary.versions,
        "default_version": summary.default_version,
        "parts": summary.parts.get(summary.default_version, []),
        "default_part": summary.default_part,
        "services": summary.services,
    }
    if summary.depth_range is not None:
        attrs["depth_range"] = list(summary.depth_range)
    return DatasetDescriptor(
        data_id=summary.dataset_id,
        crs="EPSG:4326",
        bbox=summary.bbox,
        time_range=(
            (time_range[0].date().isoformat(), time_range[1].date().isoformat())
            if time_range
            else None
        ),
        time_period=summary.time_step,
        spatial_res=summary.spatial_res,
        dims=dims,
        coords=coords,
        data_vars=data_vars,
        attrs={k: v for k, v in attrs.items() if v is not None},
        open_params_schema=open_params_schema,
    )
