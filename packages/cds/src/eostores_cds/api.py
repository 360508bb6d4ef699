"""Talking to the CDS through its own client library, ``ecmwf-datastores-client``.

The client is given an eostores HTTP session (:func:`eostores.http.new_session`'s
class), so that the store's retries (with backoff and Retry-After, 500 included, as
the service answers transient faults with it), timeouts and deadline apply to every
call it makes; its own retry loop is switched off (one try) and its polling is not
used: the store polls with its own backoff. The API key goes only to the configured
API origin, never to a host a link of the service points to. Failures become
:mod:`eostores.errors` exceptions through :func:`eostores.http.error_for_response`;
only what is particular to the CDS (licences, cost limits, failed jobs) is added here.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from eostores.credentials import Secret
from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    InvalidParameterError,
    ServiceError,
)
from eostores.http import HttpConfig, Session, error_for_response, new_session
from eostores.paths import quote_segment

__all__ = [
    "CdsApi",
    "CostLimitExceeded",
    "JobResult",
    "LicenceNotAcceptedError",
    "ResultsExpiredError",
]

logger = logging.getLogger("eostores.cds")

#: The header the CDS reads the personal access token from.
TOKEN_HEADER = "PRIVATE-TOKEN"
#: Words in the title of a 403 that is about the API key (other 403s are refusals of
#: what was asked, e.g. "permission denied" for another account's job).
_AUTHENTICATION_WORDS = ("authenticat", "token", "credential")


class LicenceNotAcceptedError(AuthenticationError):
    """The account has not accepted a licence the dataset requires."""

    def __init__(self, message: str, *, licences: list[str], url: str | None, **kwargs: Any):
        self.licences = licences
        self.url = url
        super().__init__(message, **kwargs)


class CostLimitExceeded(DataStoreError):
    """The service refused a request as too large (internal: the store splits or explains)."""


class ResultsExpiredError(ServiceError):
    """The results of a successful job are no longer kept by the service."""


@dataclass(frozen=True)
class JobResult:
    """Where a finished job's file is and how large it is."""

    url: str
    size: int
    content_type: str


