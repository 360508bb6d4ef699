"""Store parameters of the STAC stores read into one settings object, with their defaults.

Every module of the package takes a :class:`StoreSettings` (or a part of it) instead of
raw store parameters, so that defaults and per-store differences live in one place.
Reading the settings does no I/O; credentials are looked up when first needed
(:meth:`StoreSettings.api_token`, :meth:`StoreSettings.s3_credentials`).
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
    "CDSE_S3_ENDPOINT",
    "CDSE_STAC_URL",
    "DESTINE_STAC_URL",
    "ERROR_POLICIES",
    "GROUPBY_RULES",
    "HTTP_DEFAULTS",
    "MAX_LISTED_ITEMS",
    "MOSAIC_RULES",
    "NARROW_SEARCH_STORES",
    "OPEN_PARAM_ALIASES",
    "RESAMPLING_METHODS",
    "StoreSettings",
    "origin_of",
]

CDSE_STAC_URL = "https://stac.dataspace.copernicus.eu/v1"
CDSE_S3_ENDPOINT = "https://eodata.dataspace.copernicus.eu"
DESTINE_STAC_URL = "https://cachea.destine.eu/stac/api"
#: At most this many items are listed by ``get_data_ids`` of stores over catalogues of
#: millions of items (store id -> default of ``max_listed_items``; others: no cap).
MAX_LISTED_ITEMS = {"stac-cdse": 1000}

#: Defaults of the HTTP parameters (``eostores.http.http_params_schema``) of every STAC store.
HTTP_DEFAULTS: dict[str, Any] = {
    "num_retries": 5,
    "retry_backoff_base": 1.0,
    "retry_backoff_max": 40.0,
    "connect_timeout": 10.0,
    "read_timeout": 60.0,
    "deadline": 600.0,
    "max_concurrency_per_host": None,
}

ERROR_POLICIES = ("fail", "warn", "ignore")
MOSAIC_RULES = ("first", "median")
GROUPBY_RULES = ("solar_day", "time", "day", "id")
RESAMPLING_METHODS = (
    "nearest",
    "bilinear",
    "cubic",
    "cubic_spline",
    "lanczos",
    "average",
    "mode",
    "min",
    "max",
    "med",
    "q1",
    "q3",
    "sum",
)
#: Aliases of open parameters: the spec's older name -> ours.
OPEN_PARAM_ALIASES = {"asset_names": "variable_names", "variables": "variable_names"}

#: Default dask chunk size (pixels) of stack-mode cubes.
DEFAULT_CUBE_TILE = 1024

#: Store ids whose S3 credentials may come from the AWS environment variables.
_S3_FROM_ENVIRONMENT = {"stac-cdse"}
#: Store ids that send a bearer token to the API and download assets before reading them.
_BEARER_AND_DOWNLOADS = {"stac-destine"}
#: Store ids whose service searches by bbox, datetime, ids and ``eo:cloud_cover``
#: comparisons only (DestinE Cache-A): other search parameters are refused before any
#: request, and search results are checked against every criterion again.
NARROW_SEARCH_STORES = frozenset({"stac-destine"})


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, default ports left out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class S3Settings:
    """How ``s3://`` assets are reached (as for the eostores ``s3`` store)."""

    anon: bool = False
    key: str | None = None
    secret: str | None = None
    token: str | None = None
    endpoint_url: str | None = None
    region_name: str | None = None
    client_kwargs: Mapping[str, Any] = field(default_factory=dict)
    from_environment: bool = False


