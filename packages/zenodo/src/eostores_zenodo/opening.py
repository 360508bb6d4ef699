"""Opening record files without downloading them: HTTP range reads per format.

NetCDF4/HDF5 goes through h5netcdf, zipped Zarr through zarr over the zip's central
directory, GeoTIFF/COG through rasterio (all reading from :class:`RecordFileSystem`).
Feature collections cannot be read in parts: they are fetched whole, checked against the
record's md5, and parsed.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eostores.errors import ServiceError

from .catalog import FileFormat, RecordFile
from .errors import must_preload
from .remote import RecordFileSystem

__all__ = [
    "ZipContents",
    "fetch_verified",
    "inspect_zip",
    "open_dataset",
    "open_vector",
]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZARR_MARKERS = ("zarr.json", ".zgroup", ".zmetadata")


@dataclass(frozen=True)
class ZipContents:
    """What a zip's central directory says: its members and what they look like."""

    names: tuple[str, ...]
    zarr_root: str | None

    @property
    def shapefiles(self) -> tuple[str, ...]:
        return tuple(name for name in self.names if name.lower().endswith(".shp"))


def inspect_zip(fs: RecordFileSystem, key: str) -> ZipContents:
    """Read a zip's central directory (a few range requests at the end of the file)."""
    import zipfile

    try:
        with fs.open(key, "rb") as file, zipfile.ZipFile(file) as zf:
            names = tuple(info.filename for info in zf.infolist())
    except zipfile.BadZipFile as error:
        raise ServiceError(f"{key!r} is not a readable zip archive: {error}") from None
    return ZipContents(names, _zarr_root(names))


def _zarr_root(names: tuple[str, ...]) -> str | None:
    """The shallowest folder holding zarr group metadata, if any ("" for the top)."""
    roots = [posixpath.dirname(name) for name in names if posixpath.basename(name) in _ZARR_MARKERS]
    if not roots:
        return None
    return min(roots, key=lambda root: (root.count("/") if root else -1, root))


def open_dataset(
    fs: RecordFileSystem,
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
        return _open_netcdf(fs, file.key, params)
    if fmt.format_id == "geotiff":
        from eostores.fs.formats import get_handler

        return get_handler("geotiff").open(fs, file.key, data_type, params)
    contents = zip_contents or inspect_zip(fs, file.key)
    if contents.zarr_root is None:
        raise must_preload(file.key, "the zip archive holds no Zarr")
    return _open_zipped_zarr(fs, file.key, contents.zarr_root, params)


def _open_netcdf(fs: RecordFileSystem, key: str, params: Mapping[str, Any]) -> Any:
    import xarray as xr

    from eostores.fs.xarray_params import xarray_open_kwargs

    source = fs.open(key, "rb")
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


def _open_zipped_zarr(fs: RecordFileSystem, key: str, root: str, params: Mapping[str, Any]) -> Any:
    from fsspec.implementations.zip import ZipFileSystem

    from eostores.fs.formats import get_handler

    zip_fs = ZipFileSystem(fo=fs.open(key, "rb"))
    own = {k: v for k, v in params.items() if k not in ("variable_names", "bbox", "time_range")}
    return get_handler("zarr").open(zip_fs, root, "dataset", own)


# --------------------------------------------------------------------------- whole files


def fetch_verified(fs: RecordFileSystem, file: RecordFile) -> bytes:
    """The whole file, checked against the record's md5 checksum."""
    data = fs.cat_file(file.key)
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


def open_vector(
    fs: RecordFileSystem, file: RecordFile, fmt: FileFormat, params: Mapping[str, Any]
) -> Any:
    """Read a feature collection (GeoJSON, zipped shapefile, GeoPackage, CSV) whole."""
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
        local = Path(scratch) / posixpath.basename(file.key)
        local.write_bytes(data)
        return read_vector(str(local), params, file.key, **kwargs)
