"""Talking to a Sentinel Hub deployment: OAuth2 tokens, catalog and Process API.

Every request goes through eostores HTTP sessions, one for the API and one for the
identity server: retries of 429, 5xx and broken connections with backoff and
``Retry-After``, each call bounded by the store's deadline, a per-host concurrency cap and
errors carrying the service's own message. That is the only retry policy. The API
session reads ``Retry-After`` in milliseconds, as Sentinel Hub sends it. oauthlib builds
the token request and checks the token answer; sentinelhub-py pages catalog searches and
builds the Process API request bodies.

The client credentials go to the OAuth2 URL only, access tokens to the API origin only.

A :class:`SentinelHubApi` is shared per process, connection and credentials, so that the
chunk requests of every cube opened in a process (or unpickled on a dask worker) share
one session and one token.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import json
import math
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

from eostores.credentials import ConfigSource, Secret, install_log_redaction, resolve_secret
from eostores.errors import (
    AuthenticationError,
    DataStoreError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
)
from eostores.http import new_session, redact_url

from .config import STORE_ID, ConnectionSpec, origin

if TYPE_CHECKING:
    from sentinelhub import DataCollection, SentinelHubCatalog

__all__ = [
    "DATA_MASK",
    "SentinelHubApi",
    "TokenSource",
    "api_for",
    "evalscript",
    "process_payload",
    "resolve_credentials",
    "token_renewal_margin",
]

DATA_MASK = "dataMask"
_DATA_MASK_UNIT = "DN"
_REFUSAL_MEMORY_S = 10.0
_REFUSED_STATUSES = (400, 401, 403)
#: What a 403 of the API says when the account's quota, not its credentials, is the cause.
_QUOTA_WORDS = re.compile(r"quota|processing units?", re.IGNORECASE)
_SEARCH_FIELDS = {
    "include": ["id", "properties.datetime"],
    "exclude": ["geometry", "bbox", "assets", "links"],
}


# --------------------------------------------------------------------------- credentials


def _sentinelhub_config_source(key: str) -> ConfigSource:
    from sentinelhub import SHConfig

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


# --------------------------------------------------------------------------- tokens


def token_renewal_margin(lifetime: float) -> float:
    """Seconds before expiry at which a token of ``lifetime`` seconds is renewed."""
    return min(60.0, lifetime / 10) if lifetime > 0 and math.isfinite(lifetime) else 0.0


class TokenSource:
    """Access tokens of the client credentials grant, renewed before they expire.

    A token is renewed when less than a tenth of its lifetime (at most a minute) is left,
    and on demand after a 401 (:meth:`renew`), by one thread while the others wait.
    oauthlib prepares the request (credentials in the form body, as sentinelhub-py sends
    them) and validates the answer; the store's session sends it, so token requests are
    retried and bounded like every other call. Refused credentials are not offered again
    for a few seconds, so that the chunks of a cube opened with wrong ones do not all ask.
    """

    def __init__(
        self,
        spec: ConnectionSpec,
        session: requests.Session,
        credentials: tuple[Secret, Secret],
    ):
        self.spec = spec
        self.session = session
        self.credentials = credentials
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._expires_at = 0.0
        self._margin = 0.0
        self._refused: tuple[AuthenticationError, float] | None = None

    def bearer(self) -> Secret:
        """A valid access token."""
        with self._lock:
            if self._token is None or time.time() >= self._expires_at - self._margin:
                self._fetch_once()
            assert self._token is not None
            return self._token

    def renew(self, rejected: Secret) -> Secret:
        """A new token after ``rejected`` was refused (unless another thread renewed it)."""
        with self._lock:
            if self._token is None or self._token == rejected:
                self._fetch_once()
            assert self._token is not None
            return self._token

    def _fetch_once(self) -> None:
        refused = self._refused
        if refused is not None and time.monotonic() - refused[1] < _REFUSAL_MEMORY_S:
            raise copy.copy(refused[0])
        try:
            self._fetch()
        except AuthenticationError as error:
            self._refused = (error, time.monotonic())
            raise
        self._refused = None

    def _fetch(self) -> None:
        from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error

        client_id, client_secret = self.credentials
        client = BackendApplicationClient(client_id=client_id.reveal())
        body = client.prepare_request_body(
            include_client_id=True, client_secret=client_secret.reveal()
        )
        url = self.spec.token_url
        asked = time.time()
        try:
            response = self.session.post(
                url,
                data=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                idempotent=True,
            )
        except (AuthenticationError, InvalidParameterError) as error:
            if getattr(error, "status", None) not in _REFUSED_STATUSES:
                raise
            raise AuthenticationError(
                f"the OAuth2 service refused the client credentials: {error.message}",
                store_id=STORE_ID,
            ) from None
        except DataStoreError as error:
            raise _token_error(error) from None
        try:
            token = client.parse_request_body_response(response.text)
        except OAuth2Error as error:
            reason = error.description or error.error or type(error).__name__
            raise AuthenticationError(
                f"the OAuth2 service gave no access token: {reason} ({redact_url(url)})",
                store_id=STORE_ID,
            ) from None
        except ValueError as error:
            raise ServiceError(
                f"unexpected OAuth2 token answer: {type(error).__name__} ({redact_url(url)})",
                url=redact_url(url),
                store_id=STORE_ID,
            ) from None
        lifetime = float(token.get("expires_in") or 0)
        self._token = Secret(str(token["access_token"]), source="OAuth2 access token")
        # count the lifetime from the request: oauthlib rounds its expiry to whole seconds
        self._expires_at = asked + lifetime if lifetime > 0 else math.inf
        self._margin = token_renewal_margin(lifetime)


def _token_error(error: DataStoreError) -> DataStoreError:
    """``error`` of a token request, its message saying so."""
    error.message = f"cannot get an access token from the OAuth2 service: {error.message}"
    error.args = (error.message,)
    return error


# --------------------------------------------------------------------------- transport


class _CatalogClient:
    """What sentinelhub-py's catalog needs of a download client, over the store's session."""

    def __init__(self, api: SentinelHubApi):
        self.api = api

    def get_json_dict(
        self,
        url: str,
        post_values: Mapping[str, Any] | None = None,
        *,
        extract_key: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        method = "GET" if post_values is None else "POST"
        response = self.api.send(
            method, url, json=post_values, headers={"Accept": "application/json"}
        )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ServiceError(
                "the catalog answered with something other than a JSON object",
                url=redact_url(url),
                store_id=STORE_ID,
            )
        return data[extract_key] if extract_key else data


class SentinelHubApi:
    """The OAuth2 service, catalog and Process API of one deployment: one session, one token."""

    def __init__(self, spec: ConnectionSpec, credentials: tuple[Secret, Secret]):
        from sentinelhub import SHConfig

        install_log_redaction()
        self.spec = spec
        # to api_url only; its rate limiter's 429s count Retry-After in milliseconds
        self.session = new_session(dataclasses.replace(spec.http, retry_after_unit=0.001))
        self.tokens = TokenSource(spec, new_session(spec.http), credentials)
        self._origin = origin(spec.api_url)
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
    ) -> requests.Response:
        """One authorised API call; a 401 renews the token once and repeats the call.

        The token is sent to the configured API origin only. A 403 saying that the
        account's quota (processing units) is exhausted is a QuotaExceededError; other
        403s are AuthenticationErrors.
        """
        if origin(url) != self._origin:
            raise ServiceError(
                f"refusing to send the access token to {redact_url(url)}: not the configured "
                f"api_url ({self.spec.api_url})",
                url=redact_url(url),
                store_id=STORE_ID,
            )
        token = self.tokens.bearer()
        for attempt in range(2):
            sent = {**(headers or {}), "Authorization": f"Bearer {token.reveal()}"}
            try:
                return self.session.request(method, url, json=json, headers=sent, idempotent=True)
            except AuthenticationError as error:
                status = getattr(error, "status", None)
                if status == 403 and _QUOTA_WORDS.search(error.message):
                    raise QuotaExceededError(
                        error.message,
                        status=status,
                        url=getattr(error, "url", None),
                        store_id=STORE_ID,
                    ) from None
                if attempt > 0 or status != 401:
                    raise
                token = self.tokens.renew(token)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- catalog

    def _catalog(self) -> SentinelHubCatalog:
        from sentinelhub import SentinelHubCatalog

        catalog = SentinelHubCatalog(config=self._sh_config)
        catalog.client = _CatalogClient(self)  # type: ignore[assignment]
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
        """One catalog collection document (``collection_id`` matches the id pattern)."""
        return dict(self._catalog().get_collection(collection_id))

    def search_times(
        self,
        collection: DataCollection,
        start: datetime,
        end: datetime,
        bbox: Sequence[float],
        epsg: int,
        extra: Mapping[str, Any],
    ) -> list[datetime]:
        """Acquisition times (naive UTC) of the items intersecting ``bbox``, all pages."""
        from sentinelhub import CRS, BBox
        from sentinelhub.time_utils import parse_time

        extra = dict(extra)
        limit = extra.pop("limit", 100)
        fields = extra.pop("fields", _SEARCH_FIELDS)
        try:
            search = self._catalog().search(
                collection,
                time=(start, end),
                bbox=BBox(tuple(bbox), crs=CRS(epsg)),
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
        """POST one Process API request; the answer in the connection's output format.

        The ``Accept`` header chooses it, over the body's GeoTIFF: ``application/octet-stream``
        asks for zlib-compressed raw samples, as xcube-sh does.
        """
        return self.send(
            "POST",
            self.spec.process_url,
            json=payload,
            headers={"Accept": self.spec.output_format, "Content-Type": "application/json"},
        )


# --------------------------------------------------------------------------- request bodies


def evalscript(bands: Sequence[str], units: Sequence[str], sample_type: str) -> str:
    """A VERSION=3 evalscript returning ``bands`` (in ``units``) and then ``dataMask``.

    One output ("default") with ``len(bands) + 1`` bands of ``sample_type``. The data mask
    lets pixels without data get the variable's fill value (the service returns 0 there,
    a valid value of most bands).
    """
    if len(bands) != len(units):
        raise ValueError("one unit per band is needed")
    names = [*bands, DATA_MASK]
    unit_list = [*units, _DATA_MASK_UNIT]
    samples = ", ".join(f"sample.{name}" for name in names)
    return (
        "//VERSION=3\n"
        "function setup() {\n"
        "  return {\n"
        f"    input: [{{bands: {json.dumps(names)}, units: {json.dumps(unit_list)}}}],\n"
        f'    output: {{id: "default", bands: {len(names)}, sampleType: "{sample_type}"}}\n'
        "  };\n"
        "}\n"
        "function evaluatePixel(sample) {\n"
        f"  return [{samples}];\n"
        "}\n"
    )


def process_payload(
    collection: DataCollection,
    *,
    bbox: Sequence[float],
    epsg: int,
    size: tuple[int, int],
    time_interval: tuple[datetime, datetime] | None,
    mosaicking_order: str | None,
    upsampling: str,
    downsampling: str,
    bands: Sequence[str],
    units: Sequence[str],
    sample_type: str,
) -> dict[str, Any]:
    """The Process API request body of one tile, built with sentinelhub-py.

    Its output format is always GeoTIFF, one of the formats the body may name; raw samples
    are asked for with the ``Accept`` header alone (:meth:`SentinelHubApi.process`).
    """
    from sentinelhub import CRS, BBox, MimeType, SentinelHubRequest

    data = SentinelHubRequest.input_data(
        collection,
        time_interval=time_interval,
        mosaicking_order=mosaicking_order,
        upsampling=upsampling,
        downsampling=downsampling,
    )
    response = SentinelHubRequest.output_response("default", MimeType.TIFF)
    return SentinelHubRequest.body(
        request_bounds=SentinelHubRequest.bounds(bbox=BBox(tuple(bbox), crs=CRS(epsg))),
        request_data=[data],
        request_output=SentinelHubRequest.output(responses=[response], size=size),
        evalscript=evalscript(bands, units, sample_type),
    )


# --------------------------------------------------------------------------- sharing

_APIS: collections.OrderedDict[tuple, SentinelHubApi] = collections.OrderedDict()
_APIS_LOCK = threading.Lock()
_MAX_APIS = 16


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