@dataclass(frozen=True)
class StoreSettings:
    """The validated store parameters of one STAC store, with defaults applied."""

    store_id: str
    url: str
    stack_mode: bool = False
    page_size: int = 100
    max_workers: int = 8
    metadata_ttl: float = 300.0
    max_request_bytes: int | None = DEFAULT_MAX_BYTES
    http: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    asset_origins: tuple[str, ...] = ()
    s3: S3Settings = field(default_factory=S3Settings)
    token: str | None = None
    bearer_token: bool = False
    download_assets: bool = False
    cache_dir: str | None = None
    max_parallel_downloads: int = 2
    narrow_search: bool = False
    max_listed_items: int | None = None

    @classmethod
    def from_params(cls, store_id: str, params: Mapping[str, Any]) -> StoreSettings:
        """Settings from validated store parameters (the store's schema filled defaults)."""
        http = {k: params[k] for k in HTTP_DEFAULTS if k in params}
        s3 = S3Settings(
            anon=bool(params.get("anon")),
            key=params.get("key"),
            secret=params.get("secret"),
            token=None if store_id in _BEARER_AND_DOWNLOADS else params.get("token"),
            endpoint_url=params.get("endpoint_url"),
            region_name=params.get("region_name"),
            client_kwargs=dict(params.get("client_kwargs") or {}),
            from_environment=store_id in _S3_FROM_ENVIRONMENT,
        )
        origins = []
        for value in params.get("asset_origins") or ():
            parts = urlsplit(str(value))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidParameterError(
                    f"asset_origins: {value!r} is not an http(s) URL",
                    store_id=store_id,
                    parameter="asset_origins",
                )
            origins.append(origin_of(str(value)))
        return cls(
            store_id=store_id,
            url=str(params["url"]),
            stack_mode=bool(params.get("stack_mode")),
            page_size=int(params.get("page_size", 100)),
            max_workers=int(params.get("max_workers", 8)),
            metadata_ttl=float(params.get("metadata_ttl", 300.0)),
            max_request_bytes=params.get("max_request_bytes", DEFAULT_MAX_BYTES),
            http=http,
            headers=dict(params.get("headers") or {}),
            asset_origins=tuple(origins),
            s3=s3,
            token=params.get("token") if store_id in _BEARER_AND_DOWNLOADS else None,
            bearer_token=store_id in _BEARER_AND_DOWNLOADS,
            download_assets=store_id in _BEARER_AND_DOWNLOADS,
            cache_dir=params.get("cache_dir"),
            max_parallel_downloads=int(params.get("max_parallel_downloads", 2)),
            narrow_search=store_id in NARROW_SEARCH_STORES,
            max_listed_items=params.get("max_listed_items", MAX_LISTED_ITEMS.get(store_id)),
        )

    # -- derived settings ---------------------------------------------------------------------

    @property
    def api_origin(self) -> str:
        return origin_of(self.url)

    @property
    def credential_origins(self) -> frozenset[str]:
        """The origins that may receive the token and the extra headers."""
        return frozenset((self.api_origin, *self.asset_origins))

    def http_config(self) -> HttpConfig:
        return HttpConfig.from_params({**self.http, "url": self.url}, store_id=self.store_id)

    def api_token(self) -> Any:
        """The bearer token (an eostores ``Secret``) of stores that send one, else None.

        Looked up in the ``token`` parameter, DESTINE_TOKEN, then the password of the
        catalog host in .netrc; AuthenticationError names every place looked at.
        """
        if not self.bearer_token:
            return None
        from eostores.credentials import resolve_secret

        return resolve_secret(
            "token",
            explicit=self.token,
            env=["DESTINE_TOKEN"],
            netrc_host=urlsplit(self.url).hostname,
            store_id=self.store_id,
        )

    def s3_credentials(self) -> tuple[str | None, str | None]:
        """``(key, secret)`` for S3 assets; from the AWS variables where the store allows."""
        if not self.s3.from_environment:
            return self.s3.key, self.s3.secret
        from eostores.credentials import resolve_secret

        key = resolve_secret(
            "key", explicit=self.s3.key, env=["AWS_ACCESS_KEY_ID"], store_id=self.store_id
        )
        secret = resolve_secret(
            "secret",
            explicit=self.s3.secret,
            env=["AWS_SECRET_ACCESS_KEY"],
            store_id=self.store_id,
        )
        assert key is not None and secret is not None
        return key.reveal(), secret.reveal()

    def s3_options(self) -> dict[str, Any]:
        """s3fs keyword arguments: credentials, endpoint, and retries and timeouts as for HTTP."""
        from eostores.credentials import register_secret

        options: dict[str, Any] = {}
        if self.s3.anon:
            options["anon"] = True
        key, secret = self.s3_credentials()
        if key:
            options["key"] = key
            options["secret"] = secret
            register_secret(str(secret or ""))
        if self.s3.token:
            options["token"] = self.s3.token
            register_secret(self.s3.token)
        client_kwargs = dict(self.s3.client_kwargs)
        if self.s3.endpoint_url:
            client_kwargs["endpoint_url"] = self.s3.endpoint_url
        if self.s3.region_name:
            client_kwargs["region_name"] = self.s3.region_name
        options["client_kwargs"] = client_kwargs
        config = self.http_config()
        options["config_kwargs"] = {
            "retries": {"max_attempts": config.num_retries + 1, "mode": "standard"},
            "connect_timeout": config.connect_timeout,
            "read_timeout": config.read_timeout,
        }
        return options
