"""Service answers -> arrays and datasets.

Process API answers (GeoTIFF, or zlib-compressed raw samples) become arrays with the data
mask applied; catalog acquisition times and regular periods become the time axis; a cube
request becomes a lazy dataset whose chunks are computed by a chunk function when read.
The spatial grid is exactly the requested bbox at spatial_res; chunks are tiles of
``tile_size`` pixels, and the tiles at the right and bottom edges are smaller.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import ServiceError

from .config import SAMPLE_TYPES, CubeRequest, TimeSlice, VariableSpec

if TYPE_CHECKING:
    import requests
    import xarray

    from eostores.schema import TimePeriod, TimeRange

__all__ = [
    "build_dataset",
    "dask_chunks",
    "decode_samples",
    "masked_bands",
    "merge_acquisitions",
    "raw_samples",
    "regular_slices",
    "regular_step_bound",
]

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_ONE_MICROSECOND = timedelta(microseconds=1)


def decode_samples(
    response: requests.Response, width: int, height: int, bands: int, sample_type: str
) -> np.ndarray:
    """The answer as an array (height, width, bands) of the sample type's dtype.

    GeoTIFF answers are decoded with sentinelhub-py (tifffile); ``application/octet-stream``
    answers are :func:`raw_samples`.
    """
    from sentinelhub import MimeType
    from sentinelhub.decoding import decode_data

    dtype = np.dtype(SAMPLE_TYPES[sample_type])
    content = response.content
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    url = getattr(response, "url", None)
    if content_type in ("image/tiff", "image/geotiff") or content[:4] in _TIFF_MAGIC:
        try:
            array = np.asarray(decode_data(content, MimeType.TIFF))
        except Exception as error:  # tifffile raises many kinds on a broken file
            raise ServiceError(
                f"the Process API answer is not a readable GeoTIFF ({type(error).__name__}: "
                f"{error})",
                url=url,
            ) from None
    elif content_type == "application/octet-stream":
        array = raw_samples(content, response.headers, (height, width, bands), sample_type, url)
    else:
        raise ServiceError(
            f"the Process API answered with content type {content_type or 'none'!r}, expected "
            "image/tiff or application/octet-stream",
            url=url,
        )
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.shape != (height, width, bands):
        raise ServiceError(
            f"the Process API answer has shape {array.shape}, expected {(height, width, bands)}",
            url=url,
        )
    return array.astype(dtype, copy=False)


def raw_samples(
    content: bytes,
    headers: Mapping[str, str],
    shape: tuple[int, int, int],
    sample_type: str,
    url: str | None = None,
) -> np.ndarray:
    """Raw samples of ``shape`` (height, width, bands): zlib-compressed, little-endian, in C
    order, as the Process API answers ``Accept: application/octet-stream``.

    The ``SH-Width``, ``SH-Height``, ``SH-Components`` and ``SH-SampleType`` headers, where
    given, must describe the requested tile; the data must fill it exactly, and is never
    inflated beyond that.
    """
    height, width, bands = shape
    _check_raw_headers(headers, width, height, bands, sample_type, url)
    dtype = np.dtype(SAMPLE_TYPES[sample_type]).newbyteorder("<")
    expected = height * width * bands * dtype.itemsize
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(content, expected + 1)
    except zlib.error as error:
        raise ServiceError(
            f"the Process API's raw answer is not zlib-compressed data ({error})", url=url
        ) from None
    if len(data) != expected or not inflater.eof:
        raise ServiceError(
            f"the Process API's raw answer does not hold exactly {expected} bytes "
            f"({width}x{height} pixels of {bands} {sample_type} samples)",
            url=url,
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _check_raw_headers(
    headers: Mapping[str, str],
    width: int,
    height: int,
    bands: int,
    sample_type: str,
    url: str | None,
) -> None:
    wanted = {
        "SH-Width": str(width),
        "SH-Height": str(height),
        "SH-Components": str(bands),
        "SH-SampleType": SAMPLE_TYPES[sample_type],  # compared as dtypes: AUTO is UINT8
    }
    for name, value in wanted.items():
        given = headers.get(name)
        if given is None:
            continue
        found = given.strip()
        if name == "SH-SampleType":
            found = SAMPLE_TYPES.get(found.upper(), found)
        if found != value:
            raise ServiceError(
                f"the Process API's raw answer has {name} {given!r}, but {width}x{height} "
                f"pixels of {bands} {sample_type} samples were requested",
                url=url,
            )


def masked_bands(samples: np.ndarray, fill_values: Sequence[float | int]) -> np.ndarray:
    """The band samples (all but the last, the data mask) with no-data pixels filled."""
    data = np.array(samples[:, :, :-1], copy=True)
    no_data = samples[:, :, -1] == 0
    if no_data.any():
        for band, fill in enumerate(fill_values):
            data[:, :, band][no_data] = fill
    return data


def regular_slices(time_range: TimeRange, period: TimePeriod) -> list[TimeSlice]:
    """Steps of ``period`` from the start of ``time_range`` until its (inclusive) end.

    Each step covers [start, next start); the last one ends with the range. Steps are
    labelled by their centre.
    """
    import pandas as pd

    assert time_range.start is not None and time_range.end is not None
    stop = time_range.end + _ONE_MICROSECOND  # exclusive end
    if period.unit in ("M", "Y"):
        months = period.count * (12 if period.unit == "Y" else 1)
        offset: Any = pd.DateOffset(months=months)
    else:
        offset = period.to_timedelta()
    slices = []
    start = pd.Timestamp(time_range.start)
    while start < stop:
        following = start + offset
        end = min(following.to_pydatetime(), stop)
        begin = start.to_pydatetime()
        slices.append(TimeSlice(begin + (end - begin) / 2, begin, end - _ONE_MICROSECOND))
        start = following
    return slices


def regular_step_bound(time_range: TimeRange, period: TimePeriod) -> int:
    """How many steps :func:`regular_slices` makes at most, computed without making them.

    Exact for periods of fixed length; for months and years one more where month ends
    shift the steps.
    """
    assert time_range.start is not None and time_range.end is not None
    start, end = time_range.start, time_range.end
    if period.unit in ("M", "Y"):
        months = period.count * (12 if period.unit == "Y" else 1)
        spanned = (end.year - start.year) * 12 + end.month - start.month
        return spanned // months + 1
    return math.ceil((end + _ONE_MICROSECOND - start) / period.to_timedelta())


def merge_acquisitions(times: list[datetime], tolerance: timedelta) -> list[TimeSlice]:
    """One step per group of acquisitions whose gaps are at most ``tolerance``.

    A step is labelled by the middle of its group and requests the group's span widened by
    the tolerance on both sides.
    """
    slices: list[TimeSlice] = []
    group: list[datetime] = []
    for when in sorted(times):
        if group and when - group[-1] > tolerance:
            slices.append(_group_slice(group, tolerance))
            group = []
        group.append(when)
    if group:
        slices.append(_group_slice(group, tolerance))
    return slices


def _group_slice(group: list[datetime], tolerance: timedelta) -> TimeSlice:
    first, last = group[0], group[-1]
    return TimeSlice(first + (last - first) / 2, first - tolerance, last + tolerance)


def build_dataset(
    cube: CubeRequest,
    slices: Sequence[TimeSlice],
    chunk_function: Callable[[tuple[VariableSpec, ...]], Callable[[tuple[int, ...]], Any]],
    *,
    max_workers: int,
    attrs: dict[str, Any],
) -> xarray.Dataset:
    """The lazy dataset of ``cube``: coordinates in memory, data variables fetched per chunk.

    ``chunk_function(variables)`` returns the picklable function that computes a chunk of
    those variables from its index (time, row, column); it is called when the chunk is read.
    """
    from eostores.chunkstore import ChunkArray, ChunkStore

    ydim, xdim = cube.crs.dims
    res = cube.spatial_res
    xs = cube.bbox[0] + (np.arange(cube.width) + 0.5) * res
    ys = cube.bbox[3] - (np.arange(cube.height) + 0.5) * res
    count = len(slices)
    labels = np.array([np.datetime64(s.label, "ms") for s in slices], dtype="datetime64[ms]")
    bounds = np.array(
        [[np.datetime64(s.start, "ms"), np.datetime64(s.end, "ms")] for s in slices],
        dtype="datetime64[ms]",
    ).reshape(count, 2)
    x_attrs, y_attrs = _spatial_attrs(cube)
    arrays = [
        ChunkArray(
            "time",
            ("time",),
            (count,),
            (max(count, 1),),
            "datetime64[ms]",
            data=labels,
            attrs={"standard_name": "time", "bounds": "time_bnds"},
        ),
        ChunkArray(
            ydim, (ydim,), (cube.height,), (cube.height,), "float64", data=ys, attrs=y_attrs
        ),
        ChunkArray(xdim, (xdim,), (cube.width,), (cube.width,), "float64", data=xs, attrs=x_attrs),
    ]
    tile_w, tile_h = cube.tile_size
    chunks = (1, min(tile_h, cube.height), min(tile_w, cube.width))
    shape = (count, cube.height, cube.width)

    if cube.four_d and cube.variables:
        first = cube.variables[0]
        arrays.append(
            ChunkArray(
                "band_data",
                ("time", ydim, xdim, "band"),
                (*shape, len(cube.variables)),
                (*chunks, len(cube.variables)),
                first.dtype,
                get_chunk=chunk_function(cube.variables),
                fill_value=first.fill_value,
                attrs=_four_d_attrs(cube.variables),
            )
        )
    elif not cube.four_d:
        for variable in cube.variables:
            variable_attrs: dict[str, Any] = {
                "units": variable.unit,
                "sample_type": variable.sample_type,
            }
            if variable.resolution_m is not None:
                variable_attrs["native_resolution_m"] = variable.resolution_m
            arrays.append(
                ChunkArray(
                    variable.name,
                    ("time", ydim, xdim),
                    shape,
                    chunks,
                    variable.dtype,
                    get_chunk=chunk_function((variable,)),
                    fill_value=variable.fill_value,
                    attrs=variable_attrs,
                )
            )
    store = ChunkStore(
        arrays,
        attrs=attrs,
        max_workers=max_workers,
        cache_bytes=cube.max_cache_size,
        name=cube.data_id,
    )
    dataset = store.open_dataset(chunks=dask_chunks(cube, count, max_workers))
    # in memory rather than in the store: dask would chunk it like the data variables
    dataset = dataset.assign_coords(time_bnds=(("time", "bnds"), bounds.astype("datetime64[ns]")))
    return _with_crs(dataset, cube)


def dask_chunks(cube: CubeRequest, steps: int, group: int) -> dict[str, int]:
    """Dask chunks spanning up to ``group`` tiles, neighbours in space before time.

    With few threads (dask's default is one per core) each task must fetch several tiles
    at once to keep ``group`` requests in flight; grouping in space first means that
    selecting one time step fetches no other steps unless the area has fewer tiles.
    """
    tile_w, tile_h = cube.tile_size
    ydim, xdim = cube.crs.dims
    along_x = min(math.ceil(cube.width / tile_w), group)
    left = max(1, group // along_x)
    along_y = min(math.ceil(cube.height / tile_h), left)
    left = max(1, left // along_y)
    along_time = max(1, min(steps, left))
    chunks = {"time": along_time, ydim: along_y * tile_h, xdim: along_x * tile_w}
    if cube.four_d:
        chunks["band"] = max(1, len(cube.variables))
    return chunks


def _four_d_attrs(variables: tuple[VariableSpec, ...]) -> dict[str, Any]:
    units = [v.unit for v in variables]
    attrs: dict[str, Any] = {"sample_type": variables[0].sample_type, "band_units": units}
    if len(set(units)) == 1:
        attrs["units"] = units[0]
    return attrs


def _spatial_attrs(cube: CubeRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    if cube.crs.geographic:
        return (
            {"standard_name": "longitude", "units": "degrees_east", "long_name": "longitude"},
            {"standard_name": "latitude", "units": "degrees_north", "long_name": "latitude"},
        )
    return (
        {"standard_name": "projection_x_coordinate", "units": "m", "long_name": "x"},
        {"standard_name": "projection_y_coordinate", "units": "m", "long_name": "y"},
    )


def _with_crs(dataset: xarray.Dataset, cube: CubeRequest) -> xarray.Dataset:
    """Add the CF grid mapping variable ``spatial_ref`` and the band names of four_d."""
    import pyproj
    import xarray as xr

    crs = pyproj.CRS.from_epsg(cube.crs.epsg)
    grid_mapping = xr.DataArray(0, attrs={**crs.to_cf(), "spatial_ref": crs.to_wkt()})
    dataset = dataset.assign_coords(spatial_ref=grid_mapping)
    if cube.four_d and cube.variables:
        dataset = dataset.assign_coords(band=("band", cube.band_names))
    for name in dataset.data_vars:
        dataset[name].attrs["grid_mapping"] = "spatial_ref"
    return dataset
