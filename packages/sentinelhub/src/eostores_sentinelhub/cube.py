"""Laying out a cube and fetching its chunks: one Process API request per chunk.

The spatial grid is exactly the requested bbox at spatial_res; chunks are tiles of
``tile_size`` pixels, and the tiles at the right and bottom edges are requested at their
own, smaller size. The time axis is either a regular grid of ``time_period`` steps or the
acquisition times found by a catalog search, merged within ``time_tolerance``.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import (
    AuthenticationError,
    DataStoreError,
    DataStoreTimeoutError,
    ServiceError,
)

from .api import ConnectionSpec, api_for
from .convert import decode_samples, masked_bands
from .evalscript import evalscript
from .schema import CubeRequest, VariableSpec

if TYPE_CHECKING:
    import xarray

    from eostores.schema import TimePeriod, TimeRange

__all__ = [
    "ChunkRequester",
    "SentinelHubChunkWarning",
    "TimeSlice",
    "build_dataset",
    "merge_acquisitions",
    "regular_slices",
]

logger = logging.getLogger("eostores.sentinelhub")

_ONE_MICROSECOND = timedelta(microseconds=1)


class SentinelHubChunkWarning(UserWarning):
    """A chunk request failed and the chunk was filled (error_policy 'warn')."""


@dataclass(frozen=True)
class TimeSlice:
    """One time step: the instant labelling it and the interval requested (both inclusive)."""

    label: datetime
    start: datetime
    end: datetime


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


@dataclass(frozen=True)
class ChunkRequester:
    """The chunk function of one variable: a picklable callable making the chunk's request."""

    connection: ConnectionSpec
    cube: CubeRequest
    variables: tuple[VariableSpec, ...]
    slices: tuple[TimeSlice, ...]
    timeless: bool
    error_policy: str = "fail"

    @property
    def sample_type(self) -> str:
        return self.variables[0].sample_type

    def region(self, index: tuple[int, ...]) -> tuple[tuple[float, float, float, float], int, int]:
        """The bbox, width and height of the tile of chunk ``index`` (time, row, column)."""
        cube = self.cube
        tile_w, tile_h = cube.tile_size
        row, column = index[1], index[2]
        x0, r0 = column * tile_w, row * tile_h
        x1, r1 = min(cube.width, x0 + tile_w), min(cube.height, r0 + tile_h)
        xmin, _, _, ymax = cube.bbox
        res = cube.spatial_res
        bbox = (xmin + x0 * res, ymax - r1 * res, xmin + x1 * res, ymax - r0 * res)
        if x1 == cube.width:
            bbox = (bbox[0], bbox[1], cube.bbox[2], bbox[3])
        if r1 == cube.height:
            bbox = (bbox[0], cube.bbox[1], bbox[2], bbox[3])
        return bbox, x1 - x0, r1 - r0

    def payload(self, index: tuple[int, ...]) -> dict[str, Any]:
        """The Process API request body of chunk ``index``, built with sentinelhub-py."""
        from sentinelhub import CRS, BBox, MimeType, SentinelHubRequest

        from .catalog import dataset_info

        info = dataset_info(self.cube.data_id)
        assert info is not None
        bbox, width, height = self.region(index)
        time_slice = self.slices[index[0]]
        collection = info.data_collection(self.cube.collection_id)
        data = SentinelHubRequest.input_data(
            collection,
            time_interval=None if self.timeless else (time_slice.start, time_slice.end),
            mosaicking_order=None if self.timeless else self.cube.mosaicking_order,
            upsampling=self.cube.upsampling,
            downsampling=self.cube.downsampling,
        )
        if self.connection.output_format == "image/tiff":
            response = SentinelHubRequest.output_response("default", MimeType.TIFF)
        else:
            response = {"identifier": "default", "format": {"type": self.connection.output_format}}
        return SentinelHubRequest.body(
            request_bounds=SentinelHubRequest.bounds(bbox=BBox(bbox, crs=CRS(self.cube.crs.epsg))),
            request_data=[data],
            request_output=SentinelHubRequest.output(responses=[response], size=(width, height)),
            evalscript=evalscript(
                [v.name for v in self.variables], [v.unit for v in self.variables], self.sample_type
            ),
        )

    def __call__(self, index: tuple[int, ...]) -> np.ndarray:
        _, width, height = self.region(index)
        try:
            response = api_for(self.connection).process(self.payload(index))
            samples = decode_samples(
                response, width, height, len(self.variables) + 1, self.sample_type
            )
            data = masked_bands(samples, [v.fill_value for v in self.variables])
        except AuthenticationError:
            raise
        except DataStoreError as error:
            if self.error_policy == "fail":
                if isinstance(error, DataStoreTimeoutError):
                    raise
                raise _as_service_error(error) from None
            if self.error_policy == "warn":
                message = f"chunk {tuple(index)} of {self.cube.data_id!r} filled: {error}"
                logger.warning("%s", message)
                warnings.warn(message, SentinelHubChunkWarning, stacklevel=2)
            data = np.empty((height, width, len(self.variables)), dtype=self.variables[0].dtype)
            for band, variable in enumerate(self.variables):
                data[:, :, band] = variable.fill_value
        if self.cube.four_d:
            return data[np.newaxis]
        return data[np.newaxis, :, :, 0]


def _as_service_error(error: DataStoreError) -> ServiceError:
    if isinstance(error, ServiceError):
        return error
    return ServiceError(
        error.message,
        status=getattr(error, "status", None),
        url=getattr(error, "url", None),
        store_id=error.store_id,
        data_id=error.data_id,
        parameter=error.parameter,
    )


def build_dataset(
    cube: CubeRequest,
    connection: ConnectionSpec,
    slices: list[TimeSlice],
    *,
    timeless: bool,
    error_policy: str,
    attrs: dict[str, Any],
) -> xarray.Dataset:
    """The lazy dataset of ``cube``: coordinates in memory, data variables fetched per chunk."""
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

    def requester(variables: tuple[VariableSpec, ...]) -> ChunkRequester:
        return ChunkRequester(connection, cube, variables, tuple(slices), timeless, error_policy)

    if cube.four_d and cube.variables:
        first = cube.variables[0]
        arrays.append(
            ChunkArray(
                "band_data",
                ("time", ydim, xdim, "band"),
                (*shape, len(cube.variables)),
                (*chunks, len(cube.variables)),
                first.dtype,
                get_chunk=requester(cube.variables),
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
                    get_chunk=requester((variable,)),
                    fill_value=variable.fill_value,
                    attrs=variable_attrs,
                )
            )
    store = ChunkStore(
        arrays,
        attrs=attrs,
        max_workers=connection.max_concurrent_requests,
        cache_bytes=cube.max_cache_size,
        name=cube.data_id,
    )
    dataset = store.open_dataset(
        chunks=dask_chunks(cube, count, connection.max_concurrent_requests)
    )
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
