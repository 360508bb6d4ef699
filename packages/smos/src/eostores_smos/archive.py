"""Reading product files lazily: only the variables a cube needs, by range requests.

A product is one NetCDF4 (HDF5) file per half orbit, each variable stored in one or a few
compressed chunks. Reading a variable takes the file's metadata (the first blocks) and
that variable's chunks, fetched with range requests: through s3fs for ``s3://`` archives,
through :class:`eostores.rangefs.RangeFileSystem` (the store's HTTP session: retries,
deadline, concurrency cap) for ``https://`` mirrors, or from a local folder; see
:mod:`eostores_smos.productfile` for how few round trips that takes.

What was read is kept in memory (per store, shared by the threads of a process, bounded)
and, with ``cache_path``, in files below it: one ``.npz`` file per product and variable,
written atomically. Threads share one read per product; processes sharing a cache folder
take a file lock per product, so each variable of a product is read from the archive once.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eostores.credentials import resolve_secret
from eostores.errors import (
    AuthenticationError,
    DataStoreError,
    DataStoreTimeoutError,
    ServiceError,
)
from eostores.http import redact_url
from eostores.paths import confine, confine_url, safe_filename

from .config import (
    DEFAULT_ENDPOINT_URL,
    KEY_ENV,
    SECRET_ENV,
    STORE_ID,
    ArchiveSpec,
    Product,
)

__all__ = ["ArchiveReader", "RawVariable", "reader_for"]

#: Bytes of variables kept in memory per store, and as much of objects derived from them
#: (point positions, pixel mappings, decoded values).
MEMORY_CACHE_BYTES = 512 * 2**20
_STRIPES = 64
_CACHE_SUFFIX = ".npz"


class RawVariable:
    """A product variable as stored: its values over the product's grid points and attrs."""

    __slots__ = ("attrs", "values")

    def __init__(self, values: np.ndarray, attrs: Mapping[str, Any]):
        self.values = values
        self.attrs = dict(attrs)

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)


class _LRU:
    """A thread-safe least-recently-used mapping bounded by a total weight."""

    def __init__(self, capacity: int, weigh: Callable[[Any], int]):
        self.capacity = capacity
        self._weigh = weigh
        self._weight = 0
        self._items: collections.OrderedDict[Any, Any] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        weight = self._weigh(value)
        if weight > self.capacity:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= self._weigh(old)
            self._items[key] = value
            self._weight += weight
            while self._weight > self.capacity:
                _, evicted = self._items.popitem(last=False)
                self._weight -= self._weigh(evicted)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weight = 0


