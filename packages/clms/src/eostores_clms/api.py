"""Talking to the CLMS API: the token grant, catalogue pages, data requests and result links.

There is no client library for the CLMS API; its endpoints are plain JSON over HTTP
(Plone REST API services), so every call goes through one :func:`eostores.http.new_session`
session (retries with backoff and ``Retry-After``, deadlines, errors carrying the service's
message). The bearer token is attached per call to API requests only; catalogue pages and
download links are fetched without it, so credentials never reach another origin.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eostores.credentials import Secret
from eostores.errors import (
    AuthenticationError,
    DataStoreError,
    InvalidParameterError,
    ServiceError,
)
from eostores.http import BearerAuth, HttpConfig, error_for_response, new_session, redact_url

from .config import STORE_ID, ServiceKey

__all__ = ["ClmsApi", "DuplicateRequestError", "Task", "TokenSource", "parse_service_time"]

logger = logging.getLogger("eostores.clms")

_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_GRANT_LIFETIME_S = 3600
_RENEW_MARGIN_S = 300.0
_PAGE_SIZE = 100
_MAX_PAGES = 1000
#: Calls refused with 401 get a new token this often before the refusal counts.
_TOKEN_ATTEMPTS = 3
_JSON = {"Accept": "application/json"}
#: How ``@datarequest_post`` words its refusal of a file that is already pending.
_DUPLICATED = "requested to download the same thing at least twice"
#: Answers of hosts that do not serve ``HEAD`` (a ``GET`` of one byte asks instead).
_HEAD_REFUSED = frozenset({403, 405, 501})
#: OAuth error codes with which the token endpoint refuses a grant.
_REFUSALS = frozenset({"invalid_grant", "invalid_request"})


def parse_service_time(text: Any) -> dt.datetime | None:
    """A time of the download service as an aware UTC datetime; naive times are UTC."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class DuplicateRequestError(ServiceError):
    """The service refused a data request for a file it has ``Queued`` or ``In_progress``."""


@dataclass(frozen=True)
class Task:
    """One data request of the user, as ``@datarequest_search``/``_status_get`` report it."""

    task_id: str
    status: str
    dataset_id: str | None = None
    file_id: str | None = None
    download_url: str | None = None
    file_size: int | None = None
    registered: dt.datetime | None = None
    finalized: dt.datetime | None = None
    message: str = ""

    @classmethod
    def from_json(cls, task_id: str, body: Any) -> Task:
        if not isinstance(body, Mapping) or not isinstance(body.get("Status"), str):
            raise ServiceError(
                f"the service described task {task_id!r} without a status", store_id=STORE_ID
            )
        datasets = body.get("Datasets")
        first = datasets[0] if isinstance(datasets, list) and datasets else {}
        first = first if isinstance(first, Mapping) else {}
        size = body.get("FileSize")
        try:
            file_size = int(float(size)) if size not in (None, "") else None
        except (TypeError, ValueError):
            file_size = None
        url = body.get("DownloadURL")
        return cls(
            task_id=str(task_id),
            status=body["Status"],
            dataset_id=str(first["DatasetID"]) if first.get("DatasetID") else None,
            file_id=str(first["FileID"]) if first.get("FileID") else None,
            download_url=url if isinstance(url, str) and url else None,
            file_size=file_size if file_size and file_size > 0 else None,
            registered=parse_service_time(body.get("RegistrationDateTime")),
            finalized=parse_service_time(body.get("FinalizationDateTime")),
            message=str(body.get("Message") or "").strip(),
        )

    def age(self, now: dt.datetime | None = None) -> float | None:
        """Seconds since the service finalised the task, by the service's own clock."""
        return _seconds_since(self.finalized, now)

    def waited(self, now: dt.datetime | None = None) -> float | None:
        """Seconds since the service registered the task, by the service's own clock."""
        return _seconds_since(self.registered, now)


def _seconds_since(when: dt.datetime | None, now: dt.datetime | None) -> float | None:
    return None if when is None else ((now or dt.datetime.now(dt.UTC)) - when).total_seconds()


