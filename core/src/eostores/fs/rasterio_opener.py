"""Any fsspec filesystem served to GDAL through rasterio's Python-opener interface, safely.

GDAL calls the ``read``, ``seek`` and ``tell`` of the file objects an opener hands out from
C, through rasterio's bridge, which cannot report a Python exception: an exception in
``read`` comes back to GDAL as ``(size_t)-1`` bytes read, and GDAL aborts the whole process
(``std::length_error``); a ``read`` returning more bytes than asked for would overflow
GDAL's buffer. The files served here therefore never raise and never return more than
asked for: the first failure (an HTTP error, a dropped connection, a truncated or
wrong-length body) is kept, GDAL is told of a short read, and :meth:`FsspecOpener.reading`
raises that failure as a DataStoreError once GDAL has given up.

rasterio keeps its registry of openers and open files in context variables, so that a
dataset opened through an opener must be read and closed in the thread that opened it;
:func:`read_window` opens, reads and closes in one call. What the opener learns once —
the size of a file and its first bytes, where the TIFF header lies — is kept, so that
opening a file again costs no request.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from typing import Any

from rasterio.abc import FileContainer

from ..errors import DataNotFoundError, DataStoreError

__all__ = ["GDAL_REMOTE_ENV", "FsspecOpener", "read_window"]

#: GDAL must not look for sidecar files (.aux.xml, .msk, .ovr) next to remote files while
#: opening them: each probe would be a request.
GDAL_REMOTE_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}

#: The first bytes of a file kept in memory: where a (cloud-optimized) GeoTIFF's header is.
HEADER_BYTES = 64 * 1024


class FsspecOpener(FileContainer):
    """Serves the files of an fsspec filesystem to GDAL (``rasterio.open(path, opener=...)``).

    Directory listings are reported empty, so that GDAL neither lists remote directories nor
    probes for sidecar files. Picklable: what it learnt stays behind.
    """

    def __init__(self, fs: Any, header_bytes: int = HEADER_BYTES):
        self.fs = fs
        self.header_bytes = header_bytes
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}
        self._headers: dict[str, bytes] = {}
        self._failures = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"fs": self.fs, "header_bytes": self.header_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["fs"], state["header_bytes"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.fs).__name__})"

    # -- failures ---------------------------------------------------------------------------

    def record_failure(self, error: BaseException) -> None:
        """Keep the first failure of this thread's current reading."""
        if getattr(self._failures, "error", None) is None:
            self._failures.error = error

    @contextlib.contextmanager
    def reading(self, path: str) -> Iterator[None]:
        """Run rasterio calls on ``path``; the failures GDAL could not report are raised.

        Raises DataNotFoundError for a missing file, the translated failure of the
        filesystem where there was one, else DataStoreError for what rasterio raised.
        """
        import rasterio.errors

        self._failures.error = None
        try:
            yield
        except (rasterio.errors.RasterioError, OSError) as error:
            failure = self._failures.error or error
            self._failures.error = None
            raise _as_store_error(failure, path) from failure
        failure = self._failures.error
        self._failures.error = None
        if failure is not None:
            raise _as_store_error(failure, path) from failure

    # -- what the opener knows about files ----------------------------------------------------

    def size(self, path: str) -> int:
        with self._lock:
            known = self._sizes.get(path)
        if known is None:
            known = int(self.fs.size(path))
            with self._lock:
                self._sizes[path] = known
        return known

    def header(self, path: str) -> bytes:
        """The first ``header_bytes`` of ``path`` (fewer for a smaller file), read once."""
        with self._lock:
            known = self._headers.get(path)
        if known is None:
            expected = min(self.size(path), self.header_bytes)
            with self.fs.open(path, "rb") as file:
                known = file.read(expected)
            if len(known) != expected:
                raise OSError(f"short read: {len(known)} bytes of the first {expected} of {path!r}")
            with self._lock:
                self._headers[path] = known
        return known

    # -- the FileContainer interface ----------------------------------------------------------

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> GuardedFile:
        if "r" not in mode or "+" in mode:
            raise PermissionError("files are opened read-only")
        return GuardedFile(self, path)

    def isfile(self, path: str) -> bool:
        try:
            self.size(path)
        except Exception as error:
            self.record_failure(error)
            return False
        return True

    def isdir(self, path: str) -> bool:
        return False

    def ls(self, path: str) -> list[str]:
        return []

    def mtime(self, path: str) -> int:
        return 0

    def rm(self, path: str) -> None:
        raise PermissionError("files are opened read-only")


class GuardedFile:
    """A read-only file whose methods never raise; failures go to the opener.

    Equal only to itself: rasterio keys open files by equality, and fsspec files of one
    path compare equal. The filesystem's file is opened on the first read beyond the
    header.
    """

    def __init__(self, opener: FsspecOpener, path: str):
        self._opener = opener
        self._path = path
        self._position = 0
        self._file: Any = None
        self._failed = False

    def _fail(self, error: BaseException) -> bytes:
        self._failed = True
        self._opener.record_failure(error)
        return b""

    def read(self, size: int = -1) -> bytes:
        if self._failed:
            return b""
        try:
            total = self._opener.size(self._path)
            start = min(self._position, total)
            stop = total if size is None or size < 0 else min(total, start + size)
            if stop <= start:
                return b""
            header = self._opener.header(self._path)
            if stop <= len(header):
                data = header[start:stop]
            else:
                if self._file is None:
                    self._file = self._opener.fs.open(self._path, "rb")
                self._file.seek(start)
                data = self._file.read(stop - start)
            if len(data) != stop - start:
                raise OSError(
                    f"wrong length: {len(data)} bytes where {stop - start} were expected "
                    f"at offset {start} of {self._path!r}"
                )
        except Exception as error:
            return self._fail(error)
        self._position = stop
        return bytes(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            if whence == io.SEEK_SET:
                position = offset
            elif whence == io.SEEK_CUR:
                position = self._position + offset
            else:
                position = self._opener.size(self._path) + offset
        except Exception as error:
            self._fail(error)
            return self._position
        self._position = max(0, position)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(Exception):
                file.close()

    def __enter__(self) -> GuardedFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _as_store_error(error: BaseException, path: str) -> DataStoreError:
    """The DataStoreError for a failure while GDAL read ``path``."""
    import rasterio.errors

    from .errors import translate_errors

    if isinstance(error, DataStoreError):
        return error
    if isinstance(error, FileNotFoundError) and not isinstance(error.__cause__, Exception):
        return DataNotFoundError(f"no GeoTIFF file at {path!r}")
    if isinstance(error, rasterio.errors.RasterioError):
        return DataStoreError(f"cannot read {path!r} as GeoTIFF: {error}")
    try:
        with translate_errors("", None):
            raise error
    except DataStoreError as translated:
        translated.message = f"cannot read {path!r}: {translated.message}"
        return translated
    except BaseException:
        return DataStoreError(f"cannot read {path!r}: {type(error).__name__}: {error}")
    raise AssertionError("unreachable")


def read_window(
    opener: FsspecOpener,
    path: str,
    band: int,
    window: Any,
    *,
    overview_level: int | None = None,
    masked: bool = False,
) -> Any:
    """Band ``band`` (1-based) of ``path`` within ``window``; opened, read and closed here."""
    import rasterio

    with (
        opener.reading(path),
        rasterio.Env(**GDAL_REMOTE_ENV),
        rasterio.open(path, opener=opener, overview_level=overview_level) as dataset,
    ):
        return dataset.read(band, window=window, masked=masked)
