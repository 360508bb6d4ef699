"""Talking to the ESA Climate Data Centre: OpenSearch, ISO 19115 records and OPeNDAP (DAP2).

Every request goes through one :mod:`eostores.http` session per connection and process
(retries of 429/5xx and dropped connections as the store parameters say, never of a 404;
one deadline per call; a per-host cap on requests in flight). Metadata documents are kept
in the cache folder through :func:`eostores.cache.download` (atomic, locked across threads
and processes, one transfer per document) for ``catalogue_ttl`` seconds. DAP2 answers are
decoded with pydap's client-side parsers.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextvars
import hashlib
import io
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np

from eostores.cache import download
from eostores.errors import DataNotFoundError, DataStoreError, ServiceError
from eostores.http import Session, new_session
from eostores.paths import confine, safe_filename

from .config import (
    BATCH_SIZE,
    BATCH_THRESHOLD,
    MAX_PARALLEL_BATCHES,
    PAGE_SIZE,
    STORE_ID,
    OdpConnection,
    check_service_href,
)

__all__ = [
    "DapVariable",
    "Description",
    "FacetOption",
    "FileFeature",
    "IsoRecord",
    "OdpApi",
    "TimeAxis",
    "api_for",
    "collection_links",
    "dap_name",
    "decode_dods",
    "parse_das",
    "parse_dds",
    "parse_description",
    "parse_feature_dates",
    "parse_instant",
    "parse_iso",
]

_OS = "{http://a9.com/-/spec/opensearch/1.1/}"
_PARAM = "{http://a9.com/-/spec/opensearch/extensions/parameters/1.0/}"
_GMD = "{http://www.isotc211.org/2005/gmd}"
_GCO = "{http://www.isotc211.org/2005/gco}"
_GML_NAMESPACES = ("{http://www.opengis.net/gml/3.2}", "{http://www.opengis.net/gml}")
_COUNT = re.compile(r"\((\d+)\)\s*$")
_DAP_SAFE = "_!~*'-\""
_DATE_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])?(?!\d)")
_DATA_SEPARATOR = b"\nData:\n"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class FacetOption:
    """One value of a facet of the OpenSearch description, with its number of files."""

    value: str
    label: str
    count: int | None


@dataclass(frozen=True)
class Description:
    """The OpenSearch description: facet name -> its options."""

    facets: dict[str, tuple[FacetOption, ...]]

    def options(self, facet: str) -> tuple[FacetOption, ...]:
        return self.facets.get(facet, ())


@dataclass(frozen=True)
class IsoRecord:
    """What the ISO 19115 record of a collection says about it."""

    title: str | None = None
    abstract: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    time_start: str | None = None
    time_end: str | None = None


@dataclass(frozen=True)
class FileFeature:
    """One file of a collection: its name, time interval and OPeNDAP URL."""

    identifier: str
    title: str
    start: datetime
    end: datetime
    opendap_url: str | None
    download_url: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DapVariable:
    """A variable of a DAP2 dataset: name, dimensions, shape, dtype and attributes."""

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class TimeAxis:
    """The time coordinate of one file as served: values, their bounds (None if the files
    have none) and the coordinate's attributes (``units``, ``calendar``)."""

    values: np.ndarray = field(compare=False)
    bounds: np.ndarray | None = field(compare=False)
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


# --------------------------------------------------------------------------- parsers


def parse_description(content: bytes) -> Description:
    """The facets of an OpenSearch description document (``param:Parameter`` options)."""
    root = _xml(content, "the OpenSearch description")
    facets: dict[str, list[FacetOption]] = {}
    for url in root.iter(f"{_OS}Url"):
        for parameter in url.iter(f"{_PARAM}Parameter"):
            name = parameter.get("name")
            if not name:
                continue
            options = facets.setdefault(name, [])
            known = {o.value for o in options}
            for option in parameter.iter(f"{_PARAM}Option"):
                value = option.get("value")
                if not value or value in known:
                    continue
                label = option.get("label") or value
                match = _COUNT.search(label)
                options.append(FacetOption(value, label, int(match.group(1)) if match else None))
                known.add(value)
    return Description({name: tuple(options) for name, options in facets.items()})


