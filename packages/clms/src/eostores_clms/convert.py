"""The files of an extracted CLMS result as one normalised, lazily read xarray.Dataset.

GeoTIFF tiles (the EEA packs large products as 100 km tiles named ``..._E##N##_...``) are
placed into one grid by their geotransforms, without resampling: every output pixel is
the pixel of exactly one tile, and grid cells no tile covers are NaN. Tiles must share
CRS, resolution, band count and pixel alignment. Bands become variables named by their
descriptions (``band_1`` ... otherwise), nodata becomes NaN. A NetCDF result is opened
as it is. Every dataset gets ``x``/``y`` (or ``lon``/``lat``) coordinates of pixel
centres, the ``spatial_ref`` grid mapping and, when the product has a reference date and
no time axis of its own, a ``time`` axis of length one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eostores.errors import ServiceError

from .config import STORE_ID

__all__ = ["RASTER_SUFFIXES", "open_result", "result_files", "tile_key"]

RASTER_SUFFIXES = (".tif", ".tiff")
NETCDF_SUFFIXES = (".nc", ".nc4")
#: Chunk edge of the written Zarr arrays, in pixels.
CHUNK = 1024
_TILE_NAME = re.compile(r"(?<![A-Za-z0-9])E(\d{2,3})N(\d{2,3})(?![0-9])")
_ALIGNMENT_TOLERANCE = 1e-6
_KEPT_ENCODING = ("dtype", "_FillValue", "units", "calendar")


def tile_key(name: str) -> tuple[int, int] | None:
    """``(easting, northing)`` of an EEA grid tile name such as ``IMD_2018_E40N21_03035.tif``."""
    match = _TILE_NAME.search(name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def result_files(folder: Path) -> list[Path]:
    """The data files (GeoTIFF, NetCDF) below an extracted result, in name order."""
    suffixes = RASTER_SUFFIXES + NETCDF_SUFFIXES
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def _failure(message: str, data_id: str | None) -> ServiceError:
    return ServiceError(message, store_id=STORE_ID, data_id=data_id)


def open_result(
    files: Sequence[Path],
    *,
    data_id: str | None = None,
    reference_time: str | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Any:
    """One dataset of the result ``files`` (see the module docstring)."""
    rasters = [f for f in files if f.suffix.lower() in RASTER_SUFFIXES]
    netcdfs = [f for f in files if f.suffix.lower() in NETCDF_SUFFIXES]
    if not rasters and not netcdfs:
        raise _failure("the result archive holds no GeoTIFF or NetCDF file", data_id)
    if rasters and netcdfs:
        raise _failure(
            "the result archive mixes GeoTIFF and NetCDF files; cannot make one dataset",
            data_id,
        )
    if netcdfs:
        dataset = _open_netcdfs(netcdfs, data_id)
    else:
        if len(rasters) > 1:
            untiled = [f.name for f in rasters if tile_key(f.name) is None]
            if untiled:
                raise _failure(
                    f"the result holds {len(rasters)} GeoTIFF files, of which "
                    f"{', '.join(untiled[:5])} carry no E##N## tile name; cannot merge them",
                    data_id,
                )
        dataset = merge_tiles(rasters, data_id=data_id)
    dataset = _with_time(dataset, reference_time)
    dataset.attrs.update(dict(attrs or {}))
    return dataset


def _open_netcdfs(paths: Sequence[Path], data_id: str | None) -> Any:
    import xarray as xr

    try:
        if len(paths) == 1:
            dataset = xr.open_dataset(paths[0], engine="h5netcdf", chunks={})
        else:
            dataset = xr.open_mfdataset(
                paths, engine="h5netcdf", combine="by_coords", chunks={}, data_vars="minimal"
            )
    except (OSError, ValueError) as error:
        raise _failure(f"cannot read the NetCDF result: {error}", data_id) from None
    for variable in dataset.variables.values():  # HDF5 filters and chunks mean nothing to Zarr
        variable.encoding = {k: v for k, v in variable.encoding.items() if k in _KEPT_ENCODING}
    return dataset.chunk({dim: CHUNK for dim in dataset.dims if dim != "time"})


def _with_time(dataset: Any, reference_time: str | None) -> Any:
    import numpy as np

    if reference_time is None or "time" in dataset.dims:
        return dataset
    stamp = np.array([np.datetime64(reference_time, "ns")])
    return dataset.expand_dims(time=stamp)


# --------------------------------------------------------------------------- tiles


@dataclass(frozen=True)
class _Tile:
    path: Path
    crs: Any
    left: float
    top: float
    res_x: float
    res_y: float
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    descriptions: tuple[str | None, ...]


def _read_tile(path: Path, data_id: str | None) -> _Tile:
    import rasterio

    try:
        with rasterio.open(path) as src:
            transform = src.transform
            if transform.b != 0 or transform.d != 0 or transform.e >= 0:
                raise _failure(f"tile {path.name!r} is rotated or not north-up", data_id)
            return _Tile(
                path=path,
                crs=src.crs,
                left=transform.c,
                top=transform.f,
                res_x=transform.a,
                res_y=-transform.e,
                width=src.width,
                height=src.height,
                count=src.count,
                dtype=src.dtypes[0],
                nodata=src.nodata,
                descriptions=tuple(src.descriptions),
            )
    except rasterio.errors.RasterioError as error:
        raise _failure(f"cannot read GeoTIFF {path.name!r}: {error}", data_id) from None


def _offset(distance: float, resolution: float, name: str, data_id: str | None) -> int:
    steps = distance / resolution
    rounded = round(steps)
    if abs(steps - rounded) > _ALIGNMENT_TOLERANCE * max(1.0, abs(steps)):
        raise _failure(f"tile {name!r} is not aligned with the grid of the other tiles", data_id)
    return int(rounded)


def merge_tiles(paths: Sequence[Path], *, data_id: str | None = None) -> Any:
    """GeoTIFF tiles of one grid as one lazy dataset (a single file is a grid of one tile).

    Each ``CHUNK`` x ``CHUNK`` block of the result reads the windows of the tiles it
    overlaps, so blocks are regular (as Zarr needs them) and every pixel is read once.
    """
    import dask.array as da
    import numpy as np
    import xarray as xr

    from eostores.fs.geotiff import band_names

    tiles = [_read_tile(path, data_id) for path in paths]
    first = tiles[0]
    for tile in tiles[1:]:
        same = (
            tile.crs == first.crs
            and np.isclose(tile.res_x, first.res_x, rtol=1e-9)
            and np.isclose(tile.res_y, first.res_y, rtol=1e-9)
            and tile.count == first.count
            and tile.dtype == first.dtype
        )
        if not same:
            raise _failure(
                f"tiles {first.path.name!r} and {tile.path.name!r} differ in CRS, "
                "resolution, band count or data type",
                data_id,
            )
    res_x, res_y = first.res_x, first.res_y
    left = min(t.left for t in tiles)
    top = max(t.top for t in tiles)
    placed = [
        _Placed(
            path=str(tile.path),
            row=_offset(top - tile.top, res_y, tile.path.name, data_id),
            col=_offset(tile.left - left, res_x, tile.path.name, data_id),
            height=tile.height,
            width=tile.width,
            nodata=tile.nodata,
        )
        for tile in tiles
    ]
    for index, one in enumerate(placed):
        for other in placed[index + 1 :]:
            if one.overlaps(other):
                raise _failure(
                    f"tiles {Path(one.path).name!r} and {Path(other.path).name!r} overlap",
                    data_id,
                )
    height = max(t.row + t.height for t in placed)
    width = max(t.col + t.width for t in placed)
    covered = sum(t.height * t.width for t in placed)
    masked = covered < height * width or any(t.nodata is not None for t in placed)
    dtype = np.dtype(first.dtype)
    if masked and dtype.kind in "iub":
        dtype = np.dtype("float32") if dtype.itemsize <= 2 else np.dtype("float64")
    fill = np.nan if dtype.kind == "f" else 0

    template = da.zeros((height, width), dtype="uint8", chunks=(CHUNK, CHUNK))
    data_vars = {}
    for band, name in enumerate(band_names(first.descriptions), start=1):
        array = template.map_blocks(
            _read_block, tuple(placed), band, dtype.str, fill, dtype=dtype, name=False
        )
        data_vars[name] = (("y", "x"), array, {"band": band, "grid_mapping": "spatial_ref"})

    x = left + (np.arange(width) + 0.5) * res_x
    y = top - (np.arange(height) + 0.5) * res_y
    wkt = first.crs.to_wkt() if first.crs else ""
    spatial_ref = {
        "crs_wkt": wkt,
        "spatial_ref": wkt,
        "GeoTransform": f"{left} {res_x} 0.0 {top} 0.0 {-res_y}",
    }
    return xr.Dataset(
        data_vars,
        coords={
            "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
            "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
            "spatial_ref": ((), np.int32(0), spatial_ref),
        },
        attrs={"crs": first.crs.to_string() if first.crs else ""},
    )


@dataclass(frozen=True)
class _Placed:
    """A tile's file and its pixel rectangle in the merged grid."""

    path: str
    row: int
    col: int
    height: int
    width: int
    nodata: float | None

    def overlaps(self, other: _Placed) -> bool:
        return (
            self.row < other.row + other.height
            and other.row < self.row + self.height
            and self.col < other.col + other.width
            and other.col < self.col + self.width
        )


def _read_block(
    template: Any,
    tiles: tuple[_Placed, ...],
    band: int,
    dtype: str,
    fill: float,
    block_info: Any = None,
) -> Any:
    """One block of the merged grid: the windows of the tiles it overlaps, ``fill`` else."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    block = np.full((r1 - r0, c1 - c0), fill, dtype=dtype)
    for tile in tiles:
        top, bottom = max(r0, tile.row), min(r1, tile.row + tile.height)
        left, right = max(c0, tile.col), min(c1, tile.col + tile.width)
        if top >= bottom or left >= right:
            continue
        window = Window(left - tile.col, top - tile.row, right - left, bottom - top)
        with rasterio.open(tile.path) as source:
            values = source.read(band, window=window, masked=tile.nodata is not None)
        if np.ma.isMaskedArray(values):
            values = values.astype(dtype).filled(fill)
        block[top - r0 : bottom - r0, left - c0 : right - c0] = values
    return block
