"""Store ids, endpoints, defaults and the validated connection every layer uses.

Cheap to import: neither numpy nor pydap is loaded here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from eostores.errors import InvalidParameterError, ServiceError
from eostores.http import HttpConfig

__all__ = [
    "BATCH_SIZE",
    "BATCH_THRESHOLD",
    "DATA_IDS_FILE",
    "DEFAULT_CATALOGUE_TTL",
    "DESCRIPTION_URL",
    "DRS_FIELDS",
    "ENDPOINT_URL",
    "FACETS",
    "HTTP_DEFAULTS",
    "KC_STORE_ID",
    "MAX_PARALLEL_BATCHES",
    "PAGE_SIZE",
    "STORE_ID",
    "ZARR_BUCKET",
    "ZARR_ENDPOINT_URL",
    "ZARR_STORE_ID",
    "OdpConnection",
    "check_endpoint",
    "check_service_href",
    "connection_from_params",
]

STORE_ID = "cciodp"
ZARR_STORE_ID = "ccizarr"
KC_STORE_ID = "esa-cci-kc"

#: The public OpenSearch service of the ESA Climate Data Centre (at CEDA).
ENDPOINT_URL = "https://archive.opensearch.ceda.ac.uk/opensearch/request"
DESCRIPTION_URL = (
    "https://archive.opensearch.ceda.ac.uk/opensearch/description.xml?parentIdentifier=cci"
)

#: The public object store holding Zarr copies of CCI datasets, and its index of ids.
ZARR_BUCKET = "esacci"
ZARR_ENDPOINT_URL = "https://cci-ke-o.s3-ext.jc.rl.ac.uk:443/"
DATA_IDS_FILE = "data_ids.json"

#: Retry defaults as documented for the store; the per-host cap also sizes the chunk pool.
HTTP_DEFAULTS: dict[str, Any] = {
    "num_retries": 200,
    "retry_backoff_base": 1.001,
    "retry_backoff_max": 40.0,
    "max_concurrency_per_host": 8,
}

#: Seconds the catalogue (and all other metadata) stays valid in the cache.
DEFAULT_CATALOGUE_TTL = 24 * 3600

#: Features per page of a search, and the service's batching of large collections: when a
#: search finds at least BATCH_THRESHOLD files it is repeated per year with BATCH_SIZE
#: features per page, at most MAX_PARALLEL_BATCHES at once.
PAGE_SIZE = 1000
BATCH_THRESHOLD = 1000
BATCH_SIZE = 10000
MAX_PARALLEL_BATCHES = 4

#: The parts of a data id (a DRS id such as
#: ``esacci.SST.day.L4.SSTdepth.multi-sensor.multi-platform.OSTIA.2-1.r1``).
DRS_FIELDS = (
    "project",
    "ecv",
    "frequency",
    "processing_level",
    "data_type",
    "sensor",
    "platform",
    "product_string",
    "product_version",
    "realization",
)

#: Search parameter -> the facet of the OpenSearch description that lists its values.
FACETS = {
    "ecv": "ecv",
    "frequency": "frequency",
    "processing_level": "processingLevel",
    "data_type": "dataType",
    "sensor": "sensor",
    "platform": "platform",
    "product_string": "productString",
    "product_version": "productVersion",
}


@dataclass(frozen=True)
class OdpConnection:
    """Where and how the ``cciodp`` store talks to the service; hashable and picklable."""

    endpoint_url: str
    description_url: str
    http: HttpConfig
    cache_dir: str | None
    catalogue_ttl: float
    enable_warnings: bool = False

    @property
    def max_concurrent_requests(self) -> int:
        """Requests in flight at once: the per-host cap, which also sizes the chunk pool."""
        return self.http.max_concurrency_per_host or HTTP_DEFAULTS["max_concurrency_per_host"]


def connection_from_params(params: Mapping[str, Any]) -> OdpConnection:
    """The connection of validated ``cciodp`` store parameters; makes no request."""
    from eostores.cache import default_cache_dir

    http = HttpConfig.from_params({**HTTP_DEFAULTS, **params}, store_id=STORE_ID)
    cache_dir = params.get("cache_dir")
    if cache_dir is None:
        cache_dir = str(default_cache_dir(STORE_ID))
    return OdpConnection(
        endpoint_url=check_endpoint(params.get("endpoint_url") or ENDPOINT_URL, "endpoint_url"),
        description_url=check_endpoint(
            params.get("endpoint_description_url") or DESCRIPTION_URL,
            "endpoint_description_url",
            query=True,
        ),
        http=http,
        cache_dir=cache_dir or None,
        catalogue_ttl=float(params.get("catalogue_ttl", DEFAULT_CATALOGUE_TTL)),
        enable_warnings=bool(params.get("enable_warnings")),
    )


def check_endpoint(url: str, parameter: str, *, query: bool = False) -> str:
    """``url`` if it is an http(s) URL without user info or fragment (and query, unless
    ``query``); otherwise the InvalidParameterError naming ``parameter``."""
    parts = urlsplit(url)
    problem = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "must be an http(s) URL"
    elif parts.username or parts.password or parts.fragment or (parts.query and not query):
        problem = "must be a URL without user info, fragment" + ("" if query else " or query")
    if problem is not None:
        raise InvalidParameterError(
            f"{parameter} = {url!r}: {problem}", store_id=STORE_ID, parameter=parameter
        )
    return url


def check_service_href(href: Any, what: str, data_id: str | None = None) -> str:
    """An href taken from the service's answers, if it is a plain http(s) URL.

    Service text is not trusted: other schemes (``file:``), user info, queries and
    fragments (which would change the requests built from it) are refused.
    """
    parts = urlsplit(href) if isinstance(href, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or any(ord(c) < 33 for c in href)
    ):
        raise ServiceError(
            f"the service gave an unusable {what} {href!r}: expected a plain http(s) URL",
            store_id=STORE_ID,
            data_id=data_id,
        )
    return href
