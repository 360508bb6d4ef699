"""GeoTIFF and Cloud-Optimized GeoTIFF, read lazily through rioxarray on any fsspec filesystem.

Each band becomes one 2-D ``(y, x)`` variable with the ``spatial_ref`` coordinate, so that
``dataset.rio.crs`` gives the CRS. Band names: when every band has a distinct, non-empty
description (the GDAL band description, e.g. ``"red"``), the descriptions are the variable
names; otherwise the variables are ``band_1`` ... ``band_N``. The variable's ``band``
attribute holds the 1-based band number in either case.

Local files are opened by path; files on other filesystems through fsspec, so that only
the byte ranges of the dask chunks read are fetched (HTTP range requests, S3 ranged GETs;
``tile_size`` sets the chunks, the filesystem's ``block_size`` storage option the request
size). As a multi-level dataset, level 0 is the full resolution and level ``i`` the
overview ``i - 1``.
"""

from __future__ import annotations

import atexit
import io
import posixpath
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DataNotFoundError, DataStoreError, InvalidParameterError
from .formats import FormatHandler
from .netcdf import is_local

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..schema import JsonObjectSchema

_DEFAULT_CHUNK = 512
# GDAL must not look for sidecar files (.aux.xml, .msk, .ovr) next to remote files while
# opening them: each probe would be a request.
_REMOTE_GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


@dataclass(frozen=True)
class RasterInfo:
    """What the header of a GeoTIFF says: bands, size, tiling and overviews."""

    band_names: tuple[str, ...]
    width: int
    height: int
    block_width: int
    block_height: int
    num_overviews: int


def band_names(descriptions: tuple[str | None, ...]) -> tuple[str, ...]:
    """The variable names of the bands (see the module docstring for the rule)."""
    cleaned = [(d or "").strip() for d in descriptions]
    if all(cleaned) and len(set(cleaned)) == len(cleaned):
        return tuple(cleaned)
    return tuple(f"band_{i + 1}" for i in range(len(descriptions)))


class GeoTiffHandler(FormatHandler):
    format_id = "geotiff"
    data_types = ("dataset", "mldataset")
    extensions = (".tif", ".tiff", ".geotiff", ".cog")

    def get_open_params_schema(self, data_type: str) -> JsonObjectSchema:
        from ..schema import (
            JsonArraySchema,
            JsonBooleanSchema,
            JsonComplexSchema,
            JsonIntegerSchema,
            JsonNullSchema,
            JsonObjectSchema,
            JsonStringSchema,
            bbox_schema,
            variable_names_schema,
        )

        positive = JsonIntegerSchema(minimum=1)
        properties = dict(
            variable_names=variable_names_schema(
                description="Band names to include (band_1 ... band_N, or the band "
                "descriptions when every band has a distinct one). null (the default) "
                "means all bands; an empty list means none."
            ),
            bbox=bbox_schema(
                crs_units="units",
                description="xmin, ymin, xmax, ymax in the units of the file's CRS; "
                "selects the pixels whose centres lie inside.",
            ),
            tile_size=JsonComplexSchema(
                any_of=[positive, JsonArraySchema(items=[positive, positive])],
                title="Dask chunk size in pixels: one number or [width, height]",
                description="Default: a multiple of the file's internal tiling near 512.",
            ),
            chunks=JsonObjectSchema(
                properties=dict(
                    x=JsonComplexSchema(
                        any_of=[JsonIntegerSchema(minimum=-1), JsonStringSchema(enum=["auto"])]
                    ),
                    y=JsonComplexSchema(
                        any_of=[JsonIntegerSchema(minimum=-1), JsonStringSchema(enum=["auto"])]
                    ),
                ),
                additional_properties=False,
                title="Dask chunk sizes along x and y (overrides tile_size)",
            ),
            masked=JsonBooleanSchema(
                default=True, title="Replace the nodata value with NaN (as floats)"
            ),
        )
        if data_type == "dataset":
            properties["overview_level"] = JsonComplexSchema(
                any_of=[JsonIntegerSchema(minimum=0), JsonNullSchema()],
                default=None,
                title="Read this overview instead of the full resolution",
                description="0 is the finest overview; null (the default) the full resolution.",
            )
        return JsonObjectSchema(properties=properties, additional_properties=False)

    def open(self, fs: AbstractFileSystem, path: str, data_type: str, params: Mapping) -> Any:
        info = read_raster_info(fs, path)
        if data_type == "mldataset":
            from ..mldataset import LazyMultiLevelDataset

            return LazyMultiLevelDataset(
                GeoTiffLevelOpener(fs, path, info, dict(params)),
                info.num_overviews + 1,
                ds_id=posixpath.basename(path.rstrip("/")),
            )
        overview = params.get("overview_level")
        if overview is not None and not 0 <= overview < info.num_overviews:
            allowed = f"0 to {info.num_overviews - 1}" if info.num_overviews else "none"
            raise InvalidParameterError(
                f"the file has no overview {overview}; allowed: {allowed}",
                parameter="overview_level",
            )
        return open_geotiff(fs, path, info, params, overview)


