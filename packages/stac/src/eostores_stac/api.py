"""The STAC protocol: a STAC API or static catalog read with pystac-client over an eostores session.

Every request goes through one :func:`eostores.http.new_session` session (retries with
backoff and Retry-After, timeouts, the deadline, errors carrying the service's message).
Credentials (a bearer token, extra headers) are attached by :class:`OriginAuth` only to
requests for the catalog's own origin and the asset origins the user names. Data ids and
collection ids become URL path segments only through :func:`eostores.paths.quote_segment`.
"""

from __future__ import annotations

import posixpath
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from pystac_client.stac_api_io import StacApiIO
from requests.auth import AuthBase

from eostores.errors import DataNotFoundError, InvalidParameterError, ServiceError

from .config import StoreSettings, origin_of

if TYPE_CHECKING:
    import pystac_client
    import requests

__all__ = [
    "OriginAuth",
    "SessionStacIO",
    "StacApi",
    "item_data_id",
    "new_stac_session",
    "stac_datetime",
]

_BODY_METHODS = ("POST", "PUT", "PATCH")
_WEB_SCHEMES = ("http", "https")


class OriginAuth(AuthBase):
    """Adds a bearer token and extra headers to requests for the allowed origins only.

    A catalog can point anywhere (next links, asset hrefs, child catalogs); the store's
    credentials go only to the catalog's own origin and to origins the user named.
    """

    def __init__(
        self,
        origins: frozenset[str],
        token: Any = None,
        headers: Mapping[str, str] | None = None,
    ):
        self.origins = origins
        self.token = token
        self.headers = dict(headers or {})

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin_of(str(request.url or "")) not in self.origins:
            return request
        for name, value in self.headers.items():
            request.headers[name] = value
        if self.token is not None:
            request.headers["Authorization"] = f"Bearer {self.token.reveal()}"
        return request

    def __repr__(self) -> str:
        return f"OriginAuth({sorted(self.origins)!r})"


def new_stac_session(settings: StoreSettings) -> requests.Session:
    """The eostores session of a store: its HTTP settings, credentials bound to origins."""
    from eostores.credentials import register_secret
    from eostores.http import new_session

    for value in settings.headers.values():
        register_secret(value)
    token = settings.api_token()
    auth = None
    if token is not None or settings.headers:
        auth = OriginAuth(settings.credential_origins, token, settings.headers)
    return new_session(settings.http_config(), auth=auth)


class SessionStacIO(StacApiIO):
    """pystac-client's I/O with every request sent through an eostores session."""

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
        method = (method or "GET").upper()
        if urlsplit(str(href)).scheme.lower() not in _WEB_SCHEMES:
            raise ServiceError(f"the catalog links to {href!r}, which is not an http(s) URL")
        if method in _BODY_METHODS:
            response = self.session.request(
                method, href, json=parameters, headers=headers, idempotent=True
            )
        else:
            response = self.session.request(
                method, href, params=parameters or None, headers=headers, idempotent=True
            )
        return response.content.decode("utf-8")


def item_data_id(document: Mapping[str, Any]) -> str:
    """The data id of an item found through an API: ``collections/<c>/items/<id>``."""
    return f"collections/{document.get('collection')}/items/{document.get('id')}"


def stac_datetime(time_range: Any) -> str | None:
    """A STAC ``datetime`` interval from a parsed TimeRange (None: no restriction).

    Written to the microsecond: item times have fractions, and an end given as a date is
    the day's last microsecond.
    """
    if time_range is None or (time_range.start is None and time_range.end is None):
        return None
    return time_range.isoformat(timespec="microseconds")


def _segment(text: str, what: str, store_id: str, data_id: str) -> str:
    """One URL path segment from an id; DataNotFoundError when the id cannot be one."""
    from eostores.paths import quote_segment

    decoded = unquote(text)
    if "/" in decoded or "\\" in decoded or decoded.strip() in (".", ".."):
        raise DataNotFoundError(
            f"no such {what}: {text!r} is not one path segment (no '/', '\\', '.' or '..', "
            "also when percent-encoded)",
            store_id=store_id,
            data_id=data_id,
        )
    try:
        return quote_segment(text, store_id=store_id)
    except InvalidParameterError as error:
        raise DataNotFoundError(
            f"no such {what}: {error.message}", store_id=store_id, data_id=data_id
        ) from None


