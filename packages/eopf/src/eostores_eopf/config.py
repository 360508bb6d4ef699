"""Store parameters, defaults and endpoints of the ``eopf-zarr`` store, read once.

Every module of the package takes an :class:`EopfSettings` instead of raw store parameters,
so that defaults live in one place. Reading the settings does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from eostores.errors import InvalidParameterError
from eostores.http import HttpConfig
from eostores.limits import DEFAULT_MAX_BYTES

__all__ = [
    "CONVERSION_FACTOR_DEG_METER",
    "DEFAULT_STAC_URL",
    "DEFAULT_TILE_SIZE",
    "ERROR_POLICIES",
    "HTTP_DEFAULTS",
    "OPENER_ID",
    "OPEN_PARAM_ALIASES",
    "STORE_ID",
    "EopfSettings",
    "check_url",
]

STORE_ID = "eopf-zarr"
OPENER_ID = "dataset:zarr:eopf-zarr"

#: The STAC API of the EOPF Sentinel Zarr Samples.
DEFAULT_STAC_URL = "https://stac.core.eopf.eodc.eu"

#: Defaults of the HTTP parameters; chunk reads are many small GETs, so retry briskly.
HTTP_DEFAULTS: dict[str, Any] = {
    "num_retries": 5,
    "retry_backoff_base": 0.5,
    "retry_backoff_max": 30.0,
    "connect_timeout": 10.0,
    "read_timeout": 60.0,
    "deadline": 600.0,
    "max_concurrency_per_host": 16,
}

#: Metres per degree, as the EOPF analysis mode converts a resolution between the two.
CONVERSION_FACTOR_DEG_METER = 111320.0

#: Default dask chunk size (pixels) of a cube: the EOPF Sentinel-2 10 m chunking.
DEFAULT_TILE_SIZE = 1830

#: Other names of open parameters: the spec's ``variables`` and the conventions' name.
OPEN_PARAM_ALIASES = {"variables": "variable_names"}

#: What a cube does with an item whose product is missing (the first is the default):
#: leave it out with a warning naming it, as xcube-eopf does, or fail.
ERROR_POLICIES = ("warn", "fail")

#: Items per page of a STAC search.
SEARCH_PAGE_SIZE = 100


def check_url(value: Any, parameter: str = "url") -> str:
    """``value`` without a trailing ``/`` if it is an http(s) URL with a host."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError(
            f"{parameter} = {value!r}: must be an http or https URL with a host",
            store_id=STORE_ID,
            parameter=parameter,
        )
    return value.rstrip("/")


@dataclass(frozen=True)
class EopfSettings:
    """The validated store parameters of one store, with their defaults."""

    url: str = DEFAULT_STAC_URL
    storage_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    http: HttpConfig = field(default_factory=lambda: HttpConfig(store_id=STORE_ID))
    max_request_bytes: int | None = DEFAULT_MAX_BYTES
    max_workers: int = 8

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EopfSettings:
        """Settings from validated store parameters (no I/O); secret storage options are
        registered, so that no log line or error shows them."""
        from eostores.credentials import is_secret_name, register_secret

        for name, value in (params.get("storage_options") or {}).items():
            if is_secret_name(name) and isinstance(value, str) and value:
                register_secret(value)
        return cls(
            url=check_url(params.get("url", DEFAULT_STAC_URL)),
            storage_options=dict(params.get("storage_options") or {}),
            http=HttpConfig.from_params(params, store_id=STORE_ID),
            max_request_bytes=params.get("max_request_bytes", DEFAULT_MAX_BYTES),
            max_workers=int(params.get("max_workers") or 8),
        )
