"""The sample service's protocol: its STAC API (through pystac-client) and its Zarr products.

Every request goes through one :func:`eostores.http.new_session` session per process and
store settings: the STAC requests of pystac-client and the byte ranges of the products,
which are read lazily as xarray DataTrees over zarr 3 through
:class:`eostores.rangefs.RangeFileSystem`. So the store's retry, timeout and deadline
parameters govern every chunk read as well. Products on ``s3://`` are read with s3fs and
the store's ``storage_options`` (anonymous by default, as the sample service's bucket).

A product's Zarr format is the one its item names, else found by probing its consolidated
metadata: ``.zmetadata`` (format 2, the sample service's) first, then ``zarr.json``; a
probe answered 403 counts as absent, since object stores answer 403 for a missing key to
whoever may not list the bucket.

Product hrefs come from the service and are refused unless they are http(s) (or s3) URLs
whose paths stay where they point (no ``..``, no encoded separators); paths inside a
product are built from the store's own tables with :func:`eostores.paths.confine_url`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from eostores.errors import AuthenticationError, DataNotFoundError, DataStoreError, ServiceError

from .config import SEARCH_PAGE_SIZE, STORE_ID, EopfSettings

if TYPE_CHECKING:
    import requests
    import xarray as xr

__all__ = [
    "METADATA_KEYS",
    "EopfApi",
    "absence",
    "check_product_href",
    "open_product",
    "probe_order",
    "product_key_url",
    "run_parallel",
]

#: The key of a product's consolidated metadata, per Zarr format.
METADATA_KEYS = {2: ".zmetadata", 3: "zarr.json"}

_WEB = ("http", "https")
_S3 = ("s3",)
_TREES_PER_PROCESS = 256

_lock = threading.Lock()
_sessions: dict[Any, Any] = {}
_trees: OrderedDict[tuple[Any, str], Any] = OrderedDict()
_tree_locks: dict[tuple[Any, str], threading.Lock] = {}

_Value = TypeVar("_Value")
_Result = TypeVar("_Result")


def _settings_key(settings: EopfSettings) -> Any:
    options = tuple(sorted((k, repr(v)) for k, v in settings.storage_options.items()))
    return (settings.http, options)


def session_for(settings: EopfSettings) -> requests.Session:
    """The process's session for ``settings`` (made on first use)."""
    from eostores.http import new_session

    key = settings.http
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = new_session(settings.http)
    return session


def run_parallel(
    settings: EopfSettings, function: Callable[[_Value], _Result], values: Sequence[_Value]
) -> list[_Result]:
    """``function`` of every value, in order, on up to ``settings.max_workers`` threads.

    Each call runs in a copy of the caller's context, so that the call's deadline holds.
    """
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    if not values:
        return []
    contexts = [contextvars.copy_context() for _ in values]
    workers = max(1, min(settings.max_workers, len(values)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda c, v: c.run(function, v), contexts, values))


# --------------------------------------------------------------------------- STAC API


