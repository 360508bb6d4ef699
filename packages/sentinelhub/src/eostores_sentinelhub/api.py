"""Talking to a Sentinel Hub deployment: OAuth tokens, catalog and Process API.

sentinelhub-py fetches the tokens (``SentinelHubSession``), pages catalog searches
(``SentinelHubCatalog``) and builds request bodies; every call to the API itself goes
through one eostores HTTP session (retries, deadline, per-host concurrency cap, errors
with the service's message), to ``api_url`` only. Sentinel Hub sends ``Retry-After`` in
milliseconds; a response hook turns it into seconds before the session reads it.

A :class:`SentinelHubApi` is shared per process, :class:`ConnectionSpec` and credentials,
so that the chunk requests of every cube opened in a process (or unpickled on a dask
worker) share one session and one token.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from sentinelhub import CRS as ShCrs
from sentinelhub import BBox, SentinelHubCatalog, SentinelHubDownloadClient, SHConfig

from eostores.credentials import ConfigSource, Secret, resolve_secret
from eostores.errors import (
    AuthenticationError,
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    ServiceError,
)
from eostores.http import (
    HttpConfig,
    new_session,
    parse_retry_after,
    redact_url,
    service_message,
)

from .connection import STORE_ID, ConnectionSpec, is_loopback

__all__ = ["SentinelHubApi", "TokenSource", "api_for"]

_RETRYABLE_TOKEN_STATUSES = (429, 500, 502, 503, 504)
_REFUSAL_MEMORY_S = 10.0
_SEARCH_FIELDS = {
    "include": ["id", "properties.datetime"],
    "exclude": ["geometry", "bbox", "assets", "links"],
}


# --------------------------------------------------------------------------- tokens


def _sentinelhub_config_source(key: str) -> ConfigSource:
    def parse(text: str) -> dict[str, str]:
        import tomllib

        profiles = tomllib.loads(text)
        profile = profiles.get(os.environ.get("SH_PROFILE", "default-profile")) or {}
        return {k: str(v) for k, v in profile.items() if isinstance(v, str | int)}

    return ConfigSource(
        path=SHConfig.get_config_location(),
        parser=parse,
        key=key,
        description="sentinelhub-py configuration (profile $SH_PROFILE or default-profile)",
    )


def token_renewal_margin(lifetime: float) -> float:
    """Seconds before expiry at which a token of ``lifetime`` seconds is renewed."""
    return min(60.0, lifetime / 10) if lifetime > 0 and math.isfinite(lifetime) else 0.0


class TokenSource:
    """Access tokens from sentinelhub-py's ``SentinelHubSession``, renewed before expiry.

    A token is renewed when less than a tenth of its lifetime (at most a minute) is left,
    and on demand after a 401 (:meth:`renew`), by one thread while the others wait.
    Token requests are retried on 429, 5xx and connection failures with the store's
    retry settings, and bounded by its timeouts.
    """

    def __init__(
        self, spec: ConnectionSpec, config: HttpConfig, credentials: tuple[Secret, Secret]
    ):
        self.spec = spec
        self.config = config
        self.credentials = credentials
        self._lock = threading.Lock()
        self._token: dict[str, Any] | None = None
        self._refused: tuple[AuthenticationError, float] | None = None

    def bearer(self) -> str:
        """A valid access token."""
        with self._lock:
            if self._token is None or self._expiring(self._token):
                self._token = self._fetch_once()
            return self._token["access_token"]

    def renew(self, rejected: str) -> str:
        """A new token after ``rejected`` was refused (unless another thread renewed it)."""
        with self._lock:
            if self._token is None or self._token["access_token"] == rejected:
                self._token = self._fetch_once()
            return self._token["access_token"]

    def _fetch_once(self) -> dict[str, Any]:
        """A new token; refused credentials are not offered again for a few seconds.

        Without this, every chunk of a cube opened with wrong credentials would ask.
        """
        if self._refused is not None and time.monotonic() - self._refused[1] < _REFUSAL_MEMORY_S:
            raise copy.copy(self._refused[0])
        try:
            token = self._fetch()
        except AuthenticationError as error:
            self._refused = (error, time.monotonic())
            raise
        self._refused = None
        return token

    @staticmethod
    def _expiring(token: Mapping[str, Any]) -> bool:
        expires_at = float(token.get("expires_at") or 0)
        margin = token_renewal_margin(float(token.get("expires_in") or 0))
        return time.time() >= expires_at - margin

    def _fetch(self) -> dict[str, Any]:
        from sentinelhub import SentinelHubSession

        config = SHConfig(
            use_defaults=True,
            sh_client_id=self.credentials[0].reveal(),
            sh_client_secret=self.credentials[1].reveal(),
            sh_base_url=self.spec.api_url,
            sh_token_url=self.spec.token_url,
            max_download_attempts=1,  # retries are ours, below
            download_timeout_seconds=self.config.read_timeout,
        )
        if urlsplit(self.spec.token_url).scheme == "http" and is_loopback(self.spec.token_url):
            # oauthlib refuses plain http unless told; check_url admits it for loopback only
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        started = time.monotonic()
        deadline = self.config.deadline
        attempt = 0
        while True:
            attempt += 1
            budget = self.config.connect_timeout + self.config.read_timeout
            if deadline is not None:
                budget = min(budget, max(0.001, deadline - (time.monotonic() - started)))
            try:
                asked = time.time()
                session = _call_with_timeout(
                    lambda: SentinelHubSession(config, refresh_before_expiry=None), budget
                )
                token = dict(session.token)
                # oauthlib rounds the expiry to whole seconds; count from the request instead
                lifetime = float(token.get("expires_in") or 0)
                if lifetime > 0:
                    token["expires_at"] = asked + lifetime
                return token
            except TimeoutError:
                failure: DataStoreError = DataStoreTimeoutError(
                    f"no answer from the OAuth2 service within {budget:.1f} s "
                    f"({redact_url(self.spec.token_url)})",
                    store_id=STORE_ID,
                )
                wait: float | None = self.config.backoff(attempt - 1)
            except Exception as error:
                failure, wait = self._classify(error)
                if wait is None:
                    raise failure from None
            if attempt > self.config.num_retries:
                raise failure
            if deadline is not None and time.monotonic() - started + wait >= deadline:
                raise failure
            time.sleep(min(wait, self.config.retry_backoff_max))

    def _classify(self, error: Exception) -> tuple[DataStoreError, float | None]:
        """Our error for a failed token request, and the wait before a retry (None: final)."""
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error

        url = redact_url(self.spec.token_url)
        if isinstance(error, OAuth2Error):
            reason = error.description or error.error or type(error).__name__
            status = getattr(error, "status_code", None)
            if status in _RETRYABLE_TOKEN_STATUSES:
                failure = ServiceError(
                    f"OAuth2 service error: {reason} ({url})", status=status, store_id=STORE_ID
                )
                return failure, self.config.backoff(0)
            return (
                AuthenticationError(
                    f"the OAuth2 service refused the client credentials: {reason} ({url})",
                    store_id=STORE_ID,
                ),
                None,
            )
        cause = getattr(error, "request_exception", None) or error
        response = getattr(cause, "response", None)
        if response is not None:
            status = response.status_code
            message = f"{service_message(response)} (HTTP {status} from POST {url})"
            if status in (400, 401, 403):
                return AuthenticationError(
                    f"the OAuth2 service refused the client credentials: {message}",
                    store_id=STORE_ID,
                ), None
            failure = ServiceError(message, status=status, url=url, store_id=STORE_ID)
            if status in _RETRYABLE_TOKEN_STATUSES:
                # an identity server counts Retry-After in seconds, as HTTP defines it
                wait = parse_retry_after(response.headers.get("Retry-After"))
                return failure, self.config.backoff(0) if wait is None else wait
            return failure, None
        if isinstance(cause, requests.ConnectionError | requests.Timeout):
            failure = ServiceError(
                f"cannot reach the OAuth2 service: {type(cause).__name__} ({url})",
                url=url,
                store_id=STORE_ID,
            )
            return failure, self.config.backoff(0)
        return ServiceError(
            f"token request failed: {type(error).__name__}: {error} ({url})",
            url=url,
            store_id=STORE_ID,
        ), None


def _call_with_timeout(function: Any, timeout: float) -> Any:
    """``function()`` in a helper thread, given up after ``timeout`` seconds.

    sentinelhub-py's token request sets no timeout of its own; a hung identity server
    must not hang the caller.
    """
    result: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        try:
            result.set_result(function())
        except BaseException as error:
            result.set_exception(error)

    threading.Thread(target=run, name="eostores-sentinelhub-token", daemon=True).start()
    try:
        return result.result(timeout)
    except concurrent.futures.TimeoutError:
        raise TimeoutError from None


# --------------------------------------------------------------------------- transport


def _retry_after_ms_to_seconds(response: requests.Response, *args: Any, **kwargs: Any) -> Any:
    """Sentinel Hub's Retry-After counts milliseconds; the HTTP session expects seconds."""
    value = response.headers.get("Retry-After")
    if value is not None and value.strip().isdigit():
        response.headers["Retry-After"] = f"{int(value.strip()) / 1000:.3f}"
    return response


