"""Talking to the Zenodo REST API: records, versions, DOI look-ups, file requests.

All calls go through one :func:`eostores.http.new_session` session (retries with backoff,
``Retry-After``, deadlines, errors mapped to :mod:`eostores.errors`). The access token
is sent only to the origin of the configured API URL, never to the hosts that a
record's file links may name. Answers that should be JSON but are not (Zenodo sends
HTML pages for some errors) become a :class:`~eostores.errors.ServiceError` carrying the
page's title.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from requests.auth import AuthBase

from eostores.errors import DataNotFoundError, DataStoreError, ServiceError

from .config import DEFAULT_API_URL, STORE_ID

__all__ = ["ApiOriginAuth", "ZenodoApi", "file_error", "origin_of"]


def origin_of(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, with the scheme's default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


class ApiOriginAuth(AuthBase):
    """Applies ``auth`` only to requests for ``origin``'s scheme, host and port.

    A record's file links are text from the service; they may name any host, and the
    token must not travel there.
    """

    def __init__(self, auth: AuthBase, origin_url: str):
        self.auth = auth
        self.origin = origin_of(origin_url)

    def __call__(self, request: Any) -> Any:
        if origin_of(request.url) == self.origin:
            return self.auth(request)
        request.headers.pop("Authorization", None)
        return request

    def __repr__(self) -> str:
        scheme, host, port = self.origin
        return f"ApiOriginAuth({self.auth!r}, origin={scheme}://{host}:{port})"


class ZenodoApi:
    """The REST API below ``api_url`` (e.g. ``https://zenodo.org/api``).

    ``http`` is the :class:`eostores.http.HttpConfig` of the store; ``access_token`` (a
    :class:`~eostores.credentials.Secret` or ``None``) is sent as a bearer token to the
    API's origin only. Pickles without its session, which is reopened on first use.
    """

    def __init__(self, api_url: str = DEFAULT_API_URL, http: Any = None, access_token: Any = None):
        self.api_url = api_url.rstrip("/")
        self.http = http
        self.access_token = access_token
        self._session: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_session"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ZenodoApi({self.api_url!r})"

    @property
    def session(self) -> Any:
        """The HTTP session, created on first use."""
        with self._lock:
            if self._session is None:
                from eostores.http import BearerAuth, HttpConfig, new_session

                auth = None
                if self.access_token is not None:
                    auth = ApiOriginAuth(BearerAuth(self.access_token), self.api_url)
                config = self.http if self.http is not None else HttpConfig(store_id=STORE_ID)
                self._session = new_session(config, auth=auth)
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    # -- JSON calls

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET {api_url}/{path}`` and its JSON body."""
        url = f"{self.api_url}/{path.lstrip('/')}"
        response = self.session.get(url, params=params, headers={"Accept": "application/json"})
        try:
            return response.json()
        except ValueError:
            from eostores.http import redact_url

            content_type = response.headers.get("Content-Type", "")
            raise ServiceError(
                f"expected JSON from {redact_url(response.url or url)}, got "
                f"{content_type or 'no content type'}: {_page_title(response.text)}",
                status=response.status_code,
                url=redact_url(url),
                store_id=STORE_ID,
            ) from None

    def record_json(self, record_id: str) -> Mapping[str, Any]:
        """The JSON of a record (a concept id gives its latest version)."""
        _check_record_id(record_id)
        try:
            data = self.get_json(f"records/{record_id}")
        except DataNotFoundError as error:
            try:  # services that do not redirect a concept id to its latest version
                data = self.get_json(f"records/{record_id}/versions/latest")
            except DataNotFoundError:
                raise DataNotFoundError(
                    f"Zenodo record {record_id} does not exist at {self.api_url} ({error.message})",
                    store_id=STORE_ID,
                ) from None
        if not isinstance(data, Mapping) or not (data.get("id") or data.get("recid")):
            raise ServiceError(
                f"the answer for record {record_id} is not a record", store_id=STORE_ID
            )
        return data

    def find_doi(self, doi: str) -> str:
        """The id of the record with this DOI (for DOIs that are not Zenodo's own)."""
        data = self.get_json("records", params={"q": f'doi:"{doi}"', "size": 1})
        hits = _hits(data)
        if not hits:
            raise DataNotFoundError(f"no Zenodo record has the DOI {doi}", store_id=STORE_ID)
        return service_record_id(hits[0])

    def versions_json(self, record_id: str) -> list[Mapping[str, Any]]:
        """The JSON of all published versions of the record, newest first."""
        _check_record_id(record_id)
        data = self.get_json(f"records/{record_id}/versions", params={"size": 100})
        return [hit for hit in _hits(data) if isinstance(hit, Mapping)]


def service_record_id(data: Mapping[str, Any]) -> str:
    """The record id in a record's JSON, checked to be a number: it goes into URLs and
    cache paths."""
    value = data.get("id") or data.get("recid")
    text = str(value).strip() if value is not None else ""
    if not (text.isascii() and text.isdigit()):
        raise ServiceError(f"the service sent a record id that is not a number: {value!r}")
    return str(int(text))


def _check_record_id(record_id: str) -> None:
    if not (isinstance(record_id, str) and record_id.isascii() and record_id.isdigit()):
        raise ServiceError(f"not a Zenodo record id: {record_id!r}", store_id=STORE_ID)


def _hits(data: Any) -> list[Any]:
    hits = data.get("hits") if isinstance(data, Mapping) else None
    hits = hits.get("hits") if isinstance(hits, Mapping) else None
    return list(hits) if isinstance(hits, list) else []


def _page_title(text: str) -> str:
    match = re.search(r"<title>(.*?)</title>", text or "", re.IGNORECASE | re.DOTALL)
    if match:
        return match.group(1).strip()[:200]
    return (text or "").strip()[:200] or "empty body"


def file_error(error: DataStoreError, record_id: str, key: str) -> DataStoreError:
    """``error`` of a file request, restated so that it names the record and the file;
    a file the service has no more is a :class:`DataNotFoundError`."""
    if isinstance(error, DataNotFoundError) and f"file {key!r}" not in error.message:
        return DataNotFoundError(
            f"file {key!r} of Zenodo record {record_id} is not available: {error.message}",
            store_id=STORE_ID,
            data_id=key,
        )
    status = getattr(error, "status", None)
    if isinstance(error, ServiceError) and status in (404, 410):
        return DataNotFoundError(
            f"file {key!r} of Zenodo record {record_id} is not available: {error.message}",
            store_id=STORE_ID,
            data_id=key,
        )
    return error
