"""Talking to a STAC API or static catalog through pystac-client and the eostores HTTP session."""

from __future__ import annotations

import posixpath
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from pystac_client.stac_api_io import StacApiIO

from eostores.errors import DataNotFoundError, InvalidParameterError

if TYPE_CHECKING:
    import pystac_client
    import requests

__all__ = ["SessionStacIO", "StacApi", "item_data_id"]

_BODY_METHODS = ("POST", "PUT", "PATCH")


class SessionStacIO(StacApiIO):
    """pystac-client's I/O with every request sent through an eostores session.

    The session brings retries with backoff and Retry-After, timeouts, the deadline and the
    mapping of failures to eostores errors carrying the service's message.
    """

    def __init__(self, session: requests.Session, **kwargs: Any):
        super().__init__(max_retries=None, **kwargs)
        self.session = session

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        import requests

        method = (method or "GET").upper()
        if method in _BODY_METHODS:
            prepared = requests.Request(method, href, headers=headers, json=parameters)
        else:
            prepared = requests.Request(method, href, headers=headers, params=parameters or {})
        if self._req_modifier is not None:
            prepared = self._req_modifier(prepared) or prepared
        response = self.session.request(
            prepared.method,
            prepared.url,
            params=prepared.params or None,
            json=prepared.json,
            headers=prepared.headers or None,
            idempotent=True,
            raise_for_status=False,
        )
        if response.status_code >= 400:
            raise stac_error(response, getattr(self.session, "config", None))
        return response.content.decode("utf-8")


def stac_error(response: requests.Response, config: Any = None) -> Exception:
    """The eostores error for a failed STAC API call, with the API's ``description``.

    STAC APIs answer errors with ``{"code": ..., "description": ...}``.
    """
    from eostores.credentials import redact_text
    from eostores.http import error_for_response

    store_id = getattr(config, "store_id", None)
    error = error_for_response(response, store_id=store_id)
    try:
        document = response.json()
    except ValueError:
        return error
    if isinstance(document, dict) and isinstance(document.get("description"), str):
        text = " ".join(document["description"].split())[:300]
        code = document.get("code")
        detail = f"{text} ({code})" if isinstance(code, str) and code else text
        error.message = redact_text(f"{detail}: {error.message}")
        error.args = (error.message,)
    return error


def item_data_id(item: dict[str, Any]) -> str:
    """The data id of an item found through an API: ``collections/<c>/items/<id>``."""
    return f"collections/{item.get('collection')}/items/{item['id']}"


def parse_item_data_id(data_id: str) -> tuple[str, str] | None:
    """``(collection, item)`` of an API item data id, or None if it has another form."""
    parts = data_id.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "collections" and parts[2] == "items" and all(parts):
        return parts[1], parts[3]
    return None