class TokenSource:
    """Bearer tokens for one service key: requested once, renewed shortly before they
    expire (by the service's ``expires_in``) or when the service refuses them.

    A token's lifetime is counted from when it was asked for, not from when the answer
    arrived: the service starts its clock when it issues the token, which may be well
    before a slow or busy client has read the answer. ``clock`` gives seconds, as
    :func:`time.monotonic` does.
    """

    def __init__(self, key: ServiceKey, session: Any, clock: Callable[[], float] = time.monotonic):
        self.key = key
        self.session = session
        self.clock = clock
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._renew_at = 0.0
        self.grants = 0

    def get(self) -> Secret:
        with self._lock:
            now = self.clock()
            if self._token is None or now >= self._renew_at:
                self._token, lifetime = self._request()
                margin = min(_RENEW_MARGIN_S, 0.1 * lifetime)
                self._renew_at = now + lifetime - margin
            return self._token

    def invalidate(self, token: Secret) -> None:
        """Forget ``token`` (the service refused it) so that the next call gets a new one."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _assertion(self) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.key.client_id,
            "sub": self.key.user_id,
            "aud": self.key.token_uri,
            "iat": now,
            "exp": now + _GRANT_LIFETIME_S,
        }
        try:
            return jwt.encode(claims, self.key.private_key.reveal(), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise AuthenticationError(
                f"the private_key of the service key from {self.key.source} is not a valid "
                "RSA private key in PEM form",
                store_id=STORE_ID,
                parameter="credentials",
            ) from None

    def _request(self) -> tuple[Secret, float]:
        data = {"grant_type": _GRANT_TYPE, "assertion": self._assertion()}
        response = self.session.post(
            self.key.token_uri,
            data=data,
            headers=_JSON,
            idempotent=True,
            raise_for_status=False,
        )
        if response.status_code >= 400:
            raise self._refusal(response)
        body = _json_of(response, "the token endpoint")
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise ServiceError(
                "the CLMS token endpoint answered without an access_token", store_id=STORE_ID
            )
        try:
            lifetime = float(body.get("expires_in") or _GRANT_LIFETIME_S)
        except (TypeError, ValueError):
            lifetime = float(_GRANT_LIFETIME_S)
        self.grants += 1
        return Secret(token, source="CLMS token endpoint"), max(lifetime, 1.0)

    def _refusal(self, response: Any) -> DataStoreError:
        """The error for a failed token request. The endpoint refuses a grant with 400 and
        an OAuth error (``invalid_grant``, ``invalid_request``); that, and any 401/403,
        means the service key is wrong, revoked or not this service's."""
        error = error_for_response(response, store_id=STORE_ID, method="POST")
        refused = response.status_code in (400, 401) and _oauth_error(response) in _REFUSALS
        response.close()
        if not refused and not isinstance(error, AuthenticationError):
            return error
        return AuthenticationError(
            f"the CLMS token endpoint refused the service key from {self.key.source}: "
            f"{error.message}",
            store_id=STORE_ID,
            parameter="credentials",
        )


