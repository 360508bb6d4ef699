"""A local emulator of a Sentinel Hub deployment, for tests and demos.

It models the documented protocol:

* ``POST /oauth/token``: OAuth2 client credentials (in the form body or as HTTP Basic),
  answering JWT-shaped bearer tokens that expire after ``token_expires_in`` seconds.
* ``GET /api/v1/catalog/1.0.0/collections[/<id>]`` and ``POST .../search``: STAC
  collections and items (two granules per acquisition, seconds apart) whose footprint
  intersects the search's ``bbox``, paged with an integer ``context.next``; ``fields``
  and a CQL2-text ``filter`` subset (``prop op value`` joined by AND).
* ``POST /api/v1/process``: the evalscript's input bands, units, output band count and
  sample type are parsed (``evaluatePixel`` must return ``[sample.X, ...]``); the body's
  output format must be one the service documents (png, jpeg, tiff, json). The answer is a
  GeoTIFF, or with ``Accept: application/octet-stream`` zlib-compressed raw little-endian
  samples with ``SH-Width``/``SH-Height``/``SH-Components``/``SH-SampleType`` headers;
  the ``Accept`` header has priority over the body's format. ``mosaickingOrder``
  ``leastCC`` is refused for collections without cloud cover metadata (S1, S3 OLCI, S5P,
  DEM, BYOC), and pixels outside a collection's footprint have no data. With
  ``max_concurrent_requests``, requests beyond that many in flight get HTTP 429 with
  ``Retry-After`` in milliseconds, as the service documents it.

Errors are JSON in the service's shape, ``{"error": {"status", "reason", "message",
"code"}}``. Pixel values are a known function of the pixel centre (x, y in the request
CRS), the acquisition date and the band: see :func:`.samples.expected_values`. Faults of the
eostores emulator toolkit (latency, 429, 5xx, dropped connections, expiring tokens) apply
on top; on the API paths they answer in the service's error shape, a 429 with
``Retry-After`` in milliseconds.
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
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from eostores.testing.server import EmulatorServer, FaultProfile, Request, Response, route

from .samples import (
    EmulatedCollection,
    default_collections,
    expected_values,
    to_sample_type,
)
from .scripts import BadRequest, matches_filter, parse_evalscript, parse_filter

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "SentinelHubEmulator"]

DEFAULT_CLIENT_ID = "emulator-client-id"
DEFAULT_CLIENT_SECRET = "emulator-client-secret-5f2a"
_API_PREFIX = "/api/"
#: Output formats a request body may name (the OpenAPI schema's ``format`` types), and those
#: the emulator serves; ``application/octet-stream`` only through the Accept header.
_BODY_FORMATS = ("image/png", "image/jpeg", "image/tiff", "application/json")
_SERVED_FORMATS = ("image/tiff", "application/octet-stream")
#: The 403s of ``forbidden``: the account's processing units are used up, or the account
#: may not use the collection.
_FORBIDDEN = {
    "quota": "You have exhausted the processing units quota of your account for this month.",
    "access": "You do not have access to this collection with your account.",
}
_SUPPORTED_CRS = re.compile(r"^(4326|3857|3035|32[67]\d\d)$")


# --------------------------------------------------------------------------- the emulator


def _error(status: int, reason: str, message: str, code: str, **headers: str) -> Response:
    body = {"error": {"status": status, "reason": reason, "message": message, "code": code}}
    return Response.json(body, status, headers=headers or None)


def _milliseconds(retry_after: str) -> str:
    """A ``Retry-After`` of seconds in milliseconds (an HTTP date stays a date)."""
    try:
        seconds = float(retry_after)
    except ValueError:
        return retry_after
    return str(round(seconds * 1000))


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
    Process API request takes while it holds its slot; ``forbidden``: every Process API
    request gets HTTP 403, ``"quota"`` because the account's processing units are used up,
    ``"access"`` because the account may not use the collection.
    :attr:`process_requests` counts the Process API requests answered with data,
    :attr:`output_sizes` lists their (width, height).
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
        forbidden: str | None = None,
    ):
        super().__init__(latency_ms=latency_ms, faults=faults, host=host, port=port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_expires_in = float(token_expires_in)
        self.max_concurrent_requests = max_concurrent_requests
        self.processing_ms = float(processing_ms)
        if forbidden is not None and forbidden not in _FORBIDDEN:
            raise ValueError(f"forbidden must be one of {sorted(_FORBIDDEN)} or None")
        self.forbidden = forbidden
        self.collections = {c.id: c for c in default_collections()}
        self._issued: dict[str, tuple[float, float]] = {}
        self._in_flight: list[float] = []
        self._state_lock = threading.Lock()
        self.process_requests = 0
        self.output_sizes: list[tuple[int, int]] = []
        self.rate_limited = 0

    def store_params(self) -> dict[str, Any]:
        return {
            "api_url": self.url,
            "oauth2_url": f"{self.url}/oauth",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    @property
    def in_flight(self) -> int:
        """Process API requests being served right now."""
        with self._state_lock:
            return len(self._in_flight)

    def issued_tokens(self) -> list[str]:
        """Every access token issued so far (for tests that check where tokens went)."""
        with self._state_lock:
            return list(self._issued)

    def fault_response(
        self, request: Request, status: int, profile: FaultProfile | None
    ) -> Response:
        """Injected faults of the API in the service's error shape, a 429's ``Retry-After``
        in milliseconds, as the service's rate limiter sends it; the identity server
        (``/oauth``) answers as the toolkit does, in seconds."""
        response = super().fault_response(request, status, profile)
        if not request.path.startswith(_API_PREFIX):
            return response
        headers = {}
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            headers["Retry-After"] = _milliseconds(retry_after) if status == 429 else retry_after
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        code = "RATE_LIMIT_EXCEEDED" if status == 429 else "COMMON_EXCEPTION"
        return _error(status, reason, f"{reason} (emulated fault)", code, **headers)

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
        except BadRequest as error:
            return _error(400, "Bad Request", str(error), error.code)
        except (ValueError, TypeError) as error:
            return _error(
                400, "Bad Request", f"Invalid search request: {error}", "COMMON_BAD_PAYLOAD"
            )

    def _search(self, body: Mapping[str, Any]) -> dict[str, Any]:
        collections = body.get("collections")
        if not isinstance(collections, list) or len(collections) != 1:
            raise BadRequest("Exactly one collection must be given in 'collections'.")
        collection = self.collections.get(collections[0])
        if collection is None or not collection.in_catalog:
            raise BadRequest(f"Collection {collections[0]} is not searchable.")
        start, end = datetime(1970, 1, 1), datetime(2100, 1, 1)
        if body.get("datetime"):
            first, _, last = str(body["datetime"]).partition("/")
            if first and first != "..":
                start = _parse_time(first)
            if last and last != "..":
                end = _parse_time(last)
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise BadRequest("Parameter 'limit' must be an integer between 1 and 100.")
        offset = body.get("next", 0)
        if not isinstance(offset, int) or offset < 0:
            raise BadRequest("Parameter 'next' must be a non-negative integer.")
        clauses = []
        if body.get("filter"):
            if body.get("filter-lang", "cql2-text") != "cql2-text":
                raise BadRequest("The emulator understands filter-lang cql2-text only.")
            clauses = parse_filter(str(body["filter"]))
        bbox = _search_bbox(body.get("bbox"))
        items = []
        found = collection.acquisitions(start, end) if collection.covers(bbox) else []
        for when, cloud_cover in found:
            properties = {
                "datetime": _iso(when),
                "eo:cloud_cover": cloud_cover,
                **(collection.properties or {}),
            }
            if clauses and not matches_filter(properties, clauses):
                continue
            items.append(self._item(collection, when, properties))
        page = items[offset : offset + limit]
        context: dict[str, Any] = {"limit": limit, "returned": len(page)}
        if offset + limit < len(items):
            context["next"] = offset + limit
        fields = body.get("fields")
        if isinstance(fields, Mapping):
            page = [_apply_fields(item, fields) for item in page]
        return {"type": "FeatureCollection", "features": page, "links": [], "context": context}

    @staticmethod
    def _item(collection: EmulatedCollection, when: datetime, properties: dict) -> dict[str, Any]:
        x0, y0, x1, y1 = collection.footprint
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
        if self.forbidden is not None:
            return _error(403, "Forbidden", _FORBIDDEN[self.forbidden], "COMMON_FORBIDDEN")
        refused, started = self._enter_process()
        if refused is not None:
            return refused
        try:
            if self.processing_ms > 0:
                time.sleep(self.processing_ms / 1000.0)
            try:
                return self._render(request)
            except BadRequest as error:
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
            raise BadRequest("The request body must be a JSON object.")
        output_format = _output_format(request, body)
        bounds = body["input"]["bounds"]
        epsg, geographic = _parse_crs((bounds.get("properties") or {}).get("crs"))
        bbox = [float(v) for v in bounds["bbox"]]
        if len(bbox) != 4 or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            raise BadRequest(f"Invalid bbox {bbox}.")
        data = body["input"]["data"]
        if not isinstance(data, list) or len(data) != 1:
            raise BadRequest("The emulator serves requests with exactly one input collection.")
        source = data[0]
        collection = self.collections.get(source.get("type", ""))
        if collection is None:
            raise BadRequest(f"Unknown collection type {source.get('type')!r}.")
        processing = source.get("processing") or {}
        for key in ("upsampling", "downsampling"):
            if processing.get(key, "NEAREST") not in ("NEAREST", "BILINEAR", "BICUBIC"):
                raise BadRequest(f"Invalid {key} {processing.get(key)!r}.")
        width, height = _output_size(body.get("output") or {}, bbox)
        script = parse_evalscript(body.get("evalscript"))
        for index, band in enumerate(script.input_bands):
            allowed = collection.bands.get(band)
            if allowed is None:
                raise BadRequest(
                    f"Invalid script! Band {band!r} does not exist in collection {collection.id}."
                )
            if script.units and script.units[index] not in allowed:
                raise BadRequest(
                    f"Invalid script! Band {band!r} has no unit {script.units[index]!r}; "
                    f"allowed: {', '.join(allowed)}."
                )
        acquired = self._mosaic_date(collection, source.get("dataFilter") or {})
        xs = bbox[0] + (np.arange(width) + 0.5) * (bbox[2] - bbox[0]) / width
        ys = bbox[3] - (np.arange(height) + 0.5) * (bbox[3] - bbox[1]) / height
        grid_x, grid_y = np.meshgrid(xs, ys)
        covered = _covered(collection.footprint, grid_x, grid_y, epsg, geographic)
        if collection.revisit_days is not None and acquired is None:
            covered[:] = False
        planes = []
        for band in script.returned:
            unit = script.units[script.input_bands.index(band)] if script.units else None
            values = expected_values(
                band,
                grid_x,
                grid_y,
                acquired,
                geographic=geographic,
                unit=unit,
                units=collection.bands[band],
            )
            planes.append(np.where(covered, values, 0.0))  # no data: 0, dataMask too
        samples = to_sample_type(np.stack(planes, axis=-1), script.sample_type)
        with self._state_lock:
            self.process_requests += 1
            self.output_sizes.append((width, height))
        headers = {"x-processingunits-spent": f"{width * height * len(planes) / 262144:.4f}"}
        if output_format == "application/octet-stream":
            return _raw_response(samples, script.sample_type, headers)
        tiff = _geotiff(samples, bbox, width, height, epsg, geographic)
        return Response(200, tiff, headers, content_type="image/tiff")

    def _mosaic_date(self, collection: EmulatedCollection, data_filter: Mapping) -> datetime | None:
        order = data_filter.get("mosaickingOrder", "mostRecent")
        if order not in ("mostRecent", "leastRecent", "leastCC"):
            raise BadRequest(f"Invalid mosaickingOrder {order!r}.")
        if order == "leastCC" and not collection.least_cc:
            raise BadRequest(
                f"mosaickingOrder 'leastCC' is not supported for {collection.id}: it has no "
                "cloud cover metadata; use mostRecent or leastRecent."
            )
        if collection.revisit_days is None:
            return None
        time_range = data_filter.get("timeRange") or {}
        if "from" not in time_range or "to" not in time_range:
            raise BadRequest("dataFilter.timeRange with 'from' and 'to' is required.")
        start, end = _parse_time(time_range["from"]), _parse_time(time_range["to"])
        candidates = collection.acquisitions(start, end)
        if not candidates:
            return None
        if order == "mostRecent":
            return max(when for when, _ in candidates)
        if order == "leastRecent":
            return min(when for when, _ in candidates)
        return min(candidates, key=lambda item: (item[1], -item[0].timestamp()))[0]

    def acquisition_times(self, collection_id: str, start: datetime, end: datetime) -> list:
        """The granule times of ``collection_id`` within [start, end], as the catalog lists them."""
        return [when for when, _ in self.collections[collection_id].acquisitions(start, end)]


def _covered(
    footprint: Sequence[float], xs: np.ndarray, ys: np.ndarray, epsg: int, geographic: bool
) -> np.ndarray:
    """Which pixel centres (x, y in the request CRS) lie within ``footprint`` (WGS84)."""
    west, south, east, north = footprint
    if west <= -180 and south <= -90 and east >= 180 and north >= 90:
        return np.ones(xs.shape, dtype=bool)
    if not geographic:
        from pyproj import Transformer

        xs, ys = Transformer.from_crs(epsg, 4326, always_xy=True).transform(xs, ys)
    return (xs >= west) & (xs <= east) & (ys >= south) & (ys <= north)


def _search_bbox(value: Any) -> list[float]:
    """The search's ``bbox`` (WGS84 west, south, east, north); the world if not given."""
    if value is None:
        return [-180.0, -90.0, 180.0, 90.0]
    try:
        bbox = [float(v) for v in value]
    except (TypeError, ValueError):
        bbox = []
    if len(bbox) != 4 or bbox[1] > bbox[3]:
        raise BadRequest(f"Invalid bbox {value!r}: expected [west, south, east, north].")
    return bbox


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
        raise BadRequest(f"CRS {text!r} is not supported.")
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
        raise BadRequest(
            f"Output size {width}x{height} is not allowed: width and height must be 1..2500."
        )
    return width, height