class StacApi:
    """A STAC API or static catalog at ``url``, read with pystac-client.

    ``session_factory()`` returns the eostores session to use; it is called once, lazily,
    so that creating a StacApi does no I/O.
    """

    def __init__(
        self,
        url: str,
        session_factory: Callable[[], requests.Session],
        *,
        page_size: int = 100,
        store_id: str | None = None,
    ):
        self.url = url
        self.page_size = page_size
        self.store_id = store_id
        self._session_factory = session_factory
        self._client: pystac_client.Client | None = None
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    @property
    def client(self) -> pystac_client.Client:
        """The pystac-client Client of the catalog root (one request on first use)."""
        if self._client is None:
            import pystac_client

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._client = pystac_client.Client.open(
                    self.url, stac_io=SessionStacIO(self.session)
                )
        return self._client

    # -- capabilities --------------------------------------------------------------------------

    def conforms_to(self, name: str) -> bool:
        from pystac_client.conformance import ConformanceClasses

        return self.client.conforms_to(ConformanceClasses[name])

    @property
    def is_api(self) -> bool:
        """Whether the catalog is an API (collections/features endpoints), not a static tree."""
        return any(self.conforms_to(n) for n in ("COLLECTIONS", "FEATURES", "ITEM_SEARCH"))

    @property
    def can_search(self) -> bool:
        return self.conforms_to("ITEM_SEARCH")

    @property
    def search_method(self) -> str:
        methods = {
            link.extra_fields.get("method", "GET") or "GET"
            for link in self.client.get_links("search")
        }
        return "POST" if "POST" in methods or not methods else "GET"

    # -- addresses ------------------------------------------------------------------------------

    @property
    def api_root(self) -> str:
        return self.url.rstrip("/")

    @property
    def static_root(self) -> str:
        """The directory URL of a static catalog's root document."""
        return self.url.rsplit("/", 1)[0] + "/"

    def collections_url(self) -> str:
        link = self.client.get_single_link("data")
        if link is not None:
            return link.absolute_href.rstrip("/")
        return f"{self.api_root}/collections"

    def item_url(self, data_id: str) -> str:
        """The URL of the item document of ``data_id`` (API path or static relative href)."""
        parsed = parse_item_data_id(data_id)
        if parsed is not None and self.is_api:
            collection, item = parsed
            return f"{self.collections_url()}/{collection}/items/{item}"
        if self.is_api or _escapes(data_id):
            raise DataNotFoundError(
                "no such item: data ids have the form collections/<collection>/items/<item>"
                if self.is_api
                else "no such item: a data id is an item href relative to the catalog",
                store_id=self.store_id,
                data_id=data_id,
            )
        return urljoin(self.static_root, data_id)

    # -- reading -------------------------------------------------------------------------------

    def read_json(self, url: str) -> dict[str, Any]:
        response = self.session.get(url, raise_for_status=False)
        if response.status_code >= 400:
            raise stac_error(response, getattr(self.session, "config", None))
        try:
            document = response.json()
        except ValueError:
            from eostores.errors import ServiceError

            raise ServiceError(
                f"the answer of {url} is not JSON", store_id=self.store_id, url=url
            ) from None
        return document

    def item(self, data_id: str) -> dict[str, Any]:
        """The item document of ``data_id``; DataNotFoundError if there is none."""
        url = self.item_url(data_id)
        try:
            item = self.read_json(url)
        except DataNotFoundError as error:
            raise DataNotFoundError(
                error.message, store_id=self.store_id, data_id=data_id
            ) from None
        if item.get("type") != "Feature" or "assets" not in item:
            raise DataNotFoundError(
                f"{url} is not a STAC item", store_id=self.store_id, data_id=data_id
            )
        _set_self_href(item, url)
        return item

    def collection(self, collection_id: str) -> dict[str, Any]:
        """The collection document; DataNotFoundError if there is none."""
        if self.is_api:
            url = f"{self.collections_url()}/{collection_id}"
            try:
                return self.read_json(url)
            except DataNotFoundError as error:
                raise DataNotFoundError(
                    error.message, store_id=self.store_id, data_id=collection_id
                ) from None
        for collection in self.collections():
            if collection.get("id") == collection_id:
                return collection
        raise DataNotFoundError("no such collection", store_id=self.store_id, data_id=collection_id)

    def collections(self) -> Iterator[dict[str, Any]]:
        """The collection documents (paged for APIs, by walking child links otherwise)."""
        if self.is_api:
            stac_io = self.client._stac_io
            assert stac_io is not None
            for page in stac_io.get_pages(self.collections_url()):
                yield from page.get("collections", [])
            return
        for document, _url in self._walk(items=False):
            if document.get("type") == "Collection":
                yield document

    def search(self, *, max_items: int | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        """Item documents matching ``params`` (pystac-client ItemSearch), page by page."""
        if not self.can_search:
            raise InvalidParameterError(
                "the catalog has no item search; use collections and bbox/time_range only",
                store_id=self.store_id,
            )
        search = self.client.search(
            method=self.search_method,
            limit=self.page_size if max_items is None else min(self.page_size, max_items),
            max_items=max_items,
            **{k: v for k, v in params.items() if v is not None},
        )
        yield from search.items_as_dicts()

    def collection_items(self, collection_id: str) -> Iterator[dict[str, Any]]:
        """The items of one collection through its ``items`` endpoint, page by page."""
        stac_io = self.client._stac_io
        assert stac_io is not None
        url = f"{self.collections_url()}/{collection_id}/items"
        for page in stac_io.get_pages(url, parameters={"limit": self.page_size}):
            yield from page.get("features", [])

    def iter_items(self, with_documents: bool) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """``(data_id, item or None)`` of every item, streaming; documents only if asked.

        APIs are read through item search, else through each collection's items endpoint;
        static catalogs are walked along their links (item documents are read only when
        ``with_documents``).
        """
        if self.is_api:
            if self.can_search:
                for item in self.search():
                    yield item_data_id(item), item
                return
            for collection in self.collections():
                for item in self.collection_items(collection["id"]):
                    yield item_data_id(item), item
            return
        for url in self._item_urls():
            data_id = self._relative(url)
            if with_documents:
                item = self.read_json(url)
                _set_self_href(item, url)
                yield data_id, item
            else:
                yield data_id, None

    # -- static catalogs -----------------------------------------------------------------------

    def _relative(self, url: str) -> str:
        root = self.static_root
        return url[len(root) :] if url.startswith(root) else url

    def _walk(self, items: bool) -> Iterator[tuple[dict[str, Any], str]]:
        pending = [self.url]
        seen: set[str] = set()
        while pending:
            url = pending.pop(0)
            if url in seen:
                continue
            seen.add(url)
            document = self.read_json(url)
            yield document, url
            for link in document.get("links", []):
                if link.get("rel") == "child" and link.get("href"):
                    pending.append(_normalize(urljoin(url, link["href"])))

    def _item_urls(self) -> Iterator[str]:
        for document, url in self._walk(items=True):
            for link in document.get("links", []):
                if link.get("rel") == "item" and link.get("href"):
                    yield _normalize(urljoin(url, link["href"]))


def _normalize(url: str) -> str:
    parts = urlsplit(url)
    path = posixpath.normpath(parts.path) if parts.path else parts.path
    if parts.path.endswith("/") and not path.endswith("/"):
        path += "/"
    return parts._replace(path=path).geturl()


def _escapes(data_id: str) -> bool:
    return data_id.startswith("/") or "://" in data_id or ".." in data_id.split("/")


def _set_self_href(item: dict[str, Any], url: str) -> None:
    """Make sure the item knows where it came from (for relative asset hrefs)."""
    links = item.setdefault("links", [])
    if not any(link.get("rel") == "self" for link in links):
        links.insert(0, {"rel": "self", "href": url})


def self_href(item: dict[str, Any]) -> str | None:
    for link in item.get("links", []):
        if link.get("rel") == "self":
            return link.get("href")
    return None