@dataclass
class GeoTiffLevelOpener:
    """Opens level ``i`` of a GeoTIFF multi-level dataset (picklable)."""

    fs: Any
    path: str
    info: RasterInfo
    params: dict[str, Any]

    def __call__(self, level: int) -> Any:
        return open_geotiff(
            self.fs, self.path, self.info, self.params, None if level == 0 else level - 1
        )


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


def _rasterio_source(fs: AbstractFileSystem, path: str) -> tuple[str, dict[str, Any]]:
    """The path and ``rasterio.open`` keywords for ``path`` on ``fs``."""
    if is_local(fs):
        return path, {}
    return path, {"opener": FsspecOpener(fs)}


def _check_exists(fs: AbstractFileSystem, path: str) -> None:
    # info() rather than exists(): over HTTP, exists() starts downloading the file.
    try:
        fs.info(path)
    except FileNotFoundError:
        raise DataNotFoundError(f"no GeoTIFF file at {path!r}") from None


def read_raster_info(fs: AbstractFileSystem, path: str) -> RasterInfo:
    """Read the header of the GeoTIFF at ``path`` (no pixel data)."""
    import rasterio

    _check_exists(fs, path)
    source, kwargs = _rasterio_source(fs, path)
    env = {} if is_local(fs) else _REMOTE_GDAL_ENV
    try:
        with rasterio.Env(**env), rasterio.open(source, **kwargs) as dataset:
            block_height, block_width = dataset.block_shapes[0]
            return RasterInfo(
                band_names=band_names(dataset.descriptions),
                width=dataset.width,
                height=dataset.height,
                block_width=block_width,
                block_height=block_height,
                num_overviews=len(dataset.overviews(1)) if dataset.count else 0,
            )
    except rasterio.errors.RasterioError as error:
        raise DataStoreError(f"cannot read {path!r} as GeoTIFF: {error}") from error


def _chunks(info: RasterInfo, params: Mapping) -> dict[str, Any]:
    if params.get("chunks"):
        chunks = dict(params["chunks"])
    elif params.get("tile_size") is not None:
        from ..mldataset import normalize_tile_size

        width, height = normalize_tile_size(params["tile_size"])
        chunks = {"x": width, "y": height}
    else:
        chunks = {
            "x": _block_multiple(info.block_width, info.width),
            "y": _block_multiple(info.block_height, info.height),
        }
    return {"band": 1, **chunks}


def _block_multiple(block: int, size: int) -> int:
    """A chunk size of whole blocks near the default, at most the image size."""
    return min(size, block * max(1, round(_DEFAULT_CHUNK / block)))


def open_geotiff(
    fs: AbstractFileSystem,
    path: str,
    info: RasterInfo,
    params: Mapping,
    overview_level: int | None = None,
) -> Any:
    """Open the GeoTIFF lazily as a dataset of one variable per band."""
    import rasterio
    import rioxarray
    import xarray as xr

    from .subset import apply_common_params

    source, kwargs = _rasterio_source(fs, path)
    env = {} if is_local(fs) else _REMOTE_GDAL_ENV
    try:
        with rasterio.Env(**env):
            array = rioxarray.open_rasterio(
                source,
                chunks=_chunks(info, params),
                masked=params.get("masked", True),
                overview_level=overview_level,
                **kwargs,
            )
    except rasterio.errors.RasterioError as error:
        raise DataStoreError(f"cannot read {path!r} as GeoTIFF: {error}") from error
    attrs = {k: v for k, v in array.attrs.items() if k != "long_name"}
    variables = {}
    for index, name in enumerate(info.band_names):
        band = array.isel(band=index, drop=True)
        band.attrs = {**attrs, "band": index + 1}
        if name != f"band_{index + 1}":
            band.attrs["long_name"] = name
        band.encoding = dict(array.encoding)
        variables[name] = band
    dataset = xr.Dataset(variables)
    dataset.set_close(array.close)
    return apply_common_params(dataset, params)


# --------------------------------------------------------------------------- rasterio openers
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