class EopfApi:
    """The STAC API of the sample service; picklable (it keeps settings, not connections)."""

    def __init__(self, settings: EopfSettings):
        self.settings = settings
        self._client: Any = None
        self._client_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["settings"])

    @property
    def url(self) -> str:
        return self.settings.url

    def client(self) -> Any:
        """The pystac-client client (the landing page is read on first use)."""
        with self._client_lock:
            if self._client is None:
                import pystac_client

                io = _SessionStacIO(session_for(self.settings))
                self._client = pystac_client.Client.open(self.url, stac_io=io)
            return self._client

    def collections(self) -> list[dict[str, Any]]:
        """Every collection document the service lists."""
        return [collection.to_dict() for collection in self.client().get_collections()]

    def search(
        self,
        collections: list[str],
        *,
        bbox: tuple[float, float, float, float] | None = None,
        datetime: str | None = None,
        query: Mapping[str, Any] | None = None,
        max_items: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The item documents matching the search, every page."""
        search = self.client().search(
            collections=collections,
            bbox=list(bbox) if bbox is not None else None,
            datetime=datetime,
            query=dict(query) if query else None,
            limit=SEARCH_PAGE_SIZE,
            max_items=max_items,
        )
        yield from search.items_as_dicts()


def _stac_io_class() -> type:
    from pystac_client.stac_api_io import StacApiIO

    class SessionStacIO(StacApiIO):
        """pystac-client's I/O with every request sent through an eostores session."""

        def __init__(self, session: requests.Session):
            super().__init__(max_retries=None)
            self.session = session

        def request(
            self,
            href: str,
            method: str | None = None,
            headers: dict[str, str] | None = None,
            parameters: dict[str, Any] | None = None,
        ) -> str:
            method = (method or "GET").upper()
            if urlsplit(str(href)).scheme.lower() not in _WEB:
                raise ServiceError(
                    f"the STAC API links to {href!r}, which is not an http(s) URL",
                    store_id=STORE_ID,
                )
            if method == "POST":
                response = self.session.request(
                    method, href, json=parameters, headers=headers, idempotent=True
                )
            else:
                response = self.session.request(
                    method, href, params=parameters or None, headers=headers
                )
            return response.content.decode("utf-8")

    return SessionStacIO


def _SessionStacIO(session: requests.Session) -> Any:
    return _stac_io_class()(session)


# --------------------------------------------------------------------------- products


def check_product_href(href: Any, *, allow_s3: bool = True, item_id: str | None = None) -> str:
    """``href`` if it is a product URL the store may read, else ServiceError.

    http(s) URLs (and s3 URLs) whose path has no ``..`` or ``.`` segments, no encoded dots,
    separators or percent signs, no backslashes and no control characters.
    """
    from eostores.paths import relative_path

    what = f"item {item_id!r}" if item_id else "an item"
    if not isinstance(href, str) or not href:
        raise ServiceError(f"{what} has no product href", store_id=STORE_ID)
    parts = urlsplit(href)
    schemes = _WEB + (_S3 if allow_s3 else ())
    if parts.scheme.lower() not in schemes or not parts.netloc:
        raise ServiceError(
            f"{what} points to {href!r}: a product must be an "
            + ("http(s) or s3" if allow_s3 else "http(s)")
            + " URL",
            store_id=STORE_ID,
        )
    raw_segments = parts.path.split("/")
    if any(segment in (".", "..") for segment in raw_segments) or not parts.path.strip("/"):
        raise ServiceError(f"{what} points to {href!r}, a path that leaves its folder")
    relative_path(parts.path.strip("/"), from_service=True, store_id=STORE_ID)
    if parts.query or parts.fragment:
        raise ServiceError(f"{what} points to {href!r}: a product URL has no query or fragment")
    return href.rstrip("/")


def product_key_url(product_href: str, path: str) -> str:
    """The URL of ``path`` (a group or array of the store's tables) inside a product."""
    from eostores.paths import confine_url

    return confine_url(product_href, path, from_service=True, store_id=STORE_ID)


def _zarr_store(settings: EopfSettings, href: str) -> Any:
    from eostores.fs.zarr import zarr_store

    scheme = urlsplit(href).scheme.lower()
    if scheme in _S3:
        import s3fs

        options = {"anon": True, **dict(settings.storage_options)}
        fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
        return zarr_store(fs, href.split("://", 1)[1])
    from eostores.rangefs import RangeFileSystem

    return zarr_store(RangeFileSystem(session=session_for(settings)), href)


def absence(zarr_format: int, error: BaseException) -> str | None:
    """If ``error``, from reading the metadata of a product as ``zarr_format``, says the
    metadata do not exist, why (for a message); else None. A key does not exist when it
    is answered 404 or 410, or 403 (what object stores answer for a missing key to
    whoever may not list the bucket)."""
    forbidden = isinstance(error, AuthenticationError) and getattr(error, "status", None) == 403
    if not (forbidden or isinstance(error, FileNotFoundError)):
        return None
    reason = error.message if isinstance(error, DataStoreError) else str(error)
    return f"format {zarr_format} ({METADATA_KEYS[zarr_format]}): {reason}"


def probe_order(zarr_format: int | None) -> tuple[int, ...]:
    """The Zarr formats to try for a product: the one its item names first, else format 2
    (the sample service's) before format 3."""
    return (3, 2) if zarr_format == 3 else (2, 3)


def open_product(
    settings: EopfSettings,
    href: str,
    *,
    item_id: str | None = None,
    zarr_format: int | None = None,
) -> xr.DataTree:
    """The product at ``href`` as a lazy DataTree (dask arrays; one metadata read when
    ``zarr_format`` is right, see :func:`probe_order`).

    Opened once per process and settings; a missing product is DataNotFoundError, an
    unreadable one ServiceError, both naming the item.
    """
    key = (_settings_key(settings), href)
    with _lock:
        tree = _trees.get(key)
        if tree is not None:
            _trees.move_to_end(key)
            return tree
        lock = _tree_locks.setdefault(key, threading.Lock())
    with lock:
        with _lock:
            tree = _trees.get(key)
        if tree is None:
            tree = _open_tree(settings, href, item_id, zarr_format)
            with _lock:
                _trees[key] = tree
                while len(_trees) > _TREES_PER_PROCESS:
                    old, _ = _trees.popitem(last=False)
                    _tree_locks.pop(old, None)
    return tree


def _open_tree(
    settings: EopfSettings, href: str, item_id: str | None, zarr_format: int | None
) -> xr.DataTree:
    what = f"the product of item {item_id!r}" if item_id else f"the product {href}"
    absent: list[str] = []
    for candidate in probe_order(zarr_format):
        try:
            return _open_tree_as(settings, href, candidate)
        except Exception as error:
            reason = absence(candidate, error)
            if reason is None:
                raise _product_error(what, error) from None
            absent.append(reason)
    raise DataNotFoundError(f"{what} is missing ({'; '.join(absent)})", store_id=STORE_ID)


def _open_tree_as(settings: EopfSettings, href: str, zarr_format: int) -> xr.DataTree:
    import warnings

    import xarray as xr

    store = _zarr_store(settings, href)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return xr.open_datatree(
            store,
            engine="zarr",
            chunks={},
            consolidated=True,
            zarr_format=zarr_format,
            decode_timedelta=False,
        )


def _product_error(what: str, error: Exception) -> Exception:
    """The eostores error for a product that could not be opened."""
    if isinstance(error, DataStoreError):
        error.message = f"{what}: {error.message}"
        return error
    if isinstance(error, KeyError | ValueError | TypeError):
        return ServiceError(
            f"{what} is not a readable Zarr product: {type(error).__name__}: {error}",
            store_id=STORE_ID,
        )
    return error