def _weight(value: Any) -> int:
    """Approximate bytes held by a cached object (arrays, tuples of them, point indexes)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple | list):
        return sum(_weight(v) for v in value)
    size = getattr(value, "nbytes", None)
    return int(size) if size is not None else 1024


_READERS: weakref.WeakValueDictionary[str, ArchiveReader] = weakref.WeakValueDictionary()
_READERS_LOCK = threading.Lock()


def reader_for(spec: ArchiveSpec, token: str) -> ArchiveReader:
    """The reader of ``token`` in this process (created on first use)."""
    with _READERS_LOCK:
        reader = _READERS.get(token)
        if reader is None:
            reader = ArchiveReader(spec, token)
            _READERS[token] = reader
        return reader


class ArchiveReader:
    """Reads product variables from the archive of ``spec``, with the caches described above.

    Pickled, a reader is looked up by its ``token`` in the receiving process, so that all
    the chunks a dask worker computes for one store share one reader and its caches.
    """

    def __init__(self, spec: ArchiveSpec, token: str):
        self.spec = spec
        self.token = token
        self._fs: Any = None
        self._fs_lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._arrays = _LRU(MEMORY_CACHE_BYTES, lambda v: v.nbytes)
        self._memo = _LRU(MEMORY_CACHE_BYTES, _weight)
        self._memo_lock = threading.Lock()
        self._inflight: dict[Any, concurrent.futures.Future] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._stats_lock = threading.Lock()
        #: Product files read from the archive, their sizes, bytes fetched and requests.
        self.stats = collections.Counter(files_read=0, file_bytes=0, bytes_fetched=0, requests=0)

    def __reduce__(self) -> tuple[Any, ...]:
        return reader_for, (self.spec, self.token)

    def __repr__(self) -> str:
        return f"ArchiveReader({self.spec.protocol}, {redact_url(self.spec.root)!r})"

    # -- locations

    def location(self, product: Product) -> str:
        """The URL or path of ``product``'s file in the archive."""
        spec = self.spec
        if spec.protocol in ("http", "https"):
            return confine_url(spec.root, product.path, from_service=True, store_id=STORE_ID)
        if spec.protocol == "file":
            return str(confine(spec.root, product.path, from_service=True, store_id=STORE_ID))
        return f"{spec.root.rstrip('/')}/{product.path}"

    @property
    def fs(self) -> Any:
        with self._fs_lock:
            if self._fs is None:
                self._fs = _new_filesystem(self.spec)
            return self._fs

    # -- derived objects

    def memo(self, key: Any, factory: Callable[[], Any]) -> Any:
        """A derived object of this store, computed once while it stays in the cache.

        Threads asking for the same key while it is computed wait for that computation.
        """
        found = self._memo.get(key)
        if found is not None:
            return found
        with self._memo_lock:
            found = self._memo.get(key)
            if found is not None:
                return found
            future = self._inflight.get(key)
            owner = future is None
            if owner:
                future = concurrent.futures.Future()
                self._inflight[key] = future
        if not owner:
            return future.result()
        try:
            value = factory()
        except BaseException as error:
            with self._memo_lock:
                del self._inflight[key]
            future.set_exception(error)
            raise
        self._memo.put(key, value)
        with self._memo_lock:
            del self._inflight[key]
        future.set_result(value)
        return value

    # -- reading

    def read(self, product: Product, names: Iterable[str]) -> dict[str, RawVariable]:
        """The variables ``names`` of ``product`` (from memory, the cache or the archive)."""
        names = list(dict.fromkeys(names))
        found = {n: v for n in names if (v := self._arrays.get((product.path, n))) is not None}
        if len(found) == len(names):
            return found
        stripe = self._stripes[hash(product.path) % _STRIPES]
        with stripe:
            missing = []
            for name in names:
                value = found.get(name) or self._arrays.get((product.path, name))
                if value is None:
                    missing.append(name)
                else:
                    found[name] = value
            if missing:
                if self.spec.cache_path:
                    loaded = self._read_through_cache(product, missing)
                else:
                    loaded = self._read_archive(product, missing)
                for name, value in loaded.items():
                    self._arrays.put((product.path, name), value)
                found.update(loaded)
        return found

    def _read_through_cache(self, product: Product, names: list[str]) -> dict[str, RawVariable]:
        import filelock

        folder = self._cache_folder(product)
        folder.mkdir(parents=True, exist_ok=True)
        timeout = self.spec.http.deadline if self.spec.http.deadline is not None else -1
        lock = filelock.FileLock(str(folder / ".lock"), timeout=timeout, thread_local=False)
        try:
            with lock:
                loaded = {}
                for name in names:
                    value = _load_cached(folder / _cache_name(name))
                    if value is not None:
                        loaded[name] = value
                still = [n for n in names if n not in loaded]
                if still:
                    fetched = self._read_archive(product, still)
                    for name, value in fetched.items():
                        _store_cached(folder / _cache_name(name), value)
                    loaded.update(fetched)
                return loaded
        except filelock.Timeout:
            raise DataStoreTimeoutError(
                f"waited {timeout:g} s for another process reading {product.name} into the "
                f"cache {str(folder)!r}",
                store_id=STORE_ID,
            ) from None

    def _cache_folder(self, product: Product) -> Path:
        cache_path = self.spec.cache_path
        assert cache_path is not None
        relative = product.path.rpartition("/")[0] or product.name
        return confine(cache_path, relative, from_service=True, store_id=STORE_ID)

    def _read_archive(self, product: Product, names: list[str]) -> dict[str, RawVariable]:
        url = self.location(product)
        try:
            return self._read_file(url, product, names)
        except DataStoreError:
            raise
        except FileNotFoundError:
            raise ServiceError(
                f"the catalogue lists {product.name}, but the archive has no file "
                f"{redact_url(url)}",
                status=404,
                url=redact_url(url),
                store_id=STORE_ID,
            ) from None
        except PermissionError as error:
            raise AuthenticationError(
                f"the archive refused access to {redact_url(url)} ({error}); give "
                "source_storage_options key and secret, or set "
                f"{KEY_ENV[0]} and {SECRET_ENV[0]}",
                store_id=STORE_ID,
            ) from None
        except (OSError, ValueError, KeyError) as error:
            raise ServiceError(
                f"cannot read {product.name} from {redact_url(url)}: "
                f"{type(error).__name__}: {error}",
                url=redact_url(url),
                store_id=STORE_ID,
            ) from error

    def _read_file(self, url: str, product: Product, names: list[str]) -> dict[str, RawVariable]:
        from .productfile import read_variables

        fs = self.fs
        pool = self._fetch_pool()
        size = int(fs.size(url))
        found, data = read_variables(
            lambda start, end: fs.cat_file(url, start=start, end=end),
            size,
            names,
            pool,
            dict(self.spec.xarray_kwargs),
        )
        with self._stats_lock:
            self.stats["files_read"] += 1
            self.stats["bytes_fetched"] += data.fetched_bytes
            self.stats["requests"] += data.requests + 1
            self.stats["file_bytes"] += size
        missing = [name for name in names if name not in found]
        if missing:
            raise ServiceError(
                f"product {product.name} has no variable(s) {', '.join(missing)}",
                store_id=STORE_ID,
            )
        return {name: RawVariable(*found[name]) for name in names}

    def _fetch_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._fs_lock:
            if self._pool is None:
                workers = max(4, self.spec.http.max_concurrency_per_host or 8)
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    workers, thread_name_prefix="eostores-smos-read"
                )
            return self._pool


