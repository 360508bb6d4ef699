"""The ARCO Zarr stores of a dataset, read over the store's HTTP session.

ARCO services are Zarr v2 stores in S3 buckets, addressed path style
(``http(s)://host[:port]/<bucket>/<key>``) and read without signing, with the toolbox's
monitoring query parameters. The toolbox reads them with boto3 through an endpoint from
which it drops the port, and retries failed reads for minutes on its own; this store keeps
the href as the catalogue gives it (port included) and reads every key through the
eostores session, so that the store's retry, deadline and concurrency settings rule.
"""

from __future__ import annotations

import asyncio
import threading
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

from eostores.errors import InvalidParameterError, ServiceError
from eostores.http import HttpConfig, Session, error_for_response, new_session
from eostores.paths import confine_url

from .config import STORE_ID

__all__ = ["ArcoZarrStore", "check_data_href"]

_S3_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_MISSING = (403, 404)
#: Objects up to this size (metadata, coordinate arrays) are kept once read, since xarray
#: reads some of them several times while opening.
_SMALL_OBJECT = 64 * 1024
_SMALL_CACHE_BYTES = 4 * 1024 * 1024


def check_data_href(href: Any, *, data_id: str | None = None) -> str:
    """An ARCO href from the catalogue, if it is an http(s) URL with a bucket and no escapes."""
    parts = urlsplit(href) if isinstance(href, str) else None
    segments = parts.path.split("/")[1:] if parts is not None else []
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or len(segments) < 2
        or any(s in ("", ".", "..") or "%" in s for s in segments)
    ):
        raise ServiceError(
            f"the catalogue gives the data href {href!r}, which is not an http(s) URL of an "
            "object below a bucket",
            store_id=STORE_ID,
            data_id=data_id,
        )
    return href


def _byte_range_header(byte_range: ByteRequest | None) -> dict[str, str]:
    if byte_range is None:
        return {}
    if isinstance(byte_range, RangeByteRequest):
        return {"Range": f"bytes={byte_range.start}-{byte_range.end - 1}"}
    if isinstance(byte_range, OffsetByteRequest):
        return {"Range": f"bytes={byte_range.offset}-"}
    return {"Range": f"bytes=-{byte_range.suffix}"}


