"""Talking to the Copernicus Marine services: configuration, catalogue JSON, login, data.

Every request goes through one eostores session per store (retries of 429/5xx with
Retry-After, deadlines, concurrency caps, errors with the service's message). The
toolbox's own HTTP layer is not used: it reads its configuration URL once per process
and falls back to a public CDN when that URL fails, retries plain-http JSON requests not
at all, logs in on every call, authenticates against a fixed host and drops the port of
data URLs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from eostores.credentials import RedactingFilter, Secret
from eostores.errors import AuthenticationError, DataNotFoundError, DataStoreError, ServiceError
from eostores.http import BearerAuth, HttpConfig, Session, error_for_response, new_session
from eostores.http import service_message as http_service_message

from .config import AUTH_CLIENT_ID, AUTH_SCOPE, RETRY_STATUSES, STORE_ID

__all__ = [
    "CatalogueLocation",
    "CmemsApi",
    "Login",
    "LoginCache",
    "monitoring_params",
    "open_arco",
]

logger = logging.getLogger("eostores.cmems")

_redaction_installed = threading.Lock()
_redacting: list[RedactingFilter] = []


def _redact_toolbox_logs() -> None:
    """Keep registered secrets out of the toolbox's log records too."""
    with _redaction_installed:
        if not _redacting:
            _redacting.append(RedactingFilter())
            logging.getLogger("copernicusmarine").addFilter(_redacting[0])


def monitoring_params(username: str | None = None) -> dict[str, str]:
    """The query parameters the toolbox adds to every request (client, version, user)."""
    from copernicusmarine.core_functions.utils import (
        construct_query_params_for_marine_data_store_monitoring,
    )

    return dict(construct_query_params_for_marine_data_store_monitoring(username))


@dataclass(frozen=True)
class CatalogueLocation:
    """One catalogue of the client configuration."""

    stac_url: str
    id_mapping_url: str
    stac_root: str


@dataclass(frozen=True)
class Login:
    """A checked login: the user name the service knows and until when the token lasts."""

    user: str
    token: Secret
    expires_at: float  # time.monotonic() seconds after which a new login is made