def parse_iso(content: bytes) -> IsoRecord:
    """Title, abstract, bounding box and time extent of an ISO 19115 (gmd) record."""
    root = _xml(content, "the ISO 19115 record")

    def text(path: str) -> str | None:
        element = root.find(path)
        value = element.text if element is not None else None
        return value.strip() if value and value.strip() else None

    identification = f".//{_GMD}MD_DataIdentification"
    title = text(f"{identification}/{_GMD}citation//{_GMD}title/{_GCO}CharacterString")
    abstract = text(f"{identification}/{_GMD}abstract/{_GCO}CharacterString")
    bbox = None
    box = root.find(f".//{_GMD}EX_GeographicBoundingBox")
    if box is not None:
        sides = ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude")
        sides += ("northBoundLatitude",)
        try:
            bbox = tuple(
                float(box.find(f"{_GMD}{side}/{_GCO}Decimal").text)  # type: ignore[union-attr,arg-type]
                for side in sides
            )
        except (AttributeError, TypeError, ValueError):
            bbox = None
    start = end = None
    for gml in _GML_NAMESPACES:
        start = start or text(f".//{gml}TimePeriod/{gml}beginPosition")
        end = end or text(f".//{gml}TimePeriod/{gml}endPosition")
    return IsoRecord(title, abstract, bbox, start, end)  # type: ignore[arg-type]


def parse_dds(text: str) -> dict[str, DapVariable]:
    """The variables of a DAP2 DDS, parsed by pydap (grids by their array and maps)."""
    from pydap.model import GridType
    from pydap.parsers.dds import dds_to_dataset

    try:
        dataset = dds_to_dataset(text)
    except Exception as error:
        raise ServiceError(f"the service sent a DDS pydap cannot parse: {error}") from error
    variables = {}
    for name in dataset:
        item = dataset[name]
        if isinstance(item, GridType):
            dims = tuple(item.maps)
            array = item.array
        else:
            array = item
            dims = tuple(getattr(item, "dims", None) or ())
        shape = tuple(int(n) for n in array.shape)
        if len(dims) != len(shape):
            dims = tuple(f"dim_{i}" for i in range(len(shape)))
        dtype = np.dtype(array.dtype)
        if dtype.kind not in "biuf":
            continue  # strings and structures are no cube variables
        variables[name] = DapVariable(name, dims, shape, dtype.name)
    return variables


def parse_das(text: str) -> dict[str, dict[str, Any]]:
    """The attributes of a DAP2 DAS, parsed by pydap; ``valid_min/max ±Infinity`` dropped."""
    from pydap.parsers.das import parse_das as pydap_parse_das

    lines = [
        line
        for line in text.splitlines()
        if not re.search(r"\bvalid_(min|max)\s+-?Inf(inity)?\s*;", line, re.IGNORECASE)
    ]
    try:
        return pydap_parse_das("\n".join(lines))
    except Exception as error:
        raise ServiceError(f"the service sent a DAS pydap cannot parse: {error}") from error


def decode_dods(content: bytes) -> dict[str, np.ndarray]:
    """The arrays of a DAP2 ``.dods`` answer, by name: DDS parsed, XDR data unpacked by pydap.

    A grid gives its array (its maps are dropped).
    """
    from pydap.handlers.dap import unpack_dap2_data
    from pydap.model import StructureType
    from pydap.parsers.dds import dds_to_dataset

    head, separator, data = content.partition(_DATA_SEPARATOR)
    if not separator:
        raise ServiceError("the service's DAP2 answer has no 'Data:' section")
    try:
        dataset = dds_to_dataset(head.decode("ascii"))
        values = unpack_dap2_data(io.BytesIO(data), dataset)
    except Exception as error:
        raise ServiceError(
            f"the service's DAP2 answer cannot be decoded: {type(error).__name__}: {error}"
        ) from error
    arrays = {}
    for name, value in zip(dataset.keys(), values, strict=False):
        if isinstance(dataset[name], StructureType) and isinstance(value, tuple | list):
            value = value[0]
        array = np.asarray(value)
        arrays[name] = array.astype(array.dtype.newbyteorder("="), copy=False)
    return arrays


