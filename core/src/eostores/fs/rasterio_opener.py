"""rasterio reading from any fsspec filesystem, and two workarounds for its opener bridge.

:class:`FsspecOpener` serves a filesystem to GDAL through rasterio's Python-opener
interface, so that only the byte ranges GDAL asks for are fetched.
"""

from __future__ import annotations

import atexit
import io
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["FsspecOpener"]


@dataclass(frozen=True)
class FsspecOpener:
    """Serves an fsspec filesystem to GDAL through rasterio's opener interface.

    Every ``open`` gives a file object of its own, equal only to itself: rasterio keys
    open files by equality, and fsspec files of one path compare equal (the memory
    filesystem even hands out one shared object), so that concurrent datasets of one file
    (its levels, say) would otherwise close each other's files. Directory listings are
    reported empty, so that GDAL neither lists remote directories nor probes for sidecar
    files.
    """

    fs: Any

    def __post_init__(self) -> None:
        _prepare_rasterio_openers()

    def __setstate__(self, state: dict[str, Any]) -> None:
        # unpickled in a dask worker process, before rasterio opens anything there
        object.__setattr__(self, "fs", state["fs"])
        _prepare_rasterio_openers()

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        file = self.fs.open(path, mode, **kwargs)
        if isinstance(file, io.BytesIO):  # shared by all readers: copy it
            file = io.BytesIO(file.getvalue())
        return _DistinctFile(file)

    def isfile(self, path: str) -> bool:
        return self.fs.isfile(path)

    def isdir(self, path: str) -> bool:
        return self.fs.isdir(path)

    def ls(self, path: str) -> list[str]:
        return []

    def size(self, path: str) -> int:
        return self.fs.size(path)

    def modified(self, path: str) -> Any:
        return self.fs.modified(path)

    def rm(self, path: str) -> None:
        raise PermissionError("GeoTIFF files are opened read-only")


class _DistinctFile:
    """A read-only file object that is equal only to itself."""

    def __init__(self, file: Any):
        self._file = file

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> _DistinctFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# Workarounds
#
# Two properties of rasterio's Python-opener bridge (rasterio 1.4) can crash the
# interpreter, and are worked around here once per process:
# - it keeps its registry of openers and open files in context variables, which are per
#   thread: a dataset opened in one thread (a dask worker, a web request) and closed in
#   another fails inside GDAL's close callback. The registry is made process-wide.
# - files still open when the interpreter shuts down are closed by the final garbage
#   collection, when the callback cannot run any more. They are closed by an atexit hook.

_prepare_lock = threading.Lock()
_prepared = False


class _ProcessWideVar:
    """Stands in for a ContextVar: one value for all threads."""

    def __init__(self, value: Any):
        self._value = value

    def get(self, default: Any = None) -> Any:
        return self._value

    def set(self, value: Any) -> None:
        self._value = value


def _prepare_rasterio_openers() -> None:
    """Apply the workarounds above, once per process."""
    global _prepared
    with _prepare_lock:
        if _prepared:
            return
        from contextvars import ContextVar

        from rasterio import _vsiopener

        for name in ("_OPENER_REGISTRY", "_OPEN_FILE_EXIT_STACKS"):
            variable = getattr(_vsiopener, name, None)
            if isinstance(variable, ContextVar):
                try:
                    value = variable.get()
                except LookupError:
                    value = {}
                setattr(_vsiopener, name, _ProcessWideVar(value))
        atexit.register(_close_remote_files)
        _prepared = True


def _close_remote_files() -> None:
    from xarray.backends.file_manager import FILE_CACHE

    for key in list(FILE_CACHE):
        try:
            handle = FILE_CACHE[key]
        except KeyError:
            continue
        # rasterio names datasets opened through an opener /vsiriopener_<id>/...
        if str(getattr(handle, "name", "")).startswith("/vsiriopener_"):
            try:
                del FILE_CACHE[key]
            except KeyError:
                continue
            try:
                handle.close()
            except Exception:
                pass
