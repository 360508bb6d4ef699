"""Where and how to reach a Sentinel Hub deployment (cheap to import: no client library)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from eostores.credentials import Secret
from eostores.errors import InvalidParameterError
from eostores.http import HttpConfig

__all__ = ["CATALOG_PATH", "PROCESS_PATH", "STORE_ID", "ConnectionSpec", "check_url", "is_loopback"]

STORE_ID = "sentinelhub"
CATALOG_PATH = "/api/v1/catalog/1.0.0"
PROCESS_PATH = "/api/v1/process"


@dataclass(frozen=True)
class ConnectionSpec:
    """Where and how to reach one deployment; hashable, picklable (secrets stay wrapped)."""

    api_url: str
    oauth2_url: str
    client_id: Secret | None = None
    client_secret: Secret | None = None
    num_retries: int = 200
    retry_backoff_base: float = 1.001
    retry_backoff_max: float = 40.0
    max_concurrent_requests: int = 8
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

    def http_config(self) -> HttpConfig:
        return HttpConfig(
            store_id=STORE_ID,
            num_retries=self.num_retries,
            retry_backoff_base=self.retry_backoff_base,
            retry_backoff_max=self.retry_backoff_max,
            max_concurrency_per_host=self.max_concurrent_requests,
        )


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, parameter: str) -> str:
    """``url`` without a trailing slash; plain http only for loopback addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError(
            f"{parameter} = {url!r}: must be an http(s) URL", store_id=STORE_ID, parameter=parameter
        )
    if parts.scheme == "http" and not is_loopback(url):
        raise InvalidParameterError(
            f"{parameter} = {url!r}: credentials and tokens must not travel unencrypted; use "
            "https (plain http is accepted for loopback addresses only)",
            store_id=STORE_ID,
            parameter=parameter,
        )
    return url.rstrip("/")