def dap_name(name: str) -> str:
    """``name`` quoted for a DAP2 constraint expression."""
    return quote(name, safe=_DAP_SAFE).replace(".", "%2E")


def parse_feature_dates(properties: Mapping[str, Any], title: str) -> tuple[datetime, datetime]:
    """The time interval of a file: ``properties.date`` ("start/end"), else its name."""
    value = properties.get("date")
    if isinstance(value, str) and "/" in value:
        first, _, last = value.partition("/")
        start, end = parse_instant(first), parse_instant(last)
        if start is not None and end is not None and start <= end:
            return start, end
    match = _DATE_IN_NAME.search(title)
    if match is None:
        raise ServiceError(f"the service gives no date for the file {title!r}")
    year, month, day = int(match.group(1)), int(match.group(2)), match.group(3)
    if day is not None:
        start = datetime(year, month, int(day))
        return start, start + timedelta(days=1) - timedelta(seconds=1)
    start = datetime(year, month, 1)
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return start, following - timedelta(seconds=1)


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 instant of the service as naive UTC, None if ``text`` is none.

    Fractions of a second and a ``Z`` or ``+hh:mm`` offset are accepted; a date alone is its
    midnight.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _xml(content: bytes, what: str) -> ET.Element:
    if b"<!DOCTYPE" in content[:4096] or b"<!ENTITY" in content[:4096]:
        raise ServiceError(f"{what} declares a DOCTYPE or entities, which are not accepted")
    try:
        return ET.fromstring(content)
    except ET.ParseError as error:
        raise ServiceError(f"{what} is no well-formed XML: {error}") from error


def _json(content: bytes, what: str) -> Any:
    try:
        return json.loads(content)
    except ValueError as error:
        raise ServiceError(f"{what} is no JSON: {error}") from error


# --------------------------------------------------------------------------- the client