class StacApi:
    """A STAC API or static catalog at ``settings.url``, read with pystac-client.

    Creating it does no I/O; the landing page is read on first use.
    """

    def __init__(self, settings: StoreSettings):
        self.url = settings.url
        self.page_size = settings.page_size
        self.store_id = settings.store_id
        self._settings = settings
        self._session: requests.Session | None = None
        self._io: SessionStacIO | None = None
        self._client: pystac_client.Client | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = new_stac_session(self._settings)
        return self._session

    @property
    def io(self) -> SessionStacIO:
        if self._io is None:
            self._io = SessionStacIO(self.session)
        return self._io

    @property
    def client(self) -> pystac_client.Client:
        """The pystac-client Client of the catalog root (one request on first use)."""
        if self._client is None:
            import pystac_client

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._client = pystac_client.Client.open(self.url, stac_io=self.io)
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
    def static_root(self) -> str:
        """The directory URL of a static catalog's root document."""
        return self.url.rsplit("/", 1)[0] + "/"

    def collections_url(self) -> str:
        link = self.client.get_single_link("data")
        if link is not None:
            return link.absolute_href.rstrip("/")
        return f"{self.url.rstrip('/')}/collections"

    def collection_url(self, collection_id: str) -> str:
        segment = _segment(collection_id, "collection", self.store_id, collection_id)
        return f"{self.collections_url()}/{segment}"

    def item_url(self, data_id: str) -> str:
        """The URL of the item document of ``data_id`` (API path or static relative href)."""
        if self.is_api:
            collection, item = self._item_path(data_id)
            return f"{self.collections_url()}/{collection}/items/{item}"
        return self._static_url(data_id)

    def _item_path(self, data_id: str) -> tuple[str, str]:
        """The quoted collection and item segments of an API data id."""
        parts = data_id.split("/")
        if len(parts) != 4 or parts[0] != "collections" or parts[2] != "items":
            raise DataNotFoundError(
                "no such item: data ids have the form collections/<collection>/items/<item>",
                store_id=self.store_id,
                data_id=data_id,
            )
        collection = _segment(parts[1], "collection", self.store_id, data_id)
        return collection, _segment(parts[3], "item", self.store_id, data_id)

    def _static_url(self, data_id: str) -> str:
        """The URL of a static catalog's item from its href relative to the root catalog."""
        from eostores.paths import confine_url

        try:
            return confine_url(self.static_root, data_id, store_id=self.store_id)
        except InvalidParameterError as error:
            raise DataNotFoundError(
                "no such item: a data id is an item href relative to the catalog "
                f"({error.message})",
                store_id=self.store_id,
                data_id=data_id,
            ) from None

    # -- reading -------------------------------------------------------------------------------

    def read_json(self, url: str) -> dict[str, Any]:
        response = self.session.get(url)
        try:
            document = response.json()
        except ValueError:
            raise ServiceError(
                f"the answer of {url} is not JSON", store_id=self.store_id, url=url
            ) from None
        if not isinstance(document, dict):
            raise ServiceError(
                f"the answer of {url} is not a JSON object", store_id=self.store_id, url=url
            )
        return document

    def item(self, data_id: str) -> tuple[dict[str, Any], str]:
        """``(document, url)`` of the item ``data_id``; DataNotFoundError if there is none.

        An API that does not advertise the features item endpoint is asked by item search
        (``ids`` and ``collections``), as pystac-client does.
        """
        if self.is_api and self.can_search and not self.conforms_to("FEATURES"):
            return self._searched_item(data_id)
        url = self.item_url(data_id)
        try:
            document = self.read_json(url)
        except DataNotFoundError as error:
            raise DataNotFoundError(
                error.message, store_id=self.store_id, data_id=data_id
            ) from None
        if document.get("type") != "Feature" or not isinstance(document.get("assets"), dict):
            raise DataNotFoundError(
                f"{url} is not a STAC item", store_id=self.store_id, data_id=data_id
            )
        return document, url

    def _searched_item(self, data_id: str) -> tuple[dict[str, Any], str]:
        """``(document, search URL)`` of the item ``data_id``, found by item search."""
        self._item_path(data_id)  # the same ids are unknown as on the item endpoint
        _, collection, _, item_id = data_id.split("/")
        link = self.client.get_single_link("search")
        url = link.absolute_href if link is not None else self.url
        for document in self.search(max_items=1, ids=[item_id], collections=[collection]):
            if document.get("id") == item_id and document.get("collection") == collection:
                return document, url
        raise DataNotFoundError(
            f"no item {item_id!r} in collection {collection!r}",
            store_id=self.store_id,
            data_id=data_id,
        )

    def collection(self, collection_id: str) -> dict[str, Any]:
        """The collection document; DataNotFoundError if there is none."""
        if self.is_api:
            url = self.collection_url(collection_id)
            try:
                document = self.read_json(url)
            except DataNotFoundError as error:
                raise DataNotFoundError(
                    error.message, store_id=self.store_id, data_id=collection_id
                ) from None
            if document.get("id") != collection_id:
                raise DataNotFoundError(
                    f"{url} is not the collection {collection_id!r}",
                    store_id=self.store_id,
                    data_id=collection_id,
                )
            return document
        for document in self.collections():
            if document.get("id") == collection_id:
                return document
        raise DataNotFoundError("no such collection", store_id=self.store_id, data_id=collection_id)

    def collections(self) -> Iterator[dict[str, Any]]:
        """The collection documents (paged for APIs, by walking child links otherwise)."""
        if self.is_api:
            for page in self.io.get_pages(self.collections_url()):
                yield from (c for c in page.get("collections", []) if isinstance(c, dict))
            return
        for document, _url in self._walk():
            if document.get("type") == "Collection":
                yield document

    def search(self, *, max_items: int | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        """Item documents matching ``params`` (pystac-client ItemSearch), page by page."""
        search = self.client.search(
            method=self.search_method,
            limit=self.page_size if max_items is None else min(self.page_size, max_items),
            max_items=max_items,
            **{k: v for k, v in params.items() if v is not None},
        )
        yield from (i for i in search.items_as_dicts() if isinstance(i, dict))

    def collection_items(self, collection_id: str) -> Iterator[dict[str, Any]]:
        """The items of one collection through its ``items`` endpoint, page by page."""
        url = f"{self.collection_url(collection_id)}/items"
        for page in self.io.get_pages(url, parameters={"limit": self.page_size}):
            yield from (i for i in page.get("features", []) if isinstance(i, dict))

    def iter_items(self) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
        """``(data_id, document, url)`` of every item, streaming.

        APIs are read through item search, else through each collection's items endpoint
        (documents come with the pages); static catalogs are walked along their links, and
        yield ``(data_id, None, url)``: the caller reads the documents it needs.
        """
        if self.is_api:
            if self.can_search:
                for document in self.search():
                    yield item_data_id(document), document, None
                return
            for collection in self.collections():
                for document in self.collection_items(str(collection.get("id"))):
                    yield item_data_id(document), document, None
            return
        root = self.static_root
        for url in self._item_urls():
            if url.startswith(root):
                yield unquote(url[len(root) :]), None, url

    # -- static catalogs -----------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[dict[str, Any], str]]:
        pending = [self.url]
        seen: set[str] = set()
        while pending:
            url = pending.pop(0)
            if url in seen:
                continue
            seen.add(url)
            document = self.read_json(url)
            yield document, url
            for link in document.get("links") or ():
                if isinstance(link, dict) and link.get("rel") == "child":
                    child = _link_url(url, link)
                    if child is not None:
                        pending.append(child)

    def _item_urls(self) -> Iterator[str]:
        for document, url in self._walk():
            for link in document.get("links") or ():
                if isinstance(link, dict) and link.get("rel") == "item":
                    item = _link_url(url, link)
                    if item is not None:
                        yield item


def _link_url(base: str, link: Mapping[str, Any]) -> str | None:
    """The absolute, normalised http(s) URL of a link (None for any other kind)."""
    href = link.get("href")
    if not isinstance(href, str) or not href:
        return None
    parts = urlsplit(urljoin(base, href))
    if parts.scheme.lower() not in _WEB_SCHEMES:
        return None
    path = posixpath.normpath(parts.path) if parts.path else parts.path
    if parts.path.endswith("/") and not path.endswith("/"):
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
