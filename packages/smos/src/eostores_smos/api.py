"""The catalogue: the SMOS collection of a STAC API, through the eostores HTTP session.

Items are read from ``<stac_url>/items`` with ``datetime``, ``bbox`` and ``limit``, and every
page is followed through its ``next`` link. The Copernicus catalogue writes its internal
host name into those links (``https://catalogue-svc.prod-catalogue:8250/...``); only the
link's query is used, sent to ``<stac_url>/items``, so paging works behind any proxy and a
link can never send the store elsewhere. Every request is retried and bounded as the
store's HTTP parameters say, and a failure carries the service's own message.

The catalogue pages through at most :data:`~eostores_smos.config.STAC_MAX_SKIP` items of
one search: past that it refuses the page (422) or, perhaps, leaves out the ``next`` link.
A search that reaches the limit raises :class:`SearchLimitError` rather than end early, so
that the caller can split it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from eostores.errors import InvalidParameterError, ServiceError
from eostores.http import Session, redact_url
from eostores.schema.types import short_repr

from .config import STAC_MAX_SKIP, STAC_PAGE_LIMIT, STORE_ID

__all__ = ["SearchLimitError", "StacClient", "format_instant"]


class SearchLimitError(ServiceError):
    """A search holds more items than the catalogue pages through; search shorter periods."""


def format_instant(instant: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (a naive UTC datetime), as the catalogue expects."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


class StacClient:
    """The SMOS collection at ``stac_url`` (e.g. ``.../stac/collections/SMOS``).

    Searches ask for ``limit`` items a page. ``max_skip`` is the catalogue's paging limit:
    it serves no page with ``(page - 1) * limit`` beyond it.
    """

    def __init__(
        self,
        stac_url: str,
        session: Session,
        *,
        limit: int = STAC_PAGE_LIMIT,
        max_skip: int = STAC_MAX_SKIP,
    ):
        self.stac_url = stac_url.rstrip("/")
        self.session = session
        self.limit = limit
        self.max_skip = max_skip

    @property
    def items_url(self) -> str:
        return self.stac_url + "/items"

    def collection(self) -> dict[str, Any]:
        """The collection document (title, extent, ...)."""
        document = self._get(self.stac_url, None)
        if not isinstance(document, dict):
            raise ServiceError(
                f"the catalogue answered {redact_url(self.stac_url)} with no JSON object",
                store_id=STORE_ID,
            )
        return document

    def items(
        self,
        start: datetime,
        end: datetime,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item overlapping ``[start, end]`` (and ``bbox``, -180..180), all pages.

        Raises :class:`SearchLimitError` when the search holds more items than the
        catalogue pages through (see :data:`~eostores_smos.config.STAC_MAX_SKIP`).
        """
        params: list[tuple[str, str]] = [
            ("limit", str(self.limit)),
            ("datetime", f"{format_instant(start)}/{format_instant(end)}"),
        ]
        if bbox is not None:
            params.append(("bbox", ",".join(f"{v:.6f}".rstrip("0").rstrip(".") for v in bbox)))
        seen: set[tuple[tuple[str, str], ...]] = set()
        pages = 0
        while True:
            page = self._page(params, following=pages > 0)
            pages += 1
            features = page.get("features") if isinstance(page, dict) else None
            if not isinstance(features, list):
                raise ServiceError(
                    f"the catalogue answered {redact_url(self.items_url)} without a list of "
                    f"features: {short_repr(page, 200)}",
                    store_id=STORE_ID,
                )
            yield from (feature for feature in features if isinstance(feature, dict))
            following = _next_query(page)
            more = following is not None or len(features) >= self.limit
            if more and pages * self.limit > self.max_skip:
                # the next page, announced or left out, lies beyond the paging limit
                raise SearchLimitError(
                    f"the search reaches the catalogue's paging limit (at most "
                    f"{self.max_skip} items skipped)",
                    url=redact_url(self.items_url),
                    store_id=STORE_ID,
                )
            if following is None or not features:
                return
            if not following:
                raise ServiceError(
                    "the catalogue's next link has no query to continue the search with",
                    store_id=STORE_ID,
                )
            key = tuple(sorted(following))
            if key in seen:
                raise ServiceError(
                    "the catalogue's next link repeats an earlier page; stopped paging",
                    store_id=STORE_ID,
                )
            seen.add(key)
            params = following

    def _page(self, params: list[tuple[str, str]], *, following: bool) -> Any:
        """One page of a search; a following page the catalogue refuses with 422 (past
        its skip limit) raises :class:`SearchLimitError` with the service's message."""
        try:
            return self._get(self.items_url, params)
        except InvalidParameterError as error:
            if not following or getattr(error, "status", None) != 422:
                raise
            url = getattr(error, "url", None)
            raise SearchLimitError(error.message, status=422, url=url, store_id=STORE_ID) from None

    def _get(self, url: str, params: list[tuple[str, str]] | None) -> Any:
        response = self.session.get(url, params=params, headers={"Accept": "application/json"})
        try:
            return response.json()
        except ValueError:
            raise ServiceError(
                f"the catalogue answered {redact_url(response.url)} with no JSON "
                f"({response.headers.get('Content-Type', 'no content type')}): "
                f"{response.text[:200]!r}",
                status=response.status_code,
                url=redact_url(response.url),
                store_id=STORE_ID,
            ) from None


def _next_query(page: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """The query of the page's ``next`` link, if it has one."""
    for link in page.get("links") or ():
        if isinstance(link, dict) and link.get("rel") == "next":
            href = link.get("href")
            if not isinstance(href, str) or not href:
                return None
            return parse_qsl(urlsplit(href).query, keep_blank_values=True)
    return None