class OdpApi:
    """The requests of the ``cciodp`` store, through one session of ``connection``."""

    def __init__(self, connection: OdpConnection):
        self.connection = connection
        self.session: Session = new_session(connection.http)
        self._lock = threading.Lock()

    # -- transport

    def get(self, url: str) -> bytes:
        """The body of ``url`` (not cached)."""
        return self.session.get(url).content

    def cached(self, url: str, kind: str, label: str) -> bytes:
        """The body of ``url``, from the cache folder while younger than ``catalogue_ttl``.

        Threads and processes sharing the folder fetch each document once per period.
        """
        connection = self.connection
        ttl = connection.catalogue_ttl
        if not connection.cache_dir or ttl <= 0:
            return self.get(url)
        period = int(time.time() // ttl)
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        stem = safe_filename(label, max_length=120)
        name = f"{stem}-{digest}"
        folder = confine(connection.cache_dir, kind, store_id=STORE_ID, parameter="cache_dir")
        target = folder / f"{name}-{period}"
        for _ in range(3):
            try:
                path = download(url, target, session=self.session)
            except DataStoreError as error:
                # a timeout is an OSError, which download() reports as a local write
                # failure; the request's own error says what happened
                if isinstance(error.__cause__, DataStoreError):
                    raise error.__cause__ from None
                raise
            try:
                content = path.read_bytes()
            except FileNotFoundError:  # removed as outdated by another process just now
                continue
            _remove_older(folder, name, period)
            return content
        return self.get(url)

    def search(self, params: Mapping[str, Any], label: str) -> dict[str, Any]:
        """One page of an OpenSearch search (GeoJSON)."""
        query = {**params, "httpAccept": "application/geo+json"}
        url = f"{self.connection.endpoint_url}?{urlencode(query)}"
        result = _json(self.cached(url, "search", label), "the search result")
        if not isinstance(result, dict) or not isinstance(result.get("features"), list):
            raise ServiceError("the search result has no 'features' list")
        return result

    # -- catalogue

    def description(self) -> Description:
        """The OpenSearch description of the whole catalogue."""
        content = self.cached(self.connection.description_url, "catalogue", "description")
        return parse_description(content)

    def collection(self, data_id: str) -> dict[str, Any]:
        """The collection feature of a data id (DataNotFoundError if the service has none)."""
        params = {"parentIdentifier": "cci", "drsId": data_id, "startPage": 1}
        result = self.search({**params, "maximumRecords": 1}, data_id)
        for feature in result["features"]:
            if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
                return feature
        raise DataNotFoundError(
            "the service knows no collection of this id", store_id=STORE_ID, data_id=data_id
        )

    def iso_record(self, url: str, data_id: str) -> IsoRecord:
        return parse_iso(self.cached(url, "iso", data_id))

    def sample_files(self, collection_id: str, data_id: str) -> tuple[int, list[FileFeature]]:
        """The number of NetCDF files of a collection and up to five of them."""
        result = self.search(self._file_query(collection_id, data_id, 1, 5), data_id)
        return _total(result), _file_features(result["features"], data_id)

    def file_features(
        self,
        collection_id: str,
        data_id: str,
        start: datetime | None,
        end: datetime | None,
        extent: tuple[datetime, datetime] | None = None,
    ) -> list[FileFeature]:
        """Every NetCDF file of a collection overlapping ``start..end``, in time order.

        All pages are read; a search of at least BATCH_THRESHOLD files is repeated per year
        (``extent`` bounds the years of an open range), one page of BATCH_SIZE files each,
        at most MAX_PARALLEL_BATCHES at once. A year holding more files is searched by
        month, a month by day: the service cannot page beyond BATCH_SIZE files.
        """
        dates = _date_params(start, end)
        first = self.search(
            {**self._file_query(collection_id, data_id, 1, PAGE_SIZE), **dates}, data_id
        )
        total = _total(first)
        if total < BATCH_THRESHOLD:
            features = list(first["features"])
            pages = -(-total // PAGE_SIZE)
            for page in range(2, pages + 1):
                query = {**self._file_query(collection_id, data_id, page, PAGE_SIZE), **dates}
                features.extend(self.search(query, data_id)["features"])
        else:
            years = _years(
                start or (extent[0] if extent else None), end or (extent[1] if extent else None)
            )
            if years is None:
                raise ServiceError(
                    f"the collection has {total} files but no known time extent to split "
                    "the search by",
                    data_id=data_id,
                )
            features = self._batched(collection_id, data_id, years, start, end)
        files = {f.identifier: f for f in _file_features(features, data_id)}
        selected = [
            f
            for f in files.values()
            if (start is None or f.end >= start) and (end is None or f.start <= end)
        ]
        return sorted(selected, key=lambda f: (f.start, f.end, f.identifier))

    def _batched(
        self,
        collection_id: str,
        data_id: str,
        years: Sequence[int],
        start: datetime | None,
        end: datetime | None,
    ) -> list[Any]:
        def year_features(year: int) -> list[Any]:
            first = max(start, datetime(year, 1, 1)) if start else datetime(year, 1, 1)
            last_of_year = datetime(year, 12, 31, 23, 59, 59)
            last = min(end, last_of_year) if end else last_of_year
            return self._window_features(collection_id, data_id, first, last)

        workers = min(MAX_PARALLEL_BATCHES, max(1, len(years)))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(contextvars.copy_context().run, year_features, y) for y in years]
            return [feature for future in futures for feature in future.result()]

    def _window_features(
        self, collection_id: str, data_id: str, first: datetime, last: datetime
    ) -> list[Any]:
        """The file features of ``first..last`` from one page of BATCH_SIZE; a window
        holding more is searched by its months, or days."""
        query = {
            **self._file_query(collection_id, data_id, 1, BATCH_SIZE),
            **_date_params(first, last),
        }
        result = self.search(query, data_id)
        total = _total(result)
        if total <= BATCH_SIZE:
            return list(result["features"])
        parts = _split_window(first, last)
        if not parts:
            raise ServiceError(
                f"the service lists {total} files between {first:%Y-%m-%dT%H:%M:%S} and "
                f"{last:%Y-%m-%dT%H:%M:%S}, more than one search can return ({BATCH_SIZE})",
                data_id=data_id,
            )
        return [
            feature
            for a, b in parts
            for feature in self._window_features(collection_id, data_id, a, b)
        ]

    @staticmethod
    def _file_query(collection_id: str, data_id: str, page: int, size: int) -> dict[str, Any]:
        return {
            "parentIdentifier": collection_id,
            "drsId": data_id,
            "fileFormat": ".nc",
            "startPage": page,
            "maximumRecords": size,
        }

    # -- OPeNDAP

    def dds(self, href: str, data_id: str) -> dict[str, DapVariable]:
        text = self.cached(f"{href}.dds", "dap", data_id).decode("utf-8", "replace")
        return parse_dds(text)

    def das(self, href: str, data_id: str) -> dict[str, dict[str, Any]]:
        text = self.cached(f"{href}.das", "dap", data_id).decode("utf-8", "replace")
        return parse_das(text)

    def read_arrays(self, href: str, names: Iterable[str], data_id: str) -> dict[str, np.ndarray]:
        """Whole variables (coordinates) in one ``.dods`` request, cached."""
        projection = ",".join(dap_name(n) for n in names)
        return decode_dods(self.cached(f"{href}.dods?{projection}", "dap", data_id))

    def time_axes(
        self, hrefs: Sequence[str], time_name: str, bounds_name: str | None, data_id: str
    ) -> list[TimeAxis | None]:
        """The time coordinate of each file (None for a file the service says is gone),
        cached, up to ``max_concurrent_requests`` files at once."""
        names = [time_name] + ([bounds_name] if bounds_name else [])

        def read(href: str) -> TimeAxis | None:
            try:
                arrays = self.read_arrays(href, names, data_id)
                attrs = self.das(href, data_id).get(time_name, {})
            except DataNotFoundError:
                return None
            if time_name not in arrays:
                raise ServiceError(f"the DAP2 answer of {href} holds no {time_name!r}")
            bounds = arrays.get(bounds_name) if bounds_name else None
            return TimeAxis(arrays[time_name], bounds, attrs)

        workers = min(self.connection.max_concurrent_requests, max(1, len(hrefs)))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(contextvars.copy_context().run, read, h) for h in hrefs]
            return [future.result() for future in futures]

    def hyperslab(self, href: str, name: str, slices: Sequence[tuple[int, int]]) -> np.ndarray:
        """The hyperslab ``start..stop`` (inclusive) per dimension of variable ``name``."""
        constraint = dap_name(name) + "".join(f"[{a}:1:{b}]" for a, b in slices)
        arrays = decode_dods(self.get(f"{href}.dods?{constraint}"))
        if len(arrays) != 1:
            raise ServiceError(f"the DAP2 answer for {name!r} holds {len(arrays)} variables")
        array = next(iter(arrays.values()))
        expected = tuple(b - a + 1 for a, b in slices)
        if array.shape != expected:
            raise ServiceError(
                f"the DAP2 answer for {constraint} has shape {array.shape}, expected {expected}"
            )
        return array