class _DownloadClient(SentinelHubDownloadClient):
    """sentinelhub-py's download client sending through the store's session and tokens."""

    def __init__(self, api: SentinelHubApi, config: SHConfig):
        super().__init__(config=config)
        self._api = api

    def _do_download(self, request: Any) -> requests.Response:
        return self._api.send(
            request.request_type.value,
            request.url,
            json=request.post_values,
            headers=dict(request.headers),
            authorize=request.use_session,
        )


class SentinelHubApi:
    """The catalog and Process API of one deployment, with one session and one token."""

    def __init__(self, spec: ConnectionSpec, credentials: tuple[Secret, Secret]):
        self.spec = spec
        self.http_config = spec.http_config()
        self.session = new_session(self.http_config)
        adapter = HTTPAdapter(pool_maxsize=max(10, spec.max_concurrent_requests))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.hooks["response"].append(_retry_after_ms_to_seconds)
        self.tokens = TokenSource(spec, self.http_config, credentials)
        self._sh_config = SHConfig(
            use_defaults=True, sh_base_url=spec.api_url, sh_token_url=spec.token_url
        )

    def send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        authorize: bool = True,
    ) -> requests.Response:
        """One API call; a 401 renews the token once and repeats the call."""
        token = self.tokens.bearer() if authorize else None
        for attempt in range(2):
            sent = dict(headers or {})
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            try:
                return self.session.request(method, url, json=json, headers=sent, idempotent=True)
            except AuthenticationError as error:
                if token is None or attempt > 0 or getattr(error, "status", None) != 401:
                    raise
                token = self.tokens.renew(token)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- catalog

    def _catalog(self) -> SentinelHubCatalog:
        catalog = SentinelHubCatalog(config=self._sh_config)
        catalog.client = _DownloadClient(self, self._sh_config)
        return catalog

    def collections(self) -> list[dict[str, Any]]:
        """The instance's catalog collections (STAC collection documents)."""
        try:
            return list(self._catalog().get_collections())
        except (KeyError, TypeError, ValueError) as error:
            raise ServiceError(
                f"unexpected catalog collections answer: {type(error).__name__}: {error}",
                url=self.spec.catalog_url + "/collections",
                store_id=STORE_ID,
            ) from None

    def collection(self, collection_id: str) -> dict[str, Any]:
        """One catalog collection document."""
        return dict(self._catalog().get_collection(collection_id))

    def search_times(
        self,
        collection: Any,
        start: datetime,
        end: datetime,
        bbox: Sequence[float],
        epsg: int,
        extra: Mapping[str, Any],
    ) -> list[datetime]:
        """Acquisition times (naive UTC) of the items intersecting ``bbox``, all pages."""
        from sentinelhub.time_utils import parse_time

        extra = dict(extra)
        limit = extra.pop("limit", 100)
        fields = extra.pop("fields", _SEARCH_FIELDS)
        try:
            search = self._catalog().search(
                collection,
                time=(start, end),
                bbox=BBox(tuple(bbox), crs=ShCrs(epsg)),
                fields=fields,
                limit=limit,
                **extra,
            )
            features = list(search)
        except DataStoreError:
            raise
        except (TypeError, ValueError) as error:
            raise InvalidParameterError(
                f"catalog search refused extra_search_params: {error}",
                store_id=STORE_ID,
                parameter="extra_search_params",
            ) from None
        except KeyError as error:
            raise ServiceError(
                f"unexpected catalog search answer: missing {error}",
                url=self.spec.catalog_url + "/search",
                store_id=STORE_ID,
            ) from None
        times = []
        for feature in features:
            stamp = (feature.get("properties") or {}).get("datetime")
            if not stamp:
                continue
            value = parse_time(stamp, force_datetime=True)
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            times.append(value)
        return sorted(times)

    # -- process

    def process(self, payload: Mapping[str, Any]) -> requests.Response:
        """POST one Process API request; the answer in the spec's output format."""
        return self.send(
            "POST",
            self.spec.process_url,
            json=payload,
            headers={"Accept": self.spec.output_format, "Content-Type": "application/json"},
        )


