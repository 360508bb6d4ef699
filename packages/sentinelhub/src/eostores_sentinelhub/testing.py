"""A local emulator of a Sentinel Hub deployment, for tests and demos.

It models the documented protocol:

* ``POST /oauth/token``: OAuth2 client credentials (in the form body or as HTTP Basic),
  answering JWT-shaped bearer tokens that expire after ``token_expires_in`` seconds.
* ``GET /api/v1/catalog/1.0.0/collections[/<id>]`` and ``POST .../search``: STAC
  collections and items (two granules per acquisition, seconds apart), paged with an
  integer ``context.next``; ``fields`` and a CQL2-text ``filter`` subset
  (``prop op value`` joined by AND).
* ``POST /api/v1/process``: the evalscript's input bands, units, output band count and
  sample type are parsed (``evaluatePixel`` must return ``[sample.X, ...]``); the answer
  is a GeoTIFF or raw little-endian samples (``application/octet-stream``), chosen by the
  ``Accept`` header or the output format. With ``max_concurrent_requests``, requests
  beyond that many in flight get HTTP 429 with ``Retry-After`` in milliseconds, as the
  service documents it.

Errors are JSON in the service's shape, ``{"error": {"status", "reason", "message",
"code"}}``. Pixel values are a known function of the pixel centre (x, y in the request
CRS), the acquisition date and the band: see :func:`expected_values`. Faults of the
eostores emulator toolkit (latency, 5xx, dropped connections, expiring tokens) apply on
top.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import secrets
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from eostores.testing.server import EmulatorServer, FaultProfile, Request, Response, route

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "EmulatedCollection",
    "SentinelHubEmulator",
    "expected_values",
    "to_sample_type",
]

DEFAULT_CLIENT_ID = "emulator-client-id"
DEFAULT_CLIENT_SECRET = "emulator-client-secret-5f2a"
BYOC_ID = "byoc-2c8e9f3a-6d4b-4e1f-9a7c-0b5d3e8f1a26"
_EPOCH = date(2000, 1, 1)
_SAMPLE_TYPES = {
    "INT8": "int8",
    "UINT8": "uint8",
    "INT16": "int16",
    "UINT16": "uint16",
    "FLOAT32": "float32",
    "AUTO": "uint8",
}
_SUPPORTED_CRS = re.compile(r"^(4326|3857|3035|32[67]\d\d)$")


# --------------------------------------------------------------------------- the data model


@dataclass(frozen=True)
class EmulatedCollection:
    """A collection the emulator serves: bands (with allowed units) and acquisitions."""

    id: str
    title: str
    bands: Mapping[str, tuple[str, ...]]
    revisit_days: int | None  # None: timeless (DEM)
    first_day: date
    granules: int = 2
    in_catalog: bool = True
    properties: Mapping[str, Any] | None = None

    def acquisitions(self, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
        """(time, cloud cover) of the granules acquired within [start, end]."""
        if self.revisit_days is None:
            return []
        first = max(self.first_day, start.date() - timedelta(days=1))
        offset = (first - self.first_day).days % self.revisit_days
        if offset:
            first += timedelta(days=self.revisit_days - offset)
        found = []
        day = first
        while day <= end.date():
            for granule in range(self.granules):
                when = datetime(day.year, day.month, day.day, 10, 0, 0) + timedelta(
                    seconds=7 * granule
                )
                if start <= when <= end:
                    found.append((when, _cloud_cover(day, granule)))
            day += timedelta(days=self.revisit_days)
        return found


def _cloud_cover(day: date, granule: int) -> int:
    return (zlib.crc32(day.isoformat().encode()) + 13 * granule) % 100


def _band_table(*names: str) -> dict[str, tuple[str, ...]]:
    from sentinelhub import DataCollection

    table: dict[str, tuple[str, ...]] = {}
    for name in names:
        definition = getattr(DataCollection, name).value
        for band in (*(definition.bands or ()), *(definition.metabands or ())):
            table.setdefault(band.name, tuple(unit.value for unit in band.units))
    return table


def default_collections() -> list[EmulatedCollection]:
    """The collections a default emulator serves (band tables from the service docs)."""
    s1 = {"sar:instrument_mode": "IW", "s1:polarization": "DV", "s1:resolution": "HIGH"}
    return [
        EmulatedCollection(
            "sentinel-1-grd",
            "Sentinel 1 GRD",
            _band_table("SENTINEL1_IW", "SENTINEL1_EW"),
            6,
            date(2014, 10, 3),
            properties=s1,
        ),
        EmulatedCollection(
            "sentinel-2-l1c", "Sentinel 2 L1C", _band_table("SENTINEL2_L1C"), 5, date(2015, 11, 27)
        ),
        EmulatedCollection(
            "sentinel-2-l2a", "Sentinel 2 L2A", _band_table("SENTINEL2_L2A"), 5, date(2016, 11, 1)
        ),
        EmulatedCollection(
            "sentinel-3-olci",
            "Sentinel 3 OLCI",
            _band_table("SENTINEL3_OLCI"),
            1,
            date(2016, 4, 17),
            granules=1,
        ),
        EmulatedCollection(
            "sentinel-3-slstr",
            "Sentinel 3 SLSTR",
            _band_table("SENTINEL3_SLSTR"),
            1,
            date(2016, 4, 17),
            granules=1,
        ),
        EmulatedCollection(
            "sentinel-5p-l2",
            "Sentinel 5P L2",
            _band_table("SENTINEL5P"),
            1,
            date(2018, 4, 30),
            granules=1,
        ),
        EmulatedCollection(
            "landsat-ot-l1", "Landsat 8-9 L1", _band_table("LANDSAT_OT_L1"), 8, date(2013, 3, 18)
        ),
        EmulatedCollection(
            "landsat-ot-l2", "Landsat 8-9 L2", _band_table("LANDSAT_OT_L2"), 8, date(2013, 3, 18)
        ),
        EmulatedCollection(
            "dem", "DEM", _band_table("DEM"), None, date(2000, 2, 11), in_catalog=False
        ),
        EmulatedCollection(
            BYOC_ID,
            "My BYOC tiles",
            {"RED": ("DN",), "NIR": ("DN",), "dataMask": ("DN",)},
            2,
            date(2020, 1, 1),
            granules=1,
        ),
    ]


# --------------------------------------------------------------------------- pixel values


def _band_key(band: str) -> int:
    return zlib.crc32(band.encode()) % 97


def _fraction(band: str, x: np.ndarray, y: np.ndarray, day: int, geographic: bool) -> np.ndarray:
    """A sawtooth in [0, 1) of the pixel centre, the day number and the band."""
    kx, ky = (1.37, 0.71) if geographic else (1.37e-4, 0.71e-4)
    value = 0.0731 * _band_key(band) + 0.0113 * day + kx * np.asarray(x) + ky * np.asarray(y)
    return np.mod(value, 1.0)


def expected_values(
    band: str,
    x: Any,
    y: Any,
    acquired: date | datetime | None,
    *,
    geographic: bool,
    unit: str | None = None,
    units: Sequence[str] = ("REFLECTANCE", "DN"),
) -> np.ndarray:
    """The value the emulator serves for ``band`` at pixel centres (x, y) in ``unit``.

    ``acquired`` is the date of the acquisition the pixel shows (None for timeless data);
    ``units`` are the band's allowed units (the first is the default). With
    r = frac(0.0731 k(band) + 0.0113 day + kx x + ky y) (kx, ky = 1.37, 0.71 per degree
    or 1.37e-4, 0.71e-4 per metre): REFLECTANCE, LINEAR_POWER, FRACTION... r; DN of a
    band that also has REFLECTANCE round(10000 r), DN-only bands floor(12 r);
    temperatures 200 + 120 r; DEGREES 360 r; METERS -50 + 3000 r.
    """
    unit = unit or units[0]
    day = (
        0
        if acquired is None
        else ((acquired.date() if isinstance(acquired, datetime) else acquired) - _EPOCH).days
    )
    r = _fraction(
        band, np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"), day, geographic
    )
    if band == "dataMask":
        return np.ones_like(r)
    if unit == "DN":
        return np.round(r * 10000.0) if "REFLECTANCE" in units else np.floor(r * 12.0)
    if unit in ("BRIGHTNESS_TEMPERATURE", "SURFACE_TEMPERATURE", "KELVIN"):
        return 200.0 + 120.0 * r
    if unit == "DEGREES":
        return 360.0 * r
    if unit == "METERS":
        return -50.0 + 3000.0 * r
    return r


def to_sample_type(values: np.ndarray, sample_type: str) -> np.ndarray:
    """Values as the service delivers them in ``sample_type`` (rounded and clamped)."""
    if sample_type == "FLOAT32":
        return np.asarray(values, dtype="float32")
    if sample_type == "AUTO":
        values = np.asarray(values) * 255.0
    dtype = np.dtype(_SAMPLE_TYPES[sample_type])
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


# --------------------------------------------------------------------------- evalscript


@dataclass(frozen=True)
class _Script:
    input_bands: list[str]
    units: list[str] | None
    output_bands: int
    sample_type: str
    returned: list[str]


class _BadRequest(Exception):
    def __init__(self, message: str, code: str = "COMMON_BAD_PAYLOAD"):
        super().__init__(message)
        self.code = code


def _parse_evalscript(script: Any) -> _Script:
    if not isinstance(script, str) or not script.strip():
        raise _BadRequest("The evalscript is missing.")
    if not script.lstrip().startswith("//VERSION=3"):
        raise _BadRequest("Only evalscripts of VERSION=3 are supported.")
    input_match = re.search(r"input\s*:\s*\[\s*\{(.*?)\}\s*\]", script, re.DOTALL)
    if input_match is None:
        raise _BadRequest("Invalid script! setup() must declare input: [{bands: [...]}].")
    inputs = input_match.group(1)
    bands_match = re.search(r"bands\s*:\s*\[([^\]]*)\]", inputs)
    if bands_match is None:
        raise _BadRequest("Invalid script! The input declares no bands.")
    input_bands = re.findall(r"[\"']([^\"']+)[\"']", bands_match.group(1))
    units_match = re.search(r"units\s*:\s*(\[[^\]]*\]|[\"'][^\"']*[\"'])", inputs)
    units = None
    if units_match is not None:
        units = re.findall(r"[\"']([^\"']+)[\"']", units_match.group(1))
        if units_match.group(1).startswith("["):
            if len(units) != len(input_bands):
                raise _BadRequest("Invalid script! units must name one unit per input band.")
        else:
            units = units * len(input_bands)
    output_match = re.search(r"output\s*:\s*\{([^}]*)\}", script)
    if output_match is None:
        raise _BadRequest("Invalid script! setup() must declare an output.")
    count_match = re.search(r"bands\s*:\s*(\d+)", output_match.group(1))
    if count_match is None:
        raise _BadRequest("Invalid script! The output declares no number of bands.")
    type_match = re.search(r"sampleType\s*:\s*[\"'](\w+)[\"']", output_match.group(1))
    sample_type = type_match.group(1) if type_match else "AUTO"
    if sample_type not in _SAMPLE_TYPES:
        raise _BadRequest(
            f"Invalid script! Unknown sampleType {sample_type!r}; use one of "
            + ", ".join(_SAMPLE_TYPES)
        )
    return_match = re.search(
        r"function\s+evaluatePixel\s*\(\s*(\w+)\s*\)\s*\{.*?return\s*\[([^\]]*)\]",
        script,
        re.DOTALL,
    )
    if return_match is None:
        raise _BadRequest("Invalid script! evaluatePixel must return an array of samples.")
    variable = return_match.group(1)
    items = [item.strip() for item in return_match.group(2).split(",") if item.strip()]
    returned = []
    for item in items:
        match = re.fullmatch(rf"{variable}\.(\w+)", item)
        if match is None:
            raise _BadRequest(f"Invalid script! The emulator cannot evaluate {item!r}.")
        if match.group(1) not in input_bands:
            raise _BadRequest(
                f"Invalid script! {match.group(1)!r} is used but not declared as an input band."
            )
        returned.append(match.group(1))
    output_bands = int(count_match.group(1))
    if output_bands != len(returned):
        raise _BadRequest(
            f"Invalid script! The output declares {output_bands} bands but evaluatePixel "
            f"returns {len(returned)}."
        )
    return _Script(input_bands, units, output_bands, sample_type, returned)


# --------------------------------------------------------------------------- filters


_COMPARISON = re.compile(r"^\s*([\w:.\-]+)\s*(<>|<=|>=|=|<|>)\s*('(?:[^']*)'|-?\d+(?:\.\d+)?)\s*$")


def _parse_filter(text: str) -> list[tuple[str, str, Any]]:
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        match = _COMPARISON.match(part)
        if match is None:
            raise _BadRequest(f"Cannot parse CQL2 filter expression {part!r}.")
        name, op, raw = match.groups()
        value: Any = raw[1:-1] if raw.startswith("'") else float(raw)
        clauses.append((name, op, value))
    return clauses


def _matches(properties: Mapping[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
    for name, op, value in clauses:
        actual = properties.get(name)
        if actual is None:
            return False
        outcome = {
            "=": actual == value,
            "<>": actual != value,
            "<": actual < value,
            "<=": actual <= value,
            ">": actual > value,
            ">=": actual >= value,
        }[op]
        if not outcome:
            return False
    return True


# --------------------------------------------------------------------------- the emulator


def _error(status: int, reason: str, message: str, code: str, **headers: str) -> Response:
    body = {"error": {"status": status, "reason": reason, "message": message, "code": code}}
    return Response.json(body, status, headers=headers or None)


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SentinelHubEmulator(EmulatorServer):
    """A Sentinel Hub deployment on 127.0.0.1: OAuth2, catalog and Process API.

    ``token_expires_in``: lifetime of issued tokens (seconds); ``max_concurrent_requests``:
    Process API requests served at once (more get 429); ``processing_ms``: time each
    Process API request takes while it holds its slot. :attr:`process_requests` counts
    the Process API requests answered with data.
    """

    name = "sentinelhub"

    def __init__(
        self,
        latency_ms: float = 0,
        faults: FaultProfile | Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        token_expires_in: float = 3600.0,
        max_concurrent_requests: int | None = None,
        processing_ms: float = 0.0,
    ):
        super().__init__(latency_ms=latency_ms, faults=faults, host=host, port=port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_expires_in = float(token_expires_in)
        self.max_concurrent_requests = max_concurrent_requests
        self.processing_ms = float(processing_ms)
        self.collections = {c.id: c for c in default_collections()}
        self._issued: dict[str, tuple[float, float]] = {}
        self._in_flight: list[float] = []
        self._state_lock = threading.Lock()
        self.process_requests = 0
        self.rate_limited = 0

    def store_params(self) -> dict[str, Any]:
        return {
            "api_url": self.url,
            "oauth2_url": f"{self.url}/oauth",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    # -- tokens

    def _new_token(self) -> str:
        now = time.time()
        header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        payload = _b64(
            json.dumps(
                {
                    "sub": self.client_id,
                    "azp": self.client_id,
                    "iat": int(now),
                    "exp": int(now + self.token_expires_in),
                    "jti": secrets.token_hex(8),
                }
            ).encode()
        )
        token = f"{header}.{payload}.{_b64(secrets.token_bytes(32))}"
        with self._state_lock:
            self._issued[token] = (time.monotonic(), self.token_expires_in)
        return token

    def token_valid(self, token: str | None) -> bool:
        """Whether ``token`` was issued here and has neither expired nor been cut short."""
        with self._state_lock:
            issued = self._issued.get(token or "")
        if issued is None:
            return False
        age = time.monotonic() - issued[0]
        ttl = self.faults.token_ttl_s if self.faults else None
        return age < issued[1] and (ttl is None or age < ttl)

    def _unauthorized(self, request: Request) -> Response | None:
        token = request.bearer_token
        if token is not None and self.token_valid(token):
            return None
        message = (
            "You are not authorized! Please provide a valid access token within the header "
            "[Authorization: Bearer <accessToken>] of your request."
            if token is None
            else "Your access token is invalid or has expired."
        )
        return _error(401, "Unauthorized", message, "COMMON_UNAUTHORIZED")

    @route("POST", r"/oauth/token")
    def token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return Response.json(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"},
                400,
            )
        credentials = request.basic_auth or (form.get("client_id"), form.get("client_secret"))
        if credentials != (self.client_id, self.client_secret):
            return Response.json(
                {
                    "error": "invalid_client",
                    "error_description": "Invalid client or Invalid client credentials",
                },
                401,
            )
        return Response.json(
            {
                "access_token": self._new_token(),
                "token_type": "Bearer",
                "expires_in": self.token_expires_in,
                "refresh_expires_in": 0,
                "not-before-policy": 0,
                "scope": "email profile",
            }
        )

    # -- catalog

    def _collection_document(self, collection: EmulatedCollection) -> dict[str, Any]:
        base = f"{self.url}/api/v1/catalog/1.0.0/collections/{collection.id}"
        return {
            "stac_version": "1.0.0",
            "type": "Collection",
            "id": collection.id,
            "title": collection.title,
            "description": f"{collection.title} (emulated)",
            "license": "proprietary",
            "extent": {
                "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                "temporal": {"interval": [[f"{collection.first_day.isoformat()}T00:00:00Z", None]]},
            },
            "summaries": {"eo:bands": [{"name": name} for name in collection.bands]},
            "links": [{"href": base, "rel": "self"}],
        }

    @route("GET", r"/api/v1/catalog/1.0.0/collections")
    def catalog_collections(self, request: Request) -> Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        documents = [
            self._collection_document(c) for c in self.collections.values() if c.in_catalog
        ]
        return Response.json({"collections": documents, "links": []})

    @route("GET", r"/api/v1/catalog/1.0.0/collections/(?P<collection_id>[^/]+)")
    def catalog_collection(self, request: Request, collection_id: str) -> Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        collection = self.collections.get(collection_id)
        if collection is None or not collection.in_catalog:
            return _error(
                404, "Not Found", f"Collection {collection_id} not found.", "COMMON_NOT_FOUND"
            )
        return Response.json(self._collection_document(collection))

    @route("POST", r"/api/v1/catalog/1.0.0/search")
    def catalog_search(self, request: Request) -> Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        try:
            body = request.json() or {}
            return Response.json(self._search(body))
        except _BadRequest as error:
            return _error(400, "Bad Request", str(error), error.code)
        except (ValueError, TypeError) as error:
            return _error(
                400, "Bad Request", f"Invalid search request: {error}", "COMMON_BAD_PAYLOAD"
            )

    def _search(self, body: Mapping[str, Any]) -> dict[str, Any]:
        collections = body.get("collections")
        if not isinstance(collections, list) or len(collections) != 1:
            raise _BadRequest("Exactly one collection must be given in 'collections'.")
        collection = self.collections.get(collections[0])
        if collection is None or not collection.in_catalog:
            raise _BadRequest(f"Collection {collections[0]} is not searchable.")
        start, end = datetime(1970, 1, 1), datetime(2100, 1, 1)
        if body.get("datetime"):
            first, _, last = str(body["datetime"]).partition("/")
            if first and first != "..":
                start = _parse_time(first)
            if last and last != "..":
                end = _parse_time(last)
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise _BadRequest("Parameter 'limit' must be an integer between 1 and 100.")
        offset = body.get("next", 0)
        if not isinstance(offset, int) or offset < 0:
            raise _BadRequest("Parameter 'next' must be a non-negative integer.")
        clauses = []
        if body.get("filter"):
            if body.get("filter-lang", "cql2-text") != "cql2-text":
                raise _BadRequest("The emulator understands filter-lang cql2-text only.")
            clauses = _parse_filter(str(body["filter"]))
        bbox = body.get("bbox") or [-180.0, -90.0, 180.0, 90.0]
        items = []
        for when, cloud_cover in collection.acquisitions(start, end):
            properties = {
                "datetime": _iso(when),
                "eo:cloud_cover": cloud_cover,
                **(collection.properties or {}),
            }
            if clauses and not _matches(properties, clauses):
                continue
            items.append(self._item(collection, when, properties, bbox))
        page = items[offset : offset + limit]
        context: dict[str, Any] = {"limit": limit, "returned": len(page)}
        if offset + limit < len(items):
            context["next"] = offset + limit
        fields = body.get("fields")
        if isinstance(fields, Mapping):
            page = [_apply_fields(item, fields) for item in page]
        return {"type": "FeatureCollection", "features": page, "links": [], "context": context}

    @staticmethod
    def _item(
        collection: EmulatedCollection, when: datetime, properties: dict, bbox: Sequence[float]
    ) -> dict[str, Any]:
        x0, y0, x1, y1 = (float(v) for v in bbox)
        return {
            "stac_version": "1.0.0",
            "type": "Feature",
            "id": f"{collection.id}_{when:%Y%m%dT%H%M%S}",
            "collection": collection.id,
            "bbox": [x0, y0, x1, y1],
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
            },
            "properties": properties,
            "assets": {},
            "links": [],
        }

    # -- process

    @route("POST", r"/api/v1/process")
    def process(self, request: Request) -> Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        refused, started = self._enter_process()
        if refused is not None:
            return refused
        try:
            if self.processing_ms > 0:
                time.sleep(self.processing_ms / 1000.0)
            try:
                return self._render(request)
            except _BadRequest as error:
                return _error(400, "Bad Request", str(error), error.code)
            except (ValueError, TypeError, KeyError) as error:
                return _error(
                    400,
                    "Bad Request",
                    f"Invalid request: {type(error).__name__}: {error}",
                    "COMMON_BAD_PAYLOAD",
                )
        finally:
            self._leave_process(started)

    def _enter_process(self) -> tuple[Response | None, float]:
        now = time.monotonic()
        with self._state_lock:
            limit = self.max_concurrent_requests
            if limit is not None and len(self._in_flight) >= limit:
                self.rate_limited += 1
                soonest = min(self._in_flight) + self.processing_ms / 1000.0 - now
                wait_ms = max(1, math.ceil(soonest * 1000.0))
                refused = _error(
                    429,
                    "Too Many Requests",
                    "You have exceeded your rate limit.",
                    "RATE_LIMIT_EXCEEDED",
                    **{"Retry-After": str(wait_ms)},
                )
                return refused, now
            self._in_flight.append(now)
        return None, now

    def _leave_process(self, started: float) -> None:
        with self._state_lock:
            if started in self._in_flight:
                self._in_flight.remove(started)

    def _render(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, Mapping):
            raise _BadRequest("The request body must be a JSON object.")
        bounds = body["input"]["bounds"]
        epsg, geographic = _parse_crs((bounds.get("properties") or {}).get("crs"))
        bbox = [float(v) for v in bounds["bbox"]]
        if len(bbox) != 4 or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            raise _BadRequest(f"Invalid bbox {bbox}.")
        data = body["input"]["data"]
        if not isinstance(data, list) or len(data) != 1:
            raise _BadRequest("The emulator serves requests with exactly one input collection.")
        source = data[0]
        collection = self.collections.get(source.get("type", ""))
        if collection is None:
            raise _BadRequest(f"Unknown collection type {source.get('type')!r}.")
        processing = source.get("processing") or {}
        for key in ("upsampling", "downsampling"):
            if processing.get(key, "NEAREST") not in ("NEAREST", "BILINEAR", "BICUBIC"):
                raise _BadRequest(f"Invalid {key} {processing.get(key)!r}.")
        width, height = _output_size(body.get("output") or {}, bbox)
        script = _parse_evalscript(body.get("evalscript"))
        for index, band in enumerate(script.input_bands):
            allowed = collection.bands.get(band)
            if allowed is None:
                raise _BadRequest(
                    f"Invalid script! Band {band!r} does not exist in collection {collection.id}."
                )
            if script.units and script.units[index] not in allowed:
                raise _BadRequest(
                    f"Invalid script! Band {band!r} has no unit {script.units[index]!r}; "
                    f"allowed: {', '.join(allowed)}."
                )
        acquired = self._mosaic_date(collection, source.get("dataFilter") or {})
        xs = bbox[0] + (np.arange(width) + 0.5) * (bbox[2] - bbox[0]) / width
        ys = bbox[3] - (np.arange(height) + 0.5) * (bbox[3] - bbox[1]) / height
        grid_x, grid_y = np.meshgrid(xs, ys)
        has_data = collection.revisit_days is None or acquired is not None
        planes = []
        for band in script.returned:
            unit = script.units[script.input_bands.index(band)] if script.units else None
            if not has_data:
                planes.append(np.zeros((height, width)))
                continue
            planes.append(
                expected_values(
                    band,
                    grid_x,
                    grid_y,
                    acquired,
                    geographic=geographic,
                    unit=unit,
                    units=collection.bands[band],
                )
            )
        samples = to_sample_type(np.stack(planes, axis=-1), script.sample_type)
        with self._state_lock:
            self.process_requests += 1
        output_format = _output_format(request, body)
        headers = {"x-processingunits-spent": f"{width * height * len(planes) / 262144:.4f}"}
        if output_format == "application/octet-stream":
            raw = np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("<")).tobytes()
            return Response(200, raw, headers, content_type="application/octet-stream")
        tiff = _geotiff(samples, bbox, width, height, epsg, geographic)
        return Response(200, tiff, headers, content_type="image/tiff")

    def _mosaic_date(self, collection: EmulatedCollection, data_filter: Mapping) -> datetime | None:
        if collection.revisit_days is None:
            return None
        time_range = data_filter.get("timeRange") or {}
        if "from" not in time_range or "to" not in time_range:
            raise _BadRequest("dataFilter.timeRange with 'from' and 'to' is required.")
        start, end = _parse_time(time_range["from"]), _parse_time(time_range["to"])
        candidates = collection.acquisitions(start, end)
        if not candidates:
            return None
        order = data_filter.get("mosaickingOrder", "mostRecent")
        if order == "mostRecent":
            return max(when for when, _ in candidates)
        if order == "leastRecent":
            return min(when for when, _ in candidates)
        if order == "leastCC":
            return min(candidates, key=lambda item: (item[1], -item[0].timestamp()))[0]
        raise _BadRequest(f"Invalid mosaickingOrder {order!r}.")

    def acquisition_times(self, collection_id: str, start: datetime, end: datetime) -> list:
        """The granule times of ``collection_id`` within [start, end], as the catalog lists them."""
        return [when for when, _ in self.collections[collection_id].acquisitions(start, end)]


def _apply_fields(item: dict[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    excluded = {str(name) for name in fields.get("exclude") or ()}
    included = [str(name) for name in fields.get("include") or ()]
    result = {k: v for k, v in item.items() if k not in excluded}
    wanted = {name.split(".", 1)[1] for name in included if name.startswith("properties.")}
    if wanted and "properties" in result:
        result["properties"] = {k: v for k, v in result["properties"].items() if k in wanted}
    return result


def _parse_crs(uri: Any) -> tuple[int, bool]:
    text = str(uri or "")
    if text.endswith("/OGC/1.3/CRS84"):
        return 4326, True
    match = re.fullmatch(r"https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)", text)
    if match is None or not _SUPPORTED_CRS.match(match.group(1)):
        raise _BadRequest(f"CRS {text!r} is not supported.")
    epsg = int(match.group(1))
    return epsg, epsg == 4326


def _output_size(output: Mapping[str, Any], bbox: Sequence[float]) -> tuple[int, int]:
    if "width" in output or "height" in output:
        width, height = int(output.get("width", 256)), int(output.get("height", 256))
    elif "resx" in output and "resy" in output:
        width = round((bbox[2] - bbox[0]) / float(output["resx"]))
        height = round((bbox[3] - bbox[1]) / float(output["resy"]))
    else:
        width = height = 256
    if not (1 <= width <= 2500 and 1 <= height <= 2500):
        raise _BadRequest(
            f"Output size {width}x{height} is not allowed: width and height must be 1..2500."
        )
    return width, height


def _output_format(request: Request, body: Mapping[str, Any]) -> str:
    accept = request.headers.get("Accept", "").split(";")[0].strip().lower()
    if accept in ("image/tiff", "application/octet-stream"):
        return accept
    responses = (body.get("output") or {}).get("responses") or [{}]
    declared = ((responses[0] or {}).get("format") or {}).get("type", "image/png")
    if declared not in ("image/tiff", "application/octet-stream"):
        raise _BadRequest(f"Output format {declared!r} is not served by the emulator.")
    return declared


def _geotiff(
    samples: np.ndarray,
    bbox: Sequence[float],
    width: int,
    height: int,
    epsg: int,
    geographic: bool,
) -> bytes:
    import tifffile

    pixel = ((bbox[2] - bbox[0]) / width, (bbox[3] - bbox[1]) / height, 0.0)
    keys = [1, 1, 0, 3, 1024, 0, 1, 2 if geographic else 1, 1025, 0, 1, 1]
    keys += [2048 if geographic else 3072, 0, 1, epsg]
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        samples,
        photometric="minisblack",
        planarconfig="contig",
        extratags=[
            (33550, "d", 3, pixel, False),
            (33922, "d", 6, (0.0, 0.0, 0.0, bbox[0], bbox[3], 0.0), False),
            (34735, "H", len(keys), tuple(keys), False),
        ],
    )
    return buffer.getvalue()
