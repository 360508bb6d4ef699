"""Talking to the Zenodo REST API: records, versions, DOI look-ups and file URLs.

All calls go through one :func:`eostores.http.new_session` session (retries with backoff,
``Retry-After``, an overall deadline, errors mapped to :mod:`eostores.errors`). Answers
that should be JSON but are not (Zenodo sends HTML pages for some errors) become a
:class:`~eostores.errors.ServiceError` carrying the page's title.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from eostores.errors import DataNotFoundError, DataStoreError, ServiceError

from .catalog import Record
from .identifiers import parse_root

__all__ = ["DEFAULT_API_URL", "ZenodoApi", "open_session"]

DEFAULT_API_URL = "https://zenodo.org/api"
STORE_ID = "zenodo"


class ZenodoApi:
    """The REST API below ``api_url`` (e.g. ``https://zenodo.org/api``).

    ``http`` holds :class:`eostores.http.HttpConfig` settings; ``access_token`` (a
    :class:`~eostores.credentials.Secret` or string) is sent as a bearer token.
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        http: Mapping[str, Any] | None = None,
        access_token: Any = None,
    ):
        self.api_url = api_url.rstrip("/")
        self.http = {"store_id": STORE_ID, **dict(http or {})}
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

    @property
    def session(self) -> Any:
        """The HTTP session, created on first use."""
        with self._lock:
            if self._session is None:
                self._session = open_session(self.http, self.access_token)
            return self._session

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET {api_url}/{path}`` and its JSON body."""
        url = f"{self.api_url}/{path.lstrip('/')}"
        response = self.session.get(url, params=params, headers={"Accept": "application/json"})
        content_type = response.headers.get("Content-Type", "")
        try:
            return response.json()
        except ValueError:
            from eostores.http import redact_url

            raise ServiceError(
                f"expected JSON from {redact_url(response.url or url)}, got "
                f"{content_type or 'no content type'}: {_page_title(response.text)}",
                status=response.status_code,
                url=redact_url(url),
                store_id=STORE_ID,
            ) from None

    def get_record(self, record_id: str) -> Record:
        """The record (a concept id gives its latest version)."""
        try:
            data = self.get_json(f"records/{record_id}")
        except DataNotFoundError as error:
            latest = self._latest_version(record_id)
            if latest is None:
                raise DataNotFoundError(
                    f"Zenodo record {record_id} does not exist at {self.api_url} ({error.message})",
                    store_id=STORE_ID,
                ) from None
            data = latest
        return self._record(data, record_id)

    def _latest_version(self, record_id: str) -> Any:
        """The latest version of a concept id, for services that do not redirect to it."""
        try:
            return self.get_json(f"records/{record_id}/versions/latest")
        except DataNotFoundError:
            return None

    def _record(self, data: Any, asked: str) -> Record:
        if not isinstance(data, Mapping) or not (data.get("id") or data.get("recid")):
            raise ServiceError(f"the answer for record {asked} is not a record", store_id=STORE_ID)
        return Record.from_json(data, self.api_url)

    def find_doi(self, doi: str) -> str:
        """The id of the record with this DOI (for DOIs that are not Zenodo's own)."""
        data = self.get_json("records", params={"q": f'doi:"{doi}"', "size": 1})
        hits = ((data or {}).get("hits") or {}).get("hits") or []
        if not hits:
            raise DataNotFoundError(f"no Zenodo record has the DOI {doi}", store_id=STORE_ID)
        return str(hits[0].get("id") or hits[0].get("recid"))

    def resolve(self, root: str | int) -> Record:
        """The record ``root`` designates: record id, concept id, DOI or record URL."""
        reference = parse_root(root)
        record_id = reference.record_id
        if record_id is None:
            assert reference.doi is not None
            record_id = self.find_doi(reference.doi)
        return self.get_record(record_id)

    def versions(self, record_id: str) -> list[Record]:
        """All published versions of the record, newest first."""
        data = self.get_json(f"records/{record_id}/versions", params={"size": 100})
        hits = ((data or {}).get("hits") or {}).get("hits") or []
        return [Record.from_json(hit, self.api_url) for hit in hits]

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def open_session(http: Mapping[str, Any], access_token: Any) -> Any:
    """An :func:`eostores.http.new_session` session configured by the ``http``
    :class:`~eostores.http.HttpConfig` settings, sending ``access_token`` as a bearer token."""
    from eostores.http import BearerAuth, HttpConfig, new_session

    auth = BearerAuth(access_token) if access_token else None
    return new_session(HttpConfig(**http), auth=auth)


def _page_title(text: str) -> str:
    match = re.search(r"<title>(.*?)</title>", text or "", re.IGNORECASE | re.DOTALL)
    if match:
        return match.group(1).strip()[:200]
    return (text or "").strip()[:200] or "empty body"


def file_error(error: DataStoreError, record_id: str, key: str) -> DataStoreError:
    """``error`` of a file request, restated so that it names the record and the file;
    a file the service has no more is a :class:`DataNotFoundError`."""
    from .errors import FileUnavailableError

    if isinstance(error, FileUnavailableError):
        return DataNotFoundError(error.message, store_id=STORE_ID, data_id=key)
    if isinstance(error, DataNotFoundError) and f"file {key!r}" not in error.message:
        return DataNotFoundError(
            f"file {key!r} of Zenodo record {record_id} is not available: {error.message}",
            store_id=STORE_ID,
            data_id=key,
        )
    return error