def _output_format(request: Request, body: Mapping[str, Any]) -> str:
    """The answer's format: the Accept header's, which has priority over the body's."""
    responses = (body.get("output") or {}).get("responses") or [{}]
    declared = ((responses[0] or {}).get("format") or {}).get("type", "image/png")
    if declared not in _BODY_FORMATS:
        raise BadRequest(
            f"Invalid output format type {declared!r}; allowed: {', '.join(_BODY_FORMATS)}."
        )
    accept = request.headers.get("Accept", "").split(";")[0].strip().lower()
    chosen = accept if accept in _SERVED_FORMATS else declared
    if chosen not in _SERVED_FORMATS:
        raise BadRequest(f"Output format {chosen!r} is not served by the emulator.")
    return chosen


def _raw_response(samples: np.ndarray, sample_type: str, headers: dict[str, str]) -> Response:
    """Raw samples as the service sends them for ``Accept: application/octet-stream``:
    little-endian, C order (rows, columns, bands), zlib-compressed, described by headers."""
    height, width, bands = samples.shape
    raw = np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("<")).tobytes()
    headers = {
        **headers,
        "SH-Width": str(width),
        "SH-Height": str(height),
        "SH-Components": str(bands),
        "SH-SampleType": sample_type,
    }
    return Response(200, zlib.compress(raw, 8), headers, content_type="application/octet-stream")


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
