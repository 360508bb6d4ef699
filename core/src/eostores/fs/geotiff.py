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

import contextlib
import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DataNotFoundError, DataStoreError, InvalidParameterError
from .formats import FormatHandler, is_local

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..schema import JsonObjectSchema
    from .rasterio_opener import FsspecOpener

_DEFAULT_CHUNK = 512


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
        opener = _opener_for(fs)
        info = read_raster_info(fs, path, opener)
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
        return open_geotiff(fs, path, info, params, overview, opener=opener)


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


@contextlib.contextmanager
def _rasterio_reading(path: str, opener: FsspecOpener | None) -> Iterator[dict[str, Any]]:
    """The ``rasterio.open`` keywords for ``path``, under the GDAL settings for it.

    Local files (``opener=None``) are opened by path, others through the opener; errors
    become DataStoreError. Whatever is opened inside must be closed inside, in this thread.
    """
    import rasterio

    if opener is None:
        try:
            yield {}
        except rasterio.errors.RasterioError as error:
            raise DataStoreError(f"cannot read {path!r} as GeoTIFF: {error}") from error
        return
    from .rasterio_opener import GDAL_REMOTE_ENV

    with opener.reading(path), rasterio.Env(**GDAL_REMOTE_ENV):
        yield {"opener": opener}


def _opener_for(fs: AbstractFileSystem) -> FsspecOpener | None:
    if is_local(fs):
        return None
    from .rasterio_opener import FsspecOpener

    return FsspecOpener(fs)


def _check_exists(fs: AbstractFileSystem, path: str) -> None:
    # info() rather than exists(): over HTTP, exists() starts downloading the file.
    try:
        fs.info(path)
    except FileNotFoundError:
        raise DataNotFoundError(f"no GeoTIFF file at {path!r}") from None


def read_raster_info(
    fs: AbstractFileSystem, path: str, opener: FsspecOpener | None = None
) -> RasterInfo:
    """Read the header of the GeoTIFF at ``path`` (no pixel data)."""
    import rasterio

    _check_exists(fs, path)
    opener = opener or _opener_for(fs)
    with _rasterio_reading(path, opener) as kwargs, rasterio.open(path, **kwargs) as dataset:
        block_height, block_width = dataset.block_shapes[0]
        return RasterInfo(
            band_names=band_names(dataset.descriptions),
            width=dataset.width,
            height=dataset.height,
            block_width=block_width,
            block_height=block_height,
            num_overviews=len(dataset.overviews(1)) if dataset.count else 0,
        )


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
    *,
    opener: FsspecOpener | None = None,
) -> Any:
    """Open the GeoTIFF lazily as a dataset of one variable per band.

    Local files are read through rioxarray's own file handles. Other files are described
    by rioxarray (coordinates, CRS, attributes), closed at once, and each dask chunk is
    read by :func:`~eostores.fs.rasterio_opener.read_window`, which opens, reads and closes
    the file in the thread that computes the chunk.
    """
    import rioxarray
    import xarray as xr

    from .subset import apply_common_params

    opener = opener or _opener_for(fs)
    chunks = _chunks(info, params)
    masked = params.get("masked", True)
    with _rasterio_reading(path, opener) as kwargs:
        array = rioxarray.open_rasterio(
            path,
            chunks=chunks if opener is None else None,
            masked=masked,
            overview_level=overview_level,
            lock=None if opener is None else False,
            **kwargs,
        )
        if opener is not None:
            array.close()
    attrs = {k: v for k, v in array.attrs.items() if k != "long_name"}
    variables = {}
    for index, name in enumerate(info.band_names):
        if opener is None:
            band = array.isel(band=index, drop=True)
        else:
            band = _remote_band(array, opener, path, index + 1, overview_level, masked, chunks)
        band.attrs = {**attrs, "band": index + 1}
        if name != f"band_{index + 1}":
            band.attrs["long_name"] = name
        band.encoding = dict(array.encoding)
        variables[name] = band
    dataset = xr.Dataset(variables)
    if opener is None:
        dataset.set_close(array.close)
    return apply_common_params(dataset, params)


def _remote_band(
    template: Any,
    opener: FsspecOpener,
    path: str,
    band: int,
    overview_level: int | None,
    masked: bool,
    chunks: Mapping[str, Any],
) -> Any:
    """Band ``band`` as a dask-backed DataArray with the coordinates of ``template``."""
    import uuid

    import dask.array
    import numpy as np
    import xarray as xr

    shape = (template.sizes["y"], template.sizes["x"])
    reader = BandReader(opener, path, band, overview_level, masked, template.dtype, shape)
    data = dask.array.from_array(
        reader,
        chunks=(chunks["y"], chunks["x"]),
        lock=False,
        asarray=False,
        fancy=False,
        name=f"geotiff-band-{band}-{uuid.uuid4().hex}",
        meta=np.empty((0, 0), dtype=template.dtype),
    )
    coords = {k: v.variable for k, v in template.coords.items() if "band" not in v.dims}
    coords.pop("band", None)
    return xr.DataArray(data, dims=("y", "x"), coords=coords)


@dataclass(frozen=True)
class BandReader:
    """Reads windows of one band of a remote GeoTIFF, for dask (picklable)."""

    opener: FsspecOpener
    path: str
    band: int
    overview_level: int | None
    masked: bool
    dtype: Any
    shape: tuple[int, int]

    @property
    def ndim(self) -> int:
        return 2

    def __getitem__(self, key: tuple[slice, slice]) -> Any:
        import numpy as np
        from rasterio.windows import Window

        from .rasterio_opener import read_window

        (row_start, row_stop, _), (col_start, col_stop, _) = (
            part.indices(size) for part, size in zip(key, self.shape, strict=True)
        )
        window = Window(col_start, row_start, col_stop - col_start, row_stop - row_start)
        data = read_window(
            self.opener,
            self.path,
            self.band,
            window,
            overview_level=self.overview_level,
            masked=self.masked,
        )
        if self.masked:
            data = np.ma.filled(data.astype(self.dtype), np.nan)
        return np.asarray(data, dtype=self.dtype)