# --------------------------------------------------------------------------- sharing

_APIS: collections.OrderedDict[tuple, SentinelHubApi] = collections.OrderedDict()
_APIS_LOCK = threading.Lock()
_MAX_APIS = 16


def resolve_credentials(spec: ConnectionSpec) -> tuple[Secret, Secret]:
    """Client id and secret: store parameters, else SH_CLIENT_ID/SH_CLIENT_SECRET, else
    sentinelhub-py's config.toml; AuthenticationError naming every place looked at."""
    found = []
    for name, explicit, variable in (
        ("client_id", spec.client_id, "SH_CLIENT_ID"),
        ("client_secret", spec.client_secret, "SH_CLIENT_SECRET"),
    ):
        secret = resolve_secret(
            name,
            explicit=explicit,
            env=[variable],
            config_files=[_sentinelhub_config_source(f"sh_{name}")],
            store_id=STORE_ID,
        )
        assert secret is not None
        found.append(secret)
    return found[0], found[1]


def api_for(spec: ConnectionSpec) -> SentinelHubApi:
    """The process-wide API object of ``spec`` and its credentials (created on first use)."""
    credentials = resolve_credentials(spec)
    key = (spec, credentials)
    with _APIS_LOCK:
        api = _APIS.get(key)
        if api is None:
            api = _APIS[key] = SentinelHubApi(spec, credentials)
            while len(_APIS) > _MAX_APIS:
                _APIS.popitem(last=False)
        else:
            _APIS.move_to_end(key)
        return api
