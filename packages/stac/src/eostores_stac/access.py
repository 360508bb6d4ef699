"""How the store reaches asset hrefs: https through eostores range reads, s3 through s3fs.

:class:`AssetAccess` is picklable (it carries the store settings, not connections), so that
dask workers in other processes read with the same settings; sessions and filesystems are
made once per process. GDAL never sees a URL or a header: GeoTIFFs are handed to rasterio
as file objects (:class:`eostores.fs.rasterio_opener.FsspecOpener`), so credentials stay
inside the eostores session, which sends them only to the allowed origins, and every read
is retried by that session (dropped connections, truncated bodies, 429 and 5xx).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from eostores.errors import DataNotFoundError

from .api import new_stac_session
from .config import StoreSettings

__all__ = ["AssetAccess", "RasterSource"]

_WEB = ("http", "https")
#: Bytes per range request at least (GDAL reads remote files in 16 KiB pieces too).
#: Cloud-optimised GeoTIFFs keep their header in the first few KiB and their tiles apart;
#: a large read is still one request (runs of missing blocks are fetched together).
RANGE_BLOCK_SIZE = 16 * 1024
#: The first bytes of a GeoTIFF read at once (its header, as GDAL's own first read).
RASTER_HEADER_BYTES = 16 * 1024
_S3 = ("s3", "s3a")

#: GDAL must not look for sidecar files next to remote files: each probe is a request.
_GDAL_OPEN_OPTIONS = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}

_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def _per_process(kind: str, key: str, make: Any) -> Any:
    """One object per ``(kind, key)`` in this process, made by ``make()`` on first use."""
    with _cache_lock:
        found = _cache.get((kind, key))
    if found is None:
        made = make()
        with _cache_lock:
            found = _cache.setdefault((kind, key), made)
    return found


@dataclass(frozen=True)
class RasterSource:
    """A GeoTIFF for rasterio: its path, and the opener serving it (None: a local file).

    :meth:`open` opens, and the caller reads and closes, in one thread (rasterio's rule
    for datasets of openers). The opener is shared by the process, so that a file's size
    and header are fetched once however often it is opened.
    """

    path: str
    opener: Any = None

    @contextmanager
    def open(self, **kwargs: Any) -> Iterator[Any]:
        """The open rasterio dataset; failures are eostores errors naming the cause."""
        import rasterio

        guard = self.opener.reading(self.path) if self.opener is not None else nullcontext()
        with (
            guard,
            rasterio.Env(**_GDAL_OPEN_OPTIONS),
            rasterio.open(self.path, opener=self.opener, **kwargs) as dataset,
        ):
            yield dataset


@dataclass(frozen=True, repr=False)
class AssetAccess:
    """Reading of asset hrefs with the settings of one store."""

    settings: StoreSettings

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store_id={self.store_id!r})"

    @property
    def store_id(self) -> str:
        return self.settings.store_id

    @property
    def cache_key(self) -> str:
        """A text identifying the settings, to share sessions and files within a process."""
        return json.dumps(asdict(self.settings), sort_keys=True, default=str)

    # -- filesystems --------------------------------------------------------------------------

    def session(self) -> Any:
        """The process's eostores session for asset requests of this store."""
        return _per_process("session", self.cache_key, lambda: new_stac_session(self.settings))

    def filesystem(self, href: str) -> tuple[Any, str]:
        """``(fsspec filesystem, path)`` for ``href``; only https and s3 hrefs are read."""
        scheme = urlsplit(href).scheme.lower()
        if scheme in _WEB:
            from eostores.rangefs import RangeFileSystem

            fs = _per_process(
                "https",
                self.cache_key,
                lambda: RangeFileSystem(session=self.session(), block_size=RANGE_BLOCK_SIZE),
            )
            return fs, href
        if scheme in _S3:
            import fsspec

            options = self.settings.s3_options()
            key = json.dumps(options, sort_keys=True, default=str)
            fs = _per_process("s3", key, lambda: fsspec.filesystem("s3", **options))
            return fs, href.split("://", 1)[1]
        raise DataNotFoundError(
            f"asset {href!r} is neither an http(s) nor an s3 URL; it is not read",
            store_id=self.store_id,
        )

    def raster_source(self, href: str) -> RasterSource:
        """The GeoTIFF at ``href`` for rasterio (its downloaded copy, if any)."""
        local = self.local_path(href)
        if local:
            return RasterSource(local)
        from eostores.fs.rasterio_opener import FsspecOpener

        fs, path = self.filesystem(href)
        key = f"{self.cache_key}|{id(fs)}"
        opener = _per_process("opener", key, lambda: FsspecOpener(fs, RASTER_HEADER_BYTES))
        return RasterSource(path, opener)

    def location(self, href: str) -> tuple[Any, str]:
        """``(fsspec filesystem, path)`` of a Zarr or NetCDF asset (a local copy if any)."""
        local = self.local_path(href)
        if local:
            import fsspec

            return fsspec.filesystem("file"), local
        return self.filesystem(href)

    def probe(self, href: str) -> BaseException | None:
        """Why ``href`` cannot be read (missing, denied, service error), or None.

        Format libraries report every failure of a file object as "not a supported
        format"; asking the filesystem about the file names the real cause.
        """
        try:
            fs, path = self.location(href)
            with fs.open(path, "rb") as file:
                file.read(1)
        except Exception as error:
            return error
        return None

    def local_path(self, href: str) -> str | None:
        """A local copy of ``href`` where assets are downloaded first (None: read remotely)."""
        return None

    def prefetch(self, hrefs: list[str]) -> None:
        """Fetch the assets ahead of reading, where assets are downloaded (else nothing)."""