def _http_url(value: Any, what: str, source: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServiceError(
            f"the client configuration {source} gives {what} = {value!r}, not an http(s) URL",
            store_id=STORE_ID,
        )
    return value


class CmemsApi:
    """The service endpoints of one store and the session that reaches them."""

    def __init__(self, config_url: str, auth_url: str, http_config: HttpConfig):
        self.config_url = config_url
        self.auth_url = auth_url.rstrip("/")
        self.http_config = dataclasses.replace(
            http_config, store_id=STORE_ID, retry_statuses=RETRY_STATUSES
        )
        self._session: Session | None = None
        self._lock = threading.Lock()
        _redact_toolbox_logs()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "config_url": self.config_url,
            "auth_url": self.auth_url,
            "http_config": self.http_config,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config_url"], state["auth_url"], state["http_config"])

    @property
    def session(self) -> Session:
        with self._lock:
            if self._session is None:
                self._session = new_session(self.http_config)
            return self._session

    # -- metadata

    def get_json(self, url: str, *, data_id: str | None = None) -> Any:
        """The JSON document at ``url`` (with the toolbox's monitoring parameters)."""
        try:
            response = self.session.get(url, params=monitoring_params())
        except DataStoreError as error:
            if data_id is not None and error.data_id is None:
                error.data_id = data_id
            raise
        try:
            return response.json()
        except ValueError:
            raise ServiceError(
                f"the service answered {url} with something that is not JSON",
                store_id=STORE_ID,
                data_id=data_id,
                url=url,
                status=response.status_code,
            ) from None

    def catalogues(self) -> list[CatalogueLocation]:
        """The catalogues named in the client configuration at ``config_url``.

        A failure is an error: there is no fallback to another configuration.
        """
        try:
            document = self.get_json(self.config_url)
        except DataNotFoundError as error:
            raise ServiceError(
                f"the client configuration cannot be read: {error.message}",
                store_id=STORE_ID,
                status=404,
                url=self.config_url,
            ) from None
        entries = document.get("catalogues") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not entries:
            raise ServiceError(
                f"the client configuration {self.config_url} names no catalogues",
                store_id=STORE_ID,
            )
        locations = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ServiceError(
                    f"the client configuration {self.config_url} has a malformed catalogue "
                    f"entry {entry!r}",
                    store_id=STORE_ID,
                )
            locations.append(
                CatalogueLocation(
                    stac_url=_http_url(entry.get("stac"), "stac", self.config_url),
                    id_mapping_url=_http_url(entry.get("idMapping"), "idMapping", self.config_url),
                    stac_root=_http_url(entry.get("stacRoot"), "stacRoot", self.config_url).rstrip(
                        "/"
                    ),
                )
            )
        return locations

    # -- authentication

    def login(self, username: Secret, password: Secret) -> Login:
        """Get a token with the password grant and read the user it belongs to."""
        where = f"user name from {username.source}, password from {password.source}"
        asked = time.monotonic()  # the service counts the lifetime from when it issues
        response = self.session.post(
            f"{self.auth_url}/token",
            data={
                "client_id": AUTH_CLIENT_ID,
                "grant_type": "password",
                "username": username.reveal(),
                "password": password.reveal(),
                "scope": AUTH_SCOPE,
            },
            idempotent=True,
            raise_for_status=False,
        )
        if response.status_code in (400, 401) and "invalid_grant" in response.text:
            raise AuthenticationError(
                "the Copernicus Marine authentication system refused the credentials "
                f"({where}): {http_service_message(response)}",
                store_id=STORE_ID,
                parameter="cmems_password",
            )
        if response.status_code >= 400:
            raise error_for_response(response, store_id=STORE_ID, method="POST")
        try:
            document = response.json()
            token = Secret(str(document["access_token"]), source="token endpoint")
            lifetime = float(document.get("expires_in") or 300)
        except (ValueError, KeyError, TypeError):
            raise ServiceError(
                f"the token endpoint {self.auth_url}/token answered without an access token",
                store_id=STORE_ID,
            ) from None
        # Renew a little before the service would: a tenth of the lifetime, at most 5 s.
        expires_at = asked + lifetime - min(5.0, 0.1 * lifetime)
        info = self.session.get(
            f"{self.auth_url}/userinfo", auth=BearerAuth(token), raise_for_status=False
        )
        if info.status_code in (401, 403):
            raise AuthenticationError(
                "the Copernicus Marine authentication system rejected the token it had just "
                f"issued ({where}): {http_service_message(info)}",
                store_id=STORE_ID,
            )
        if info.status_code >= 400:
            raise error_for_response(info, store_id=STORE_ID)
        try:
            user = str(info.json()["preferred_username"])
        except (ValueError, KeyError, TypeError):
            raise ServiceError(
                f"the userinfo endpoint {self.auth_url}/userinfo answered without a user name",
                store_id=STORE_ID,
            ) from None
        return Login(user=user, token=token, expires_at=expires_at)


class LoginCache:
    """One login per store, reused until its token expires (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._login: Login | None = None
        self.count = 0

    def get(self, api: CmemsApi, username: Secret, password: Secret) -> Login:
        with self._lock:
            current = self._login
            if current is not None and time.monotonic() < current.expires_at:
                return current
            login = api.login(username, password)
            self._login = login
            self.count += 1
            logger.debug("logged in to the Copernicus Marine service as %s", login.user)
            return login


def open_arco(href: str, http_config: HttpConfig, params: dict[str, str], *, data_id: str) -> Any:
    """The ARCO Zarr store at ``href`` as a lazy, dask-backed xarray dataset."""
    import xarray

    from .arco import ArcoZarrStore

    store = ArcoZarrStore(href, http_config=http_config, params=params, data_id=data_id)
    try:
        return xarray.open_zarr(
            store,
            chunks={},
            zarr_format=2,
            decode_times=True,
            decode_timedelta=True,
        )
    except DataStoreError:
        raise
    except (FileNotFoundError, KeyError, ValueError, TypeError) as error:
        raise ServiceError(
            f"the ARCO store {href} cannot be read as Zarr: {type(error).__name__}: {error}",
            store_id=STORE_ID,
            data_id=data_id,
        ) from None
