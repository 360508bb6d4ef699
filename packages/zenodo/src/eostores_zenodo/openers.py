"""Opening record files without downloading them, or whole where they cannot be read in parts.

NetCDF4/HDF5 goes through h5netcdf, zipped Zarr through zarr over the zip's central
directory, GeoTIFF/COG through rasterio, all reading byte ranges of the files' URLs
through an :class:`eostores.rangefs.RangeFileSystem`. Feature collections cannot be read
in parts: they are fetched whole, checked against the record's md5, and parsed.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eostores.errors import DataStoreError, ServiceError

from .config import FileFormat

if TYPE_CHECKING:
    from .catalog import RecordFile

__all__ = [
    "MustPreloadError",
    "RecordFileReader",
    "ZipContents",
    "fetch_verified",
    "inspect_zip",
    "must_preload",
    "open_dataset",
    "open_vector",
]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZARR_MARKERS = ("zarr.json", ".zgroup", ".zmetadata")


class MustPreloadError(DataStoreError):
    """The file cannot be read over HTTP ranges; preloading it is the way."""


def must_preload(key: str, reason: str) -> MustPreloadError:
    """The error for a file that only preloading makes usable, saying how to do it."""
    return MustPreloadError(
        f"{reason}, so it cannot be opened lazily; preload it with "
        f"store.preload_data({key!r}) and open the results from handle.store",
        data_id=key,
    )


@dataclass(frozen=True)
class ZipContents:
    """What a zip's central directory says: its members and what they look like."""

    names: tuple[str, ...]
    zarr_root: str | None


def inspect_zip(fs: Any, file: RecordFile) -> ZipContents:
    """Read a zip's central directory (a few range requests at the end of the file)."""
    import zipfile

    try:
        with _open(fs, file) as source, zipfile.ZipFile(source) as zf:
            names = tuple(info.filename for info in zf.infolist())
    except zipfile.BadZipFile as error:
        raise ServiceError(f"{file.key!r} is not a readable zip archive: {error}") from None
    return ZipContents(names, _zarr_root(names))


def _zarr_root(names: tuple[str, ...]) -> str | None:
    """The shallowest folder holding zarr group metadata, if any ("" for the top)."""
    roots = [posixpath.dirname(name) for name in names if posixpath.basename(name) in _ZARR_MARKERS]
    if not roots:
        return None
    return min(roots, key=lambda root: (root.count("/") if root else -1, root))


def open_dataset(
    fs: Any,
    file: RecordFile,
    fmt: FileFormat,
    data_type: str,
    params: Mapping[str, Any],
    *,
    zip_contents: ZipContents | None = None,
) -> Any:
    """Open a gridded file lazily.

    GeoTIFFs come with the common parameters (``variable_names``, ``bbox``) applied;
    NetCDF and Zarr datasets come whole, for the caller to apply them.
    """
    if fmt.format_id == "netcdf":
        return _open_netcdf(fs, file, params)
    if fmt.format_id == "geotiff":
        from eostores.fs.formats import get_handler

        return get_handler("geotiff").open(fs, file.url, data_type, params)
    contents = zip_contents or inspect_zip(fs, file)
    if contents.zarr_root is None:
        raise must_preload(file.key, "the zip archive holds no Zarr")
    return _open_zipped_zarr(fs, file, contents.zarr_root, params)


def _open(fs: Any, file: RecordFile) -> RecordFileReader:
    """A file object reading ranges of the file; its size is known from the record."""
    source = fs.open(file.url, "rb", size=file.size) if file.size else fs.open(file.url, "rb")
    return RecordFileReader(source, file.key)


class RecordFileReader(io.RawIOBase):
    """A record file read in ranges, for libraries that read one file as a byte stream.

    A file that vanishes from the service while being read raises a
    :class:`~eostores.errors.ServiceError` with status 404 here, not the
    ``FileNotFoundError`` of the range filesystem: a zip filesystem under zarr would take
    that for a missing chunk and fill it with missing values without a word.
    """

    def __init__(self, source: Any, key: str):
        super().__init__()
        self.source = source
        self.key = key

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self.source.read(size)
        except FileNotFoundError as error:
            raise ServiceError(
                f"file {self.key!r} is not available any more: {error}",
                status=404,
                data_id=self.key,
            ) from None

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.source.seek(offset, whence)

    def tell(self) -> int:
        return self.source.tell()

    @property
    def size(self) -> int:
        return self.source.size

    def close(self) -> None:
        self.source.close()
        super().close()

    def __reduce__(self) -> tuple[Any, ...]:
        return RecordFileReader, (self.source, self.key)


def _open_netcdf(fs: Any, file: RecordFile, params: Mapping[str, Any]) -> Any:
    import xarray as xr

    from eostores.fs.xarray_params import xarray_open_kwargs

    key = file.key
    source = _open(fs, file)
    head = source.read(8)
    source.seek(0)
    if head.startswith(b"CDF"):
        source.close()
        raise must_preload(key, "the file is a classic (version 3) NetCDF, not NetCDF4/HDF5")
    if head != _HDF5_SIGNATURE:
        source.close()
        raise ServiceError(f"{key!r} is neither NetCDF4 nor HDF5 (it starts with {head!r})")
    kwargs = xarray_open_kwargs(params)
    kwargs.setdefault("chunks", {})
    if params.get("group"):
        kwargs["group"] = params["group"]
    return xr.open_dataset(source, engine="h5netcdf", **kwargs)


def _open_zipped_zarr(fs: Any, file: RecordFile, root: str, params: Mapping[str, Any]) -> Any:
    from fsspec.implementations.zip import ZipFileSystem

    from eostores.fs.formats import get_handler

    zip_fs = ZipFileSystem(fo=_open(fs, file))
    own = {k: v for k, v in params.items() if k not in ("variable_names", "bbox", "time_range")}
    return get_handler("zarr").open(zip_fs, root, "dataset", own)


# --------------------------------------------------------------------------- whole files


def fetch_verified(fs: Any, file: RecordFile) -> bytes:
    """The whole file, checked against the record's md5 checksum."""
    data = fs.cat_file(file.url)
    algorithm, _, expected = (file.checksum or "").partition(":")
    if algorithm.lower() in hashlib.algorithms_available and expected:
        actual = hashlib.new(algorithm.lower(), data).hexdigest()
        if actual != expected.lower():
            raise ServiceError(
                f"checksum mismatch for {file.key!r}: the record announces "
                f"{algorithm} {expected}, the download has {actual}",
                data_id=file.key,
            )
    return data


def open_vector(fs: Any, file: RecordFile, fmt: FileFormat, params: Mapping[str, Any]) -> Any:
    """Read a feature collection (GeoJSON, zipped shapefile, GeoPackage, CSV) whole."""
    from eostores.paths import safe_filename

    data = fetch_verified(fs, file)
    if fmt.format_id == "csv":
        from .convert import csv_to_geodataframe

        return csv_to_geodataframe(data, params, file.key)
    from eostores.fs.geojson import read_vector

    kwargs: dict[str, Any] = {}
    if params.get("encoding"):
        kwargs["encoding"] = params["encoding"]
    if params.get("layer"):
        kwargs["layer"] = params["layer"]
    with tempfile.TemporaryDirectory(prefix="eostores-zenodo-") as scratch:
        # The key is the service's text: only a harmless name of it touches the disk.
        name = safe_filename(posixpath.basename(file.key.replace("\\", "/")) or "file")
        if not name.lower().endswith(fmt.suffixes):
            name += fmt.suffixes[0]
        local = Path(scratch) / name
        local.write_bytes(data)
        return read_vector(str(local), params, file.key, **kwargs)
