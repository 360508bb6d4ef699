"""One array of an EOPF product seen as a Zarr group of its own, for readers of groups.

Readers that open a Zarr *group* and take its variable (the cube builder of eostores-stac
does) cannot open an array inside a product: the product's groups carry no consolidated
metadata of their own, and listing is impossible over HTTP. :class:`ArrayViewFileSystem`
serves, below the URL of an array (``<product>/<group>/<array>``), a group holding that
array and its coordinate arrays, whose metadata (format 2 or 3) is cut out of the
product's consolidated metadata; every other key (the chunks) is the product's own file,
read through the store's range-reading file system. The builder reads a chunk once for
every output chunk it overlaps; the most recently read chunks (``CHUNK_CACHE_BYTES`` of
compressed bytes per process) are kept, so that each is fetched once.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from fsspec.spec import AbstractFileSystem

from eostores.errors import DataStoreError

from .api import METADATA_KEYS, absence, probe_order, session_for
from .config import EopfSettings

__all__ = ["ArrayView", "ArrayViewFileSystem"]

#: Products whose metadata a process keeps.
_PRODUCTS_PER_PROCESS = 256
#: Compressed chunk bytes a process keeps.
CHUNK_CACHE_BYTES = 32 * 2**20


class ArrayView:
    """Where an array lies: its product's URL, its group path and its name; the product's
    Zarr format if known."""

    __slots__ = ("group", "name", "product", "zarr_format")

    def __init__(self, product: str, group: str, name: str, zarr_format: int | None = None):
        self.product = product.rstrip("/")
        self.group = group.strip("/")
        self.name = name
        self.zarr_format = zarr_format

    @property
    def root(self) -> str:
        return f"{self.product}/{self.group}/{self.name}"

    def __reduce__(self) -> tuple[Any, ...]:
        return ArrayView, (self.product, self.group, self.name, self.zarr_format)


class ArrayViewFileSystem(AbstractFileSystem):
    """Read-only; paths are array URLs registered with :meth:`register` plus a key."""

    protocol = ("eopfview",)
    root_marker = ""
    cachable = False

    def __init__(self, settings: EopfSettings, views: dict[str, ArrayView] | None = None):
        super().__init__()
        self.settings = settings
        self.views: dict[str, ArrayView] = dict(views or {})
        self._range: Any = None
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[int, dict[str, Any]]] = {}
        self._product_locks: dict[str, threading.Lock] = {}
        self._chunks: OrderedDict[str, bytes] = OrderedDict()
        self._chunk_bytes = 0

    def __reduce__(self) -> tuple[Any, ...]:
        return ArrayViewFileSystem, (self.settings, self.views)

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        return str(path).rstrip("/")

    def register(self, view: ArrayView) -> str:
        """Serve ``view``; returns the path of its group."""
        with self._lock:
            self.views[view.root] = view
        return view.root

    # -- the product below

    def _range_fs(self) -> Any:
        with self._lock:
            if self._range is None:
                from eostores.rangefs import RangeFileSystem

                self._range = RangeFileSystem(session=session_for(self.settings))
            return self._range

    def product_metadata(
        self, product: str, zarr_format: int | None = None
    ) -> tuple[int, dict[str, Any]]:
        """(zarr format, consolidated metadata by key) of a product, read once.

        The format ``zarr_format`` (if given) is tried first (:func:`.api.probe_order`); a
        product with neither metadata key is FileNotFoundError.
        """
        with self._lock:
            known = self._metadata.get(product)
            if known is not None:
                return known
            lock = self._product_locks.setdefault(product, threading.Lock())
        with lock:  # one read per product, however many threads ask
            with self._lock:
                known = self._metadata.get(product)
            if known is not None:
                return known
            found = self._read_metadata(product, zarr_format)
            with self._lock:
                self._metadata[product] = found
                while len(self._metadata) > _PRODUCTS_PER_PROCESS:
                    oldest = next(iter(self._metadata))
                    del self._metadata[oldest]
                    self._product_locks.pop(oldest, None)
            return found

    def _read_metadata(self, product: str, zarr_format: int | None) -> tuple[int, dict[str, Any]]:
        fs = self._range_fs()
        absent = []
        for candidate in probe_order(zarr_format):
            try:
                document = json.loads(fs.cat_file(f"{product}/{METADATA_KEYS[candidate]}"))
            except Exception as error:
                reason = absence(candidate, error)
                if reason is None:
                    raise
                absent.append(reason)
                continue
            if candidate == 3:
                document = document.get("consolidated_metadata") or {}
            return candidate, dict(document.get("metadata") or {})
        raise FileNotFoundError("; ".join(absent))

    def _locate(self, path: str) -> tuple[ArrayView, str]:
        path = self._strip_protocol(path)
        probe = path
        while probe:  # the longest registered root the path starts with
            view = self.views.get(probe)
            if view is not None:
                return view, path[len(probe) + 1 :]
            probe, separator, _ = probe.rpartition("/")
            if not separator:
                break
        raise FileNotFoundError(path)

    def _virtual(self, view: ArrayView, key: str) -> bytes | None:
        """The bytes of a metadata key of the view's group, or None for a product file."""
        zarr_format, metadata = self.product_metadata(view.product, view.zarr_format)
        prefix = f"{view.group}/"
        if zarr_format == 3:
            array = metadata.get(prefix + view.name)
            if array is None:
                raise FileNotFoundError(f"{view.root} is not in its product's metadata")
            names = [view.name, *(array.get("dimension_names") or [])]
            members = {n: metadata[prefix + n] for n in names if prefix + n in metadata}
            if key == "zarr.json":
                group = {
                    "zarr_format": 3,
                    "node_type": "group",
                    "attributes": {},
                    "consolidated_metadata": {
                        "kind": "inline",
                        "must_understand": False,
                        "metadata": members,
                    },
                }
                return json.dumps(group).encode()
            name, _, rest = key.partition("/")
            if rest == "zarr.json" and name in members:
                return json.dumps(members[name]).encode()
            return None
        if key == "zarr.json":
            raise FileNotFoundError(f"{view.root}/zarr.json")
        attrs = metadata.get(f"{prefix}{view.name}/.zattrs") or {}
        names = [view.name, *attrs.get("_ARRAY_DIMENSIONS", [])]
        entries: dict[str, Any] = {".zgroup": {"zarr_format": 2}, ".zattrs": {}}
        for name in names:
            for suffix in (".zarray", ".zattrs"):
                if f"{prefix}{name}/{suffix}" in metadata:
                    entries[f"{name}/{suffix}"] = metadata[f"{prefix}{name}/{suffix}"]
        if key == ".zmetadata":
            return json.dumps({"zarr_consolidated_format": 1, "metadata": entries}).encode()
        if key in entries:
            return json.dumps(entries[key]).encode()
        if key.endswith((".zarray", ".zattrs", ".zgroup")):
            raise FileNotFoundError(f"{view.root}/{key}")
        return None

    # -- the fsspec interface

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        view, key = self._locate(path)
        data = self._virtual(view, key)
        if data is not None:
            return data[start:end]
        url = f"{view.product}/{view.group}/{key}"
        if start is not None or end is not None:
            return self._range_fs().cat_file(url, start, end)
        with self._lock:
            data = self._chunks.get(url)
            if data is not None:
                self._chunks.move_to_end(url)
                return data
        data = self._range_fs().cat_file(url)
        with self._lock:
            if url not in self._chunks and len(data) <= CHUNK_CACHE_BYTES // 8:
                self._chunks[url] = data
                self._chunk_bytes += len(data)
                while self._chunk_bytes > CHUNK_CACHE_BYTES:
                    _, dropped = self._chunks.popitem(last=False)
                    self._chunk_bytes -= len(dropped)
        return data

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        view, key = self._locate(path)
        data = self._virtual(view, key)
        if data is not None:
            return {"name": self._strip_protocol(path), "size": len(data), "type": "file"}
        return self._range_fs().info(f"{view.product}/{view.group}/{key}")

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        raise DataStoreError(f"cannot list {path}: read the group by its consolidated metadata")

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        import io

        return io.BytesIO(self.cat_file(path))
