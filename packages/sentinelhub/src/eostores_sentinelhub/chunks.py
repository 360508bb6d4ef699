"""The chunk function of a cube: one Process API request per tile, under an error policy."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from eostores.errors import (
    AuthenticationError,
    DataStoreError,
    DataStoreTimeoutError,
    ServiceError,
)
from eostores.http import call_deadline

from .api import api_for, process_payload
from .catalog import dataset_info
from .config import ConnectionSpec, CubeRequest, TimeSlice, VariableSpec
from .convert import decode_samples, masked_bands

__all__ = ["ChunkRequester", "SentinelHubChunkWarning"]

logger = logging.getLogger("eostores.sentinelhub")


class SentinelHubChunkWarning(UserWarning):
    """A chunk request failed and the chunk was filled (error_policy 'warn')."""


@dataclass(frozen=True)
class ChunkRequester:
    """The chunk function of some variables: a picklable callable making the chunk's request.

    Edge tiles are requested at their own, smaller size, and their bbox ends exactly on
    the cube's.
    """

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
        """The Process API request body of chunk ``index``."""
        info = dataset_info(self.cube.data_id)
        assert info is not None
        bbox, width, height = self.region(index)
        time_slice = self.slices[index[0]]
        return process_payload(
            info.data_collection(self.cube.collection_id),
            bbox=bbox,
            epsg=self.cube.crs.epsg,
            size=(width, height),
            time_interval=None if self.timeless else (time_slice.start, time_slice.end),
            mosaicking_order=None if self.timeless else self.cube.mosaicking_order,
            upsampling=self.cube.upsampling,
            downsampling=self.cube.downsampling,
            bands=[v.name for v in self.variables],
            units=[v.unit for v in self.variables],
            sample_type=self.sample_type,
        )

    def __call__(self, index: tuple[int, ...]) -> np.ndarray:
        _, width, height = self.region(index)
        try:
            with call_deadline(self.connection.http.deadline):
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