def origin_of(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of a URL, the default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


class ClientSession(Session):
    """The session handed to the client library.

    Failed responses are returned (after the retries) so that the client reads their
    JSON; the token header is dropped from requests to any origin but the API's; the
    client's POSTs (cost estimates, job submission, job deletion) are retried like its
    own retry loop would.
    """

    def __init__(self, config: HttpConfig, api_origin: tuple[str, str, int | None]):
        super().__init__(config)
        self.api_origin = api_origin

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("raise_for_status", False)
        kwargs.setdefault("idempotent", True)
        headers = kwargs.get("headers")
        target = url.decode() if isinstance(url, bytes) else str(url)
        if headers and origin_of(target) != self.api_origin:
            kwargs["headers"] = {
                name: value for name, value in headers.items() if name.upper() != TOKEN_HEADER
            }
        return super().request(method, url, *args, **kwargs)

    def rebuild_auth(self, prepared_request: Any, response: requests.Response) -> None:
        """Also drop the token when a redirect leaves the API's origin."""
        super().rebuild_auth(prepared_request, response)
        if origin_of(str(prepared_request.url)) != self.api_origin:
            prepared_request.headers.pop(TOKEN_HEADER, None)


class CdsApi:
    """One endpoint of the CDS API, with lazily created clients.

    ``api_key`` is called when an authenticated call is first made; catalogue calls need
    no key. Dataset and job ids are quoted as one URL path segment each.
    """

    def __init__(
        self,
        endpoint_url: str,
        api_key: Callable[[], Secret],
        http_config: HttpConfig,
        *,
        poll_interval_max: float,
        store_id: str,
    ):
        self.endpoint_url = endpoint_url
        self._api_key = api_key
        self._config = http_config
        self._poll_interval_max = poll_interval_max
        self._store_id = store_id
        self._lock = threading.Lock()
        self._clients: dict[bool, Any] = {}
        self._download_session: Session | None = None

    # -- clients

    def _client(self, authenticated: bool) -> Any:
        with self._lock:
            client = self._clients.get(authenticated)
            if client is not None:
                return client
        key = self._api_key().reveal() if authenticated else None
        from ecmwf.datastores import Client

        session = ClientSession(self._config, origin_of(self.endpoint_url))
        with self._translated(None), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client = Client(
                url=self.endpoint_url,
                key=key,
                timeout=(self._config.connect_timeout, self._config.read_timeout),
                progress=False,
                cleanup=False,
                sleep_max=self._poll_interval_max,
                retry_after=min(self._config.retry_backoff_max, self._poll_interval_max),
                maximum_tries=1,
                session=session,
            )
        with self._lock:
            return self._clients.setdefault(authenticated, client)

    @property
    def download_session(self) -> Session:
        """A session for result downloads, which go without the API key."""
        with self._lock:
            if self._download_session is None:
                self._download_session = new_session(self._config)
            return self._download_session

    def _segment(self, text: str, *, from_service: bool = False) -> str:
        return quote_segment(text, from_service=from_service, store_id=self._store_id, data_id=text)

    # -- catalogue

    def collections(self) -> list[dict[str, Any]]:
        """Every catalogue record, following the ``next`` links."""
        records: list[dict[str, Any]] = []
        with self._translated(None):
            page = self._client(False).get_collections(limit=100)
            while page is not None:
                records += list(page.json.get("collections") or [])
                page = page.next
        return records

    def collection(self, dataset_id: str) -> dict[str, Any]:
        with self._translated(dataset_id):
            return dict(self._collection(dataset_id).json)

    def form(self, dataset_id: str) -> list[dict[str, Any]]:
        with self._translated(dataset_id):
            return list(self._collection(dataset_id).form)

    def constraints(self, dataset_id: str) -> list[dict[str, Any]]:
        with self._translated(dataset_id):
            return list(self._collection(dataset_id).constraints)

    def _collection(self, dataset_id: str) -> Any:
        return self._client(False).get_collection(self._segment(dataset_id))

    # -- retrieve

    def costing(self, dataset_id: str, request: Mapping[str, Any]) -> tuple[float, float] | None:
        """``(cost, limit)`` of a request as the service estimates it; None if it cannot."""
        try:
            with self._translated(dataset_id):
                answer = self._client(True).estimate_costs(self._segment(dataset_id), dict(request))
        except (DataNotFoundError, InvalidParameterError, ServiceError) as error:
            logger.debug("no cost estimate for %s: %s", dataset_id, error)
            return None
        if "limit" in answer and "cost" in answer:
            return float(answer["cost"]), float(answer["limit"])
        costs, limits = answer.get("costs") or {}, answer.get("limits") or {}
        ratios = [
            (float(costs[k]), float(limits[k]))
            for k in limits
            if k in costs and float(limits[k]) > 0
        ]
        return max(ratios, key=lambda pair: pair[0] / pair[1]) if ratios else None

    def submit(self, dataset_id: str, request: Mapping[str, Any]) -> Any:
        """Submit a request; the returned remote job is polled with :meth:`status`."""
        with self._translated(dataset_id):
            return self._client(True).submit(self._segment(dataset_id), dict(request))

    def remote(self, job_id: str, dataset_id: str) -> Any:
        """The remote job of an id the service gave earlier (from a ticket)."""
        with self._translated(dataset_id):
            return self._client(True).get_remote(self._segment(job_id, from_service=True))

    def status(self, remote: Any, dataset_id: str) -> str:
        with self._translated(dataset_id):
            return str(remote.status)

    def result(self, remote: Any, dataset_id: str) -> JobResult:
        """The file of a successful job; ServiceError with the service's words if it failed."""
        from ecmwf.datastores.processing import ProcessingFailedError

        try:
            with self._translated(dataset_id, job=True):
                results = remote.get_results()
                return JobResult(
                    url=str(results.location),
                    size=int(results.content_length),
                    content_type=str(results.asset.get("type") or ""),
                )
        except ProcessingFailedError as error:
            raise ServiceError(
                f"the CDS job failed: {_first_lines(str(error))}",
                store_id=self._store_id,
                data_id=dataset_id,
            ) from None

    def delete(self, remote: Any) -> None:
        """Dismiss a job on the service (best effort)."""
        try:
            remote.cleanup = False
            remote.delete()
        except Exception as error:  # a failed clean-up must not hide the real error
            logger.debug("cannot delete job %s: %s", getattr(remote, "request_id", "?"), error)

    def download(
        self,
        result: JobResult,
        target: Path,
        *,
        progress: Callable[[int, int | None], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Fetch a job's file to ``target`` (the caller chose the name; the URL's is unused)."""
        from eostores.cache import download

        with self._translated(None):
            return download(
                result.url,
                target,
                session=self.download_session,
                expected_size=result.size,
                progress=progress,
                cancel=cancel,
            )

    # -- errors

    @contextlib.contextmanager
    def _translated(self, dataset_id: str | None, *, job: bool = False) -> Iterator[None]:
        try:
            yield
        except DataStoreError as error:
            if error.store_id is None:
                error.store_id = self._store_id
            if error.data_id is None and dataset_id:
                error.data_id = dataset_id
            raise
        except requests.HTTPError as error:
            if error.response is None:
                raise ServiceError(
                    f"request to the CDS failed: {_first_lines(str(error))}",
                    store_id=self._store_id,
                    data_id=dataset_id,
                ) from None
            raise self._http_error(error.response, dataset_id, job) from None
        except requests.RequestException as error:
            raise ServiceError(
                f"request to the CDS failed: {_first_lines(str(error))}",
                store_id=self._store_id,
                data_id=dataset_id,
            ) from None
        except (KeyError, ValueError, TypeError, AttributeError, RuntimeError) as error:
            if type(error).__name__ == "ProcessingFailedError":
                raise
            raise ServiceError(
                f"unexpected answer from the CDS ({type(error).__name__}: {error})",
                store_id=self._store_id,
                data_id=dataset_id,
            ) from None

    def _http_error(
        self, response: requests.Response, dataset_id: str | None, job: bool
    ) -> DataStoreError:
        """The core's error for a failed response, or one of the CDS's own refusals."""
        error = error_for_response(response, store_id=self._store_id)
        error.data_id = dataset_id
        status = response.status_code
        title = str(_problem(response).get("title") or "").lower()
        context = {"store_id": self._store_id, "data_id": dataset_id}
        if status == 403 and "licence" in title:
            return _licence_error(error.message, response, dataset_id, self.endpoint_url, context)
        if status in (400, 403, 413) and "cost" in title:
            return CostLimitExceeded(error.message, **context)
        if status in (404, 410) and "expired" in title:
            return ResultsExpiredError(
                f"the results of the CDS job are no longer available: {error.message}",
                status=status,
                url=error.url,
                **context,
            )
        if job and status in (400, 404, 500):
            return ServiceError(
                f"the CDS job failed: {error.message}", status=status, url=error.url, **context
            )
        if status == 403 and not any(word in title for word in _AUTHENTICATION_WORDS):
            # e.g. "permission denied" (another account's job, a disabled dataset)
            return ServiceError(error.message, status=status, url=error.url, **context)
        if isinstance(error, AuthenticationError):
            error.parameter = "cds_api_key"
        return error


def _problem(response: requests.Response) -> dict[str, Any]:
    """The JSON problem document of a failed response ({} if it has none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _licence_error(
    said: str,
    response: requests.Response,
    dataset_id: str | None,
    endpoint: str,
    context: dict[str, Any],
) -> LicenceNotAcceptedError:
    detail = str(_problem(response).get("detail") or "")
    match = re.search(r"https?://\S+?manage-licences", detail)
    base = endpoint.rsplit("/api", 1)[0]
    url = match.group(0) if match else f"{base}/datasets/{dataset_id}?tab=download#manage-licences"
    return LicenceNotAcceptedError(
        f"the licence(s) of this dataset are not accepted for this API key ({said}); "
        f"accept them at {url} while logged in, then retry",
        licences=[],
        url=url,
        **context,
    )


def _first_lines(text: str, limit: int = 400) -> str:
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"