def _oauth_error(response: Any) -> str | None:
    """The ``error`` code of an OAuth error answer (RFC 6749 5.2), if it is one."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, Mapping) else None
    return code if isinstance(code, str) else None


def _json_of(response: Any, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        content_type = response.headers.get("Content-Type") or "no content type"
        raise ServiceError(
            f"expected JSON from {what} ({redact_url(response.url or '')}), got {content_type}",
            status=response.status_code,
            url=redact_url(response.url or ""),
            store_id=STORE_ID,
        ) from None


class ClmsApi:
    """The endpoints below ``api_url`` (e.g. ``https://land.copernicus.eu/api``).

    ``key_loader`` returns the service key when a call first needs a token, so that
    listing and describing work without credentials.
    """

    def __init__(self, api_url: str, http: HttpConfig, key_loader: Callable[[], ServiceKey]):
        self.api_url = api_url.rstrip("/")
        self.http = http
        self.key_loader = key_loader
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokens: TokenSource | None = None

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = new_session(self.http)
            return self._session

    @property
    def tokens(self) -> TokenSource:
        session = self.session
        with self._lock:
            if self._tokens is None:
                self._tokens = TokenSource(self.key_loader(), session)
            return self._tokens

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
            self._session = None

    # -- catalogue (anonymous) ------------------------------------------------------------------

    def catalogue_items(self) -> list[dict[str, Any]]:
        """Every dataset of ``@search`` (all batches), with full objects."""
        url: str | None = f"{self.api_url}/@search"
        params: dict[str, str] | None = {
            "portal_type": "DataSet",
            "fullobjects": "1",
            "b_size": str(_PAGE_SIZE),
        }
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= _MAX_PAGES:
                raise ServiceError(
                    f"the catalogue's batching links go round in circles at {redact_url(url)}",
                    store_id=STORE_ID,
                )
            seen.add(url)
            body = _json_of(self.session.get(url, params=params, headers=_JSON), "@search")
            if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
                raise ServiceError("@search answered without an item list", store_id=STORE_ID)
            items.extend(item for item in body["items"] if isinstance(item, Mapping))
            batching = body.get("batching")
            following = batching.get("next") if isinstance(batching, Mapping) else None
            url = self._next_batch(following) if following else None
            params = None  # the link carries the query
        return items

    def _next_batch(self, link: Any) -> str:
        """The next batch of ``@search``: the query of the service's ``batching.next`` link
        on the API's own URL. The service builds the link from the URL it was asked for,
        which behind a proxy may carry another scheme or host; no other origin is asked."""
        try:
            query = urlsplit(str(link)).query
        except ValueError:
            raise ServiceError(
                f"the service sent a batching link that is no URL: {redact_url(str(link))}",
                store_id=STORE_ID,
            ) from None
        return f"{self.api_url}/@search?{query}"

    # -- data requests (authenticated) --------------------------------------------------------

    def _call(self, method: str, endpoint: str, **kwargs: Any) -> Any:
        """One API call with the bearer token; a refused token is renewed once."""
        url = f"{self.api_url}/{endpoint}"
        headers = {**_JSON, **kwargs.pop("headers", {})}
        for attempt in range(1, _TOKEN_ATTEMPTS + 1):
            token = self.tokens.get()
            try:
                return self.session.request(
                    method, url, auth=BearerAuth(token), headers=headers, **kwargs
                )
            except AuthenticationError as error:
                if getattr(error, "status", None) != 401 or attempt == _TOKEN_ATTEMPTS:
                    raise
                logger.info("the CLMS API refused the access token; requesting a new one")
                self.tokens.invalidate(token)
        raise AssertionError("unreachable")

    def submit(self, dataset_uid: str, file_id: str) -> str:
        """``@datarequest_post`` for one file; the id of the task the service created.

        :class:`DuplicateRequestError` when the service has the file pending already.
        """
        payload = {"Datasets": [{"DatasetID": dataset_uid, "FileID": file_id}]}
        try:
            response = self._call("POST", "@datarequest_post", json=payload)
        except InvalidParameterError as error:
            if _DUPLICATED not in error.message:
                raise
            raise DuplicateRequestError(
                error.message, status=400, url=getattr(error, "url", None), store_id=STORE_ID
            ) from None
        body = _json_of(response, "@datarequest_post")
        errors = body.get("ErrorTaskIds") if isinstance(body, Mapping) else None
        task_ids = body.get("TaskIds") if isinstance(body, Mapping) else None
        if errors:
            raise ServiceError(
                f"the service did not accept the data request: {errors!r}"[:400],
                store_id=STORE_ID,
            )
        first = task_ids[0] if isinstance(task_ids, list) and task_ids else None
        task_id = first.get("TaskID") if isinstance(first, Mapping) else None
        if not task_id:
            raise ServiceError("@datarequest_post answered without a task id", store_id=STORE_ID)
        return str(task_id)

    def tasks(self) -> dict[str, Task]:
        """Every task of the user (``@datarequest_search``), expired ones included."""
        body = _json_of(self._call("GET", "@datarequest_search"), "@datarequest_search")
        if not isinstance(body, Mapping):
            raise ServiceError("@datarequest_search answered without tasks", store_id=STORE_ID)
        found = {}
        for task_id, entry in body.items():
            try:
                found[str(task_id)] = Task.from_json(str(task_id), entry)
            except ServiceError:
                logger.warning("skipping a task without status in @datarequest_search")
        return found

    def task(self, task_id: str) -> Task:
        """The current state of one task (``@datarequest_status_get``)."""
        response = self._call("GET", "@datarequest_status_get", params={"TaskID": task_id})
        return Task.from_json(task_id, _json_of(response, "@datarequest_status_get"))

    def delete(self, task_id: str) -> None:
        """``@datarequest_delete``: ask the service to cancel the task."""
        self._call("DELETE", "@datarequest_delete", json={"TaskID": task_id})

    # -- result links (anonymous) --------------------------------------------------------------

    @staticmethod
    def check_link(url: str, data_id: str | None = None) -> str:
        """``url`` if it is an http(s) link; the service's text is not trusted further."""
        scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
        if scheme not in ("http", "https"):
            raise ServiceError(
                f"the service sent a download link that is not http(s): {redact_url(str(url))}",
                store_id=STORE_ID,
                data_id=data_id,
            )
        return url

    def link_answers(self, url: str) -> bool:
        """Whether the result link still leads to the file (the service cannot tell): a
        ``HEAD`` request, or the first byte by ``GET`` where the host refuses ``HEAD``."""
        link = self.check_link(url)
        status = self._probe("HEAD", link)
        if status in _HEAD_REFUSED:
            status = self._probe("GET", link, headers={"Range": "bytes=0-0"}, stream=True)
        return status is not None and status < 400

    def _probe(self, method: str, url: str, **kwargs: Any) -> int | None:
        """The status ``url`` answers to ``method`` (the body unread), None if it does not."""
        try:
            response = self.session.request(
                method, url, allow_redirects=True, raise_for_status=False, **kwargs
            )
        except DataStoreError as error:
            logger.info("result link %s does not answer: %s", redact_url(url), error)
            return None
        response.close()
        return response.status_code

    def download(
        self,
        url: str,
        target: Path,
        *,
        reported_size: int | None,
        progress: Callable[[int, int | None], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Download a result archive through the core cache (atomic, resumable), checked
        against the length the download itself announces. ``reported_size`` (the task's
        ``FileSize``, whose unit the service does not document) is only compared."""
        from eostores.cache import download

        path = download(
            self.check_link(url), target, session=self.session, progress=progress, cancel=cancel
        )
        size = path.stat().st_size
        if reported_size is not None and size != reported_size:
            logger.info(
                "the download of %s has %d bytes, the task's FileSize says %d; the "
                "download's own length holds",
                redact_url(url),
                size,
                reported_size,
            )
        return path
