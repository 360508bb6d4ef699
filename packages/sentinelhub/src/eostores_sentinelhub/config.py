"""Store parameters, defaults and endpoints, and the validated parameters every layer uses.

Cheap to import: neither sentinelhub-py nor numpy is loaded here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from eostores.credentials import Secret
from eostores.errors import InvalidParameterError
from eostores.http import HttpConfig

if TYPE_CHECKING:
    from eostores.schema import TimePeriod, TimeRange

__all__ = [
    "CATALOG_PATH",
    "COLLECTION_ID_PATTERN",
    "DEFAULT_INSTANCE",
    "DEFAULT_MAX_REQUEST_BYTES",
    "ERROR_POLICIES",
    "HTTP_DEFAULTS",
    "INSTANCES",
    "MAX_GRID_AXIS",
    "MAX_TIME_STEPS",
    "MOSAICKING_ORDERS",
    "OUTPUT_FORMATS",
    "PROCESS_PATH",
    "RETRY_STATUSES",
    "SAMPLE_TYPES",
    "STORE_ID",
    "ConnectionSpec",
    "CubeRequest",
    "GridCrs",
    "TimeSlice",
    "VariableSpec",
    "check_url",
    "connection_from_params",
    "is_loopback",
    "origin",
]

STORE_ID = "sentinelhub"
CATALOG_PATH = "/api/v1/catalog/1.0.0"
PROCESS_PATH = "/api/v1/process"

#: Known Sentinel Hub deployments: (Sentinel Hub API URL, OAuth2 URL).
INSTANCES = {
    "sentinel-hub": (
        "https://services.sentinel-hub.com",
        "https://services.sentinel-hub.com/oauth",
    ),
    "cdse": (
        "https://sh.dataspace.copernicus.eu",
        "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect",
    ),
}
DEFAULT_INSTANCE = "sentinel-hub"

#: Retry and concurrency defaults of the store (the spec's values for the first three).
HTTP_DEFAULTS: dict[str, Any] = {
    "num_retries": 200,
    "retry_backoff_base": 1.001,
    "retry_backoff_max": 40.0,
    "max_concurrency_per_host": 8,
}

#: Statuses retried on every call. Sentinel Hub answers transient faults with a plain 500
#: too, and sentinelhub-py retries it; 429 waits for the service's Retry-After.
RETRY_STATUSES = (429, 500, 502, 503, 504)

#: Process API sample types and the numpy dtypes they produce (AUTO: 0..1 stretched to bytes).
SAMPLE_TYPES = {
    "INT8": "int8",
    "UINT8": "uint8",
    "INT16": "int16",
    "UINT16": "uint16",
    "FLOAT32": "float32",
    "AUTO": "uint8",
}

_ITEMSIZES = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "float32": 4}

#: The default bound of a cube (all variables and time steps): lazy cubes may be large,
#: but a grid beyond a tebibyte is a mistake in spatial_res or bbox, not a plan.
DEFAULT_MAX_REQUEST_BYTES = 1024**4
#: Pixels along one axis, and time steps, of a cube: its coordinates are held in memory.
MAX_GRID_AXIS = 10_000_000
MAX_TIME_STEPS = 100_000

OUTPUT_FORMATS = ("image/tiff", "application/octet-stream")
#: The Process API's mosaicking orders; the last, leastCC, needs cloud cover metadata.
MOSAICKING_ORDERS = ("mostRecent", "leastRecent", "leastCC")
ERROR_POLICIES = ("fail", "warn", "ignore")

#: BYOC and batch collection ids: an id (a UUID at Sentinel Hub), optionally prefixed with
#: ``byoc-`` or ``batch-``; safe as one URL path segment.
COLLECTION_ID_PATTERN = r"^(byoc-|batch-)?[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"


@dataclass(frozen=True)
class ConnectionSpec:
    """Where and how to reach one deployment; hashable and picklable (secrets stay wrapped)."""

    api_url: str
    oauth2_url: str
    http: HttpConfig
    client_id: Secret | None = None
    client_secret: Secret | None = None
    output_format: str = "image/tiff"

    @property
    def token_url(self) -> str:
        return self.oauth2_url.rstrip("/") + "/token"

    @property
    def catalog_url(self) -> str:
        return self.api_url.rstrip("/") + CATALOG_PATH

    @property
    def process_url(self) -> str:
        return self.api_url.rstrip("/") + PROCESS_PATH

    @property
    def max_concurrent_requests(self) -> int:
        """Requests in flight at once: the per-host cap, which also sizes the chunk pool."""
        return self.http.max_concurrency_per_host or HTTP_DEFAULTS["max_concurrency_per_host"]


@dataclass(frozen=True)
class GridCrs:
    """A CRS as the Process API names it, with what the grid needs to know about it."""

    epsg: int
    uri: str
    geographic: bool

    @property
    def name(self) -> str:
        return f"EPSG:{self.epsg}"

    @property
    def dims(self) -> tuple[str, str]:
        """Names of the (y, x) dimensions."""
        return ("lat", "lon") if self.geographic else ("y", "x")


@dataclass(frozen=True)
class VariableSpec:
    """One requested band: its unit, sample type and fill value."""

    name: str
    unit: str
    sample_type: str
    fill_value: float | int
    resolution_m: float | None = None

    @property
    def dtype(self) -> str:
        return SAMPLE_TYPES[self.sample_type]

    @property
    def itemsize(self) -> int:
        """Bytes per sample."""
        return _ITEMSIZES[self.dtype]


@dataclass(frozen=True)
class TimeSlice:
    """One time step: the instant labelling it and the interval requested (both inclusive)."""

    label: datetime
    start: datetime
    end: datetime


@dataclass(frozen=True)
class CubeRequest:
    """Validated open parameters: everything needed to lay out a cube and request chunks."""

    data_id: str
    variables: tuple[VariableSpec, ...]
    bbox: tuple[float, float, float, float]
    crs: GridCrs
    spatial_res: float
    width: int
    height: int
    tile_size: tuple[int, int]
    time_range: TimeRange
    time_period: TimePeriod | None
    time_tolerance: timedelta
    upsampling: str
    downsampling: str
    mosaicking_order: str
    collection_id: str | None
    four_d: bool
    extra_search_params: dict[str, Any]
    max_cache_size: int

    @property
    def band_names(self) -> list[str]:
        return [v.name for v in self.variables]


def connection_from_params(params: Mapping[str, Any]) -> ConnectionSpec:
    """The connection of validated store parameters (no request is made)."""
    default_api, default_oauth = INSTANCES[params.get("instance") or DEFAULT_INSTANCE]
    client_id = params.get("client_id")
    client_secret = params.get("client_secret")
    http = HttpConfig.from_params(
        {**HTTP_DEFAULTS, **params, "retry_statuses": RETRY_STATUSES}, store_id=STORE_ID
    )
    return ConnectionSpec(
        api_url=check_url(params.get("api_url") or default_api, "api_url"),
        oauth2_url=check_url(params.get("oauth2_url") or default_oauth, "oauth2_url"),
        http=http,
        client_id=Secret(client_id, source="parameter 'client_id'") if client_id else None,
        client_secret=(
            Secret(client_secret, source="parameter 'client_secret'") if client_secret else None
        ),
        output_format=params.get("output_format") or OUTPUT_FORMATS[0],
    )


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (an emulator)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, with the scheme's default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def check_url(url: str, parameter: str) -> str:
    """``url`` without a trailing slash; plain http only for loopback addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError(
            f"{parameter} = {url!r}: must be an http(s) URL", store_id=STORE_ID, parameter=parameter
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidParameterError(
            f"{parameter}: must be a base URL without user info, query or fragment",
            store_id=STORE_ID,
            parameter=parameter,
        )
    if parts.scheme == "http" and not is_loopback(url):
        raise InvalidParameterError(
            f"{parameter} = {url!r}: credentials and tokens must not travel unencrypted; use "
            "https (plain http is accepted for loopback addresses only)",
            store_id=STORE_ID,
            parameter=parameter,
        )
    return url.rstrip("/")