class ArcoZarrStore(Store):
    """A read-only zarr store over the objects below ``url`` (an ARCO ``*.zarr`` href).

    ``params`` are added to every request (the service's monitoring parameters). Missing
    keys (404, or 403 as S3 answers without list rights) read as absent; other failures
    raise :mod:`eostores.errors` exceptions after the session's retries.
    """

    supports_writes = False
    supports_deletes = False
    supports_listing = True

    def __init__(
        self,
        url: str,
        *,
        http_config: HttpConfig,
        params: Mapping[str, str] | None = None,
        data_id: str | None = None,
    ):
        super().__init__(read_only=True)
        self._url = check_data_href(url, data_id=data_id).rstrip("/")
        self._http_config = http_config
        self._params = dict(params or {})
        self._data_id = data_id
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._session: Session | None = None
        self._session_lock = threading.Lock()
        self._small: OrderedDict[str, bytes | None] = OrderedDict()
        self._small_bytes = 0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_session", "_session_lock", "_small", "_small_bytes"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ArcoZarrStore)
            and self._url == other._url
            and self._params == other._params
        )

    def __hash__(self) -> int:
        return hash((ArcoZarrStore, self._url))

    def __repr__(self) -> str:
        return f"ArcoZarrStore({self._url!r})"

    def __dask_tokenize__(self) -> tuple[str, str]:
        return (type(self).__name__, self._url)

    @property
    def url(self) -> str:
        return self._url

    def with_read_only(self, read_only: bool = False) -> ArcoZarrStore:
        if not read_only:
            raise InvalidParameterError(
                f"{self} is read-only", store_id=STORE_ID, parameter="read_only"
            )
        return self

    # -- HTTP

    def session(self) -> Session:
        with self._session_lock:
            if self._session is None:
                self._session = new_session(self._http_config)
            return self._session

    def _key_url(self, key: str) -> str:
        return confine_url(
            self._url, key, from_service=True, store_id=STORE_ID, data_id=self._data_id
        )

    def _fetch(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        if byte_range is None:
            with self._session_lock:
                if key in self._small:
                    self._small.move_to_end(key)
                    return self._small[key]
        data = self._request(key, byte_range)
        if byte_range is None and (data is None or len(data) <= _SMALL_OBJECT):
            with self._session_lock:
                if key not in self._small:
                    self._small[key] = data
                    self._small_bytes += len(data or b"")
                while self._small_bytes > _SMALL_CACHE_BYTES:
                    _, evicted = self._small.popitem(last=False)
                    self._small_bytes -= len(evicted or b"")
        return data

    def _request(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        response = self.session().get(
            self._key_url(key),
            params=self._params,
            headers=_byte_range_header(byte_range),
            raise_for_status=False,
        )
        if response.status_code in _MISSING:
            return None
        if response.status_code == 416:
            return b""
        if response.status_code >= 400:
            error = error_for_response(response, store_id=STORE_ID)
            error.data_id = self._data_id
            raise error
        return response.content

    # -- zarr reads

    async def get(
        self,
        key: str,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        prototype = prototype or default_buffer_prototype()
        data = await asyncio.to_thread(self._fetch, key, byte_range)
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        return list(
            await asyncio.gather(*(self.get(key, prototype, rng) for key, rng in key_ranges))
        )

    async def exists(self, key: str) -> bool:
        return await self.get(key, default_buffer_prototype()) is not None

    # -- listing (ListObjectsV2)

    def _list_keys(self, prefix: str) -> list[str]:
        parts = urlsplit(self._url)
        bucket, _, root = parts.path.lstrip("/").partition("/")
        endpoint = f"{parts.scheme}://{parts.netloc}/{bucket}"
        full_prefix = f"{root}/{prefix}" if prefix else f"{root}/"
        keys: list[str] = []
        token: str | None = None
        while True:
            query = {**self._params, "list-type": "2", "prefix": full_prefix}
            if token:
                query["continuation-token"] = token
            response = self.session().get(endpoint, params=query)
            try:
                document = ElementTree.fromstring(response.content)
            except ElementTree.ParseError:
                raise ServiceError(
                    f"the object listing of {endpoint} is not S3 XML",
                    store_id=STORE_ID,
                    data_id=self._data_id,
                ) from None
            for contents in document.iter(f"{_S3_NAMESPACE}Contents"):
                key = contents.findtext(f"{_S3_NAMESPACE}Key") or ""
                if key.startswith(f"{root}/"):
                    keys.append(key[len(root) + 1 :])
            truncated = document.findtext(f"{_S3_NAMESPACE}IsTruncated") == "true"
            token = document.findtext(f"{_S3_NAMESPACE}NextContinuationToken")
            if not truncated or not token:
                return keys

    async def list(self) -> AsyncIterator[str]:
        for key in await asyncio.to_thread(self._list_keys, ""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in await asyncio.to_thread(self._list_keys, prefix):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        base = f"{prefix}/" if prefix else ""
        seen: set[str] = set()
        for key in await asyncio.to_thread(self._list_keys, base):
            child = key[len(base) :].split("/", 1)[0]
            if child and child not in seen:
                seen.add(child)
                yield child

    # -- zarr writes: refused

    async def set(self, key: str, value: Buffer) -> None:
        raise self._read_only(key)

    async def delete(self, key: str) -> None:
        raise self._read_only(key)

    def _read_only(self, key: str) -> InvalidParameterError:
        return InvalidParameterError(
            f"{self} is read-only: cannot write or delete {key!r}",
            store_id=STORE_ID,
            data_id=self._data_id,
        )