def _remove_older(folder: Path, name: str, period: int) -> None:
    """Delete the copies of a document from earlier periods, and their lock files once no
    call can still be using them (two periods on)."""
    for path in folder.glob(f"{name}-*"):
        suffix = path.name[len(name) + 1 :]
        lock = suffix.endswith(".lock")
        number = suffix.removesuffix(".lock")
        if number.isdigit() and int(number) < (period - 1 if lock else period):
            path.unlink(missing_ok=True)


def _total(result: Mapping[str, Any]) -> int:
    total = result.get("totalResults")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ServiceError(f"the search result has no valid 'totalResults': {total!r}")
    return total


def _date_params(start: datetime | None, end: datetime | None) -> dict[str, str]:
    """``startDate``/``endDate`` as xcube-cci sends them: UTC, without a zone suffix."""
    params = {}
    if start is not None:
        params["startDate"] = start.strftime(_DATE_FORMAT)
    if end is not None:
        params["endDate"] = end.strftime(_DATE_FORMAT)
    return params


def _split_window(first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    """``first..last`` cut at month boundaries if it spans several months, else at day
    boundaries if it spans several days; empty within one day."""
    if (first.year, first.month) != (last.year, last.month):
        following = _next_month
    elif first.date() != last.date():
        following = _next_day
    else:
        return []
    parts = []
    while first <= last:
        boundary = following(first)
        parts.append((first, min(last, boundary - timedelta(seconds=1))))
        first = boundary
    return parts


def _next_month(instant: datetime) -> datetime:
    return datetime(instant.year + instant.month // 12, instant.month % 12 + 1, 1)


def _next_day(instant: datetime) -> datetime:
    return datetime(instant.year, instant.month, instant.day) + timedelta(days=1)


def _years(start: datetime | None, end: datetime | None) -> list[int] | None:
    if start is None or end is None:
        return None
    return list(range(start.year, end.year + 1))


def _file_features(features: Iterable[Any], data_id: str) -> list[FileFeature]:
    files = []
    for feature in features:
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            continue
        title = str(properties.get("title") or properties.get("identifier") or "")
        identifier = str(properties.get("identifier") or feature.get("id") or title)
        start, end = parse_feature_dates(properties, title)
        links = _links(properties.get("links"), "related")
        opendap = links.get("opendap")
        download_url = links.get("download")
        size = properties.get("filesize")
        files.append(
            FileFeature(
                identifier=identifier,
                title=title,
                start=start,
                end=end,
                opendap_url=check_service_href(opendap, "OPeNDAP URL", data_id)
                if opendap
                else None,
                download_url=download_url if isinstance(download_url, str) else None,
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            )
        )
    return files


def _links(links: Any, relation: str) -> dict[str, str]:
    """The hrefs of ``links[relation]`` by lowercase title."""
    found: dict[str, str] = {}
    if not isinstance(links, dict):
        return found
    for link in links.get(relation) or ():
        if isinstance(link, dict) and isinstance(link.get("href"), str):
            found.setdefault(str(link.get("title", "")).strip().lower(), link["href"])
    return found


def collection_links(feature: Mapping[str, Any], relation: str) -> dict[str, str]:
    """The hrefs of a collection feature's ``links[relation]`` by lowercase title."""
    return _links(feature.get("properties", {}).get("links"), relation)


# --------------------------------------------------------------------------- sessions

_APIS: collections.OrderedDict[OdpConnection, OdpApi] = collections.OrderedDict()
_APIS_LOCK = threading.Lock()
_MAX_APIS = 16


def api_for(connection: OdpConnection) -> OdpApi:
    """The process-wide client of ``connection`` (created on first use)."""
    with _APIS_LOCK:
        api = _APIS.get(connection)
        if api is None:
            api = _APIS[connection] = OdpApi(connection)
            while len(_APIS) > _MAX_APIS:
                _APIS.popitem(last=False)
        else:
            _APIS.move_to_end(connection)
        return api