# --------------------------------------------------------------------------- files


def _new_filesystem(spec: ArchiveSpec) -> Any:
    options = spec.options()
    if spec.protocol in ("http", "https"):
        from eostores.http import new_session
        from eostores.rangefs import RangeFileSystem

        session = new_session(spec.http, headers=options.get("headers"))
        return RangeFileSystem(
            session=session, block_size=options.get("block_size", spec.block_size)
        )
    if spec.protocol == "file":
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()
    import s3fs

    return s3fs.S3FileSystem(**s3_options(spec, options))


def s3_options(spec: ArchiveSpec, options: dict[str, Any]) -> dict[str, Any]:
    """s3fs options: credentials (parameters, then environment), endpoint, timeouts, retries."""
    options = dict(options)
    key = resolve_secret("key", explicit=options.pop("key", None), env=KEY_ENV, required=False)
    secret = resolve_secret(
        "secret", explicit=options.pop("secret", None), env=SECRET_ENV, required=False
    )
    if key is not None and secret is not None:
        options["key"], options["secret"] = key.reveal(), secret.reveal()
    elif "anon" not in options and not options.get("profile"):
        options["anon"] = True
    options.setdefault("endpoint_url", DEFAULT_ENDPOINT_URL)
    http = spec.http
    config = {
        "connect_timeout": http.connect_timeout,
        "read_timeout": http.read_timeout,
        "retries": {"max_attempts": http.num_retries + 1, "mode": "standard"},
    }
    config.update(options.get("config_kwargs") or {})
    options["config_kwargs"] = config
    options.setdefault("skip_instance_cache", True)
    return options


# --------------------------------------------------------------------------- disk cache


def _cache_name(name: str) -> str:
    return safe_filename(name) + _CACHE_SUFFIX


def _load_cached(path: Path) -> RawVariable | None:
    """A cached variable, or None if there is none (or it cannot be read)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            values = np.array(archive["values"])
            attrs = json.loads(str(archive["attrs"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError):
        return None  # unreadable: read again and replace it
    return RawVariable(values, _attrs_from_json(attrs))


def _store_cached(path: Path, value: RawVariable) -> None:
    """Write ``value`` to ``path`` atomically (a temporary file renamed into place)."""
    handle, temporary = tempfile.mkstemp(prefix=".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(
                file, values=value.values, attrs=np.array(json.dumps(_attrs_to_json(value.attrs)))
            )
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _attrs_to_json(attrs: Mapping[str, Any]) -> dict[str, Any]:
    result = {}
    for key, value in attrs.items():
        array = np.asarray(value)
        if array.dtype.kind in "iufb":
            result[key] = {"dtype": array.dtype.str, "value": array.tolist()}
        elif array.dtype.kind in "US":
            result[key] = {"dtype": "str", "value": str(value)}
    return result


def _attrs_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in data.items():
        if item.get("dtype") == "str":
            result[key] = item["value"]
        else:
            result[key] = np.asarray(item["value"], dtype=np.dtype(item["dtype"]))
    return result
