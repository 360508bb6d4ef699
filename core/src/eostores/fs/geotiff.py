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
from .rasterio_opener import FsspecOpener

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


@contextlib.contextmanager
def _rasterio_reading(fs: AbstractFileSystem, path: str) -> Iterator[dict[str, Any]]:
    """The ``rasterio.open`` keywords for ``path`` on ``fs``, under the GDAL settings for it.

    Local files are opened by path, others through fsspec; rasterio's errors become
    DataStoreError.
    """
    import rasterio

    local = is_local(fs)
    try:
        with rasterio.Env(**({} if local else _REMOTE_GDAL_ENV)):
            yield {} if local else {"opener": FsspecOpener(fs)}
    except rasterio.errors.RasterioError as error:
        raise DataStoreError(f"cannot read {path!r} as GeoTIFF: {error}") from error


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
    with _rasterio_reading(fs, path) as kwargs, rasterio.open(path, **kwargs) as dataset:
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
) -> Any:
    """Open the GeoTIFF lazily as a dataset of one variable per band."""
    import rioxarray
    import xarray as xr

    from .subset import apply_common_params

    with _rasterio_reading(fs, path) as kwargs:
        array = rioxarray.open_rasterio(
            path,
            chunks=_chunks(info, params),
            masked=params.get("masked", True),
            overview_level=overview_level,
            **kwargs,
        )
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
