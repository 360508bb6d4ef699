"""Talking to the CDS through its own client library, ``ecmwf-datastores-client``.

The client is given an eostores HTTP session, so that our retries (with backoff and
Retry-After), timeouts and per-call deadline apply to every call it makes; its own
retry loop is switched off (one try) and its polling is not used: the store polls with
its own backoff and overall deadline. Failures of the library are translated into
:mod:`eostores.errors` exceptions carrying the service's own message.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from eostores.credentials import Secret
from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
)
from eostores.http import HttpConfig, Session, new_session, redact_url

__all__ = [
    "CdsApi",
    "CostLimitExceeded",
    "JobResult",
    "LicenceNotAcceptedError",
]

logger = logging.getLogger("eostores.cds")


class LicenceNotAcceptedError(AuthenticationError):
    """The account has not accepted a licence the dataset requires."""

    def __init__(self, message: str, *, licences: list[str], url: str | None, **kwargs: Any):
        self.licences = licences
        self.url = url
        super().__init__(message, **kwargs)


class CostLimitExceeded(DataStoreError):
    """The service refused a request as too large (internal: the store splits or explains)."""


@dataclass(frozen=True)
class JobResult:
    """Where a finished job's file is and how large it is."""

    url: str
    size: int
    content_type: str


class _ClientSession(Session):
    """Our session, returning failed responses so that the client reads their JSON."""

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("raise_for_status", False)
        return super().request(method, url, *args, **kwargs)


class CdsApi:
    """One endpoint of the CDS API, with lazily created clients.

    ``api_key`` is called when an authenticated call is first made; catalogue calls need
    no key.
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

        session = _ClientSession(self._config)
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
        return self._client(False).get_collection(dataset_id)

    # -- retrieve

    def costing(self, dataset_id: str, request: Mapping[str, Any]) -> tuple[float, float] | None:
        """``(cost, limit)`` of a request as the service estimates it; None if it cannot."""
        try:
            with self._translated(dataset_id):
                answer = self._client(True).estimate_costs(dataset_id, dict(request))
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
        with self._translated(dataset_id, submitting=True):
            return self._client(True).submit(dataset_id, dict(request))

    def remote(self, job_id: str, dataset_id: str) -> Any:
        with self._translated(dataset_id):
            return self._client(True).get_remote(job_id)

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
                    url=results.location,
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
        from eostores.cache import download

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
    def _translated(
        self, dataset_id: str | None, *, submitting: bool = False, job: bool = False
    ) -> Iterator[None]:
        try:
            yield
        except DataStoreError as error:
            if error.data_id is None and dataset_id:
                error.data_id = dataset_id
            raise
        except requests.HTTPError as error:
            raise self._http_error(error, dataset_id, submitting, job) from None
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
        self, error: requests.HTTPError, dataset_id: str | None, submitting: bool, job: bool
    ) -> DataStoreError:
        response = error.response
        status = response.status_code if response is not None else None
        body: dict[str, Any] = {}
        if response is not None:
            with contextlib.suppress(ValueError):
                parsed = response.json()
                body = parsed if isinstance(parsed, dict) else {}
        title = str(body.get("title") or (response.reason if response is not None else ""))
        detail = str(body.get("detail") or "")
        said = f"{title}: {detail}" if detail and detail != title else title
        url = redact_url(response.url) if response is not None and response.url else None
        where = f" (HTTP {status} from {url})" if status else ""
        context = {"store_id": self._store_id, "data_id": dataset_id}
        if status == 403 and "licence" in title.lower():
            return _licence_error(said, detail, dataset_id, self.endpoint_url, context)
        if status in (400, 403, 413) and "cost" in title.lower():
            return CostLimitExceeded(said, **context)
        if job and status in (400, 404, 500):
            return ServiceError(
                f"the CDS job failed: {said}{where}", status=status, url=url, **context
            )
        if status in (401, 403):
            return AuthenticationError(
                f"the CDS refused the API key: {said}{where}", parameter="cds_api_key", **context
            )
        if status in (404, 410):
            return DataNotFoundError(f"not found on the CDS: {said}{where}", **context)
        if status == 429:
            return QuotaExceededError(f"{said}{where}", status=status, url=url, **context)
        if status in (400, 422):
            message = f"the CDS refused the request: {said}{where}"
            return InvalidParameterError(message, **context)
        return ServiceError(f"{said}{where}", status=status, url=url, **context)


def _licence_error(
    said: str, detail: str, dataset_id: str | None, endpoint: str, context: dict[str, Any]
) -> LicenceNotAcceptedError:
    import re

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
