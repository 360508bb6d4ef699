"""The regular lon/lat pyramid of the cubes, and the mapping of grid points onto it.

Level 0 is 8192 x 4032 pixels of 0.0439453125 degrees between latitudes +-88.59375 (rows
run north to south); each level halves both axes, down to level 4. A cube covers the
pixels whose cells overlap its bbox, longitudes in the bbox's convention (-180..180 or
0..360, so a box across the antimeridian is one window).

The products carry the latitude and longitude of each of their grid points (points of the
SMOS discrete global grid, ISEA 4H9). A pixel takes the value of the point nearest to its
centre, measured on the sphere, when that point is within ``MAX_POINT_DISTANCE_KM``; this
is computed from the points of each product, so no lookup table of the grid is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eostores.errors import InvalidParameterError

from .config import (
    DGG_NUM_GRID_POINTS,
    EARTH_RADIUS_KM,
    LEVEL0_HEIGHT,
    LEVEL0_RES,
    LEVEL0_WIDTH,
    MAX_POINT_DISTANCE_KM,
    NUM_LEVELS,
    TILE_HEIGHT,
    TILE_WIDTH,
    Y_MAX,
)

__all__ = [
    "PointIndex",
    "Window",
    "grid_point_seqnum",
    "level_resolution",
    "level_shape",
    "unit_vectors",
    "valid_points",
    "window_for_bbox",
]

_EDGE_TOLERANCE = 1e-9  # in pixels: a bbox edge this close to a cell edge lies on it


def level_resolution(level: int) -> float:
    """Pixel size in degrees of ``level``."""
    return LEVEL0_RES * (1 << level)


def level_shape(level: int) -> tuple[int, int]:
    """(rows, columns) of the global grid of ``level``."""
    return LEVEL0_HEIGHT >> level, LEVEL0_WIDTH >> level


@dataclass(frozen=True)
class Window:
    """The part of one level's grid a cube covers.

    Columns count from longitude -180 and may run past the last one (longitudes beyond 180
    of a bbox in 0..360), rows count from the northern edge.
    """

    level: int
    row0: int
    rows: int
    col0: int
    cols: int

    @property
    def res(self) -> float:
        return level_resolution(self.level)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    @property
    def tile_shape(self) -> tuple[int, int]:
        """(rows, columns) of a spatial chunk."""
        return max(1, min(TILE_HEIGHT, self.rows)), max(1, min(TILE_WIDTH, self.cols))

    def lat(self) -> np.ndarray:
        """Latitudes of the row centres (north to south)."""
        return Y_MAX - (np.arange(self.row0, self.row0 + self.rows) + 0.5) * self.res

    def lon(self) -> np.ndarray:
        """Longitudes of the column centres, in the bbox's convention."""
        return -180.0 + (np.arange(self.col0, self.col0 + self.cols) + 0.5) * self.res

    def bbox(self) -> tuple[float, float, float, float]:
        """The outer cell edges (xmin, ymin, xmax, ymax)."""
        res = self.res
        return (
            -180.0 + self.col0 * res,
            Y_MAX - (self.row0 + self.rows) * res,
            -180.0 + (self.col0 + self.cols) * res,
            Y_MAX - self.row0 * res,
        )

    def block(self, row_block: int, col_block: int) -> tuple[slice, slice]:
        """Rows and columns (relative to the window) of one spatial chunk."""
        tile_rows, tile_cols = self.tile_shape
        r0, c0 = row_block * tile_rows, col_block * tile_cols
        return slice(r0, min(r0 + tile_rows, self.rows)), slice(c0, min(c0 + tile_cols, self.cols))


def _cells(low: float, high: float) -> tuple[int, int]:
    """First and end (exclusive) index of unit cells overlapping ``(low, high)``."""
    first, end = low, high
    if abs(first - round(first)) < _EDGE_TOLERANCE:
        first = round(first)
    if abs(end - round(end)) < _EDGE_TOLERANCE:
        end = round(end)
    return math.floor(first), math.ceil(end)


def window_for_bbox(level: int, bbox: tuple[float, float, float, float] | None) -> Window:
    """The window of ``level`` covering ``bbox`` (the whole grid for None)."""
    if not 0 <= level < NUM_LEVELS:
        raise InvalidParameterError(
            f"res_level = {level!r}: must be 0 to {NUM_LEVELS - 1}", parameter="res_level"
        )
    rows, cols = level_shape(level)
    if bbox is None:
        return Window(level, 0, rows, 0, cols)
    res = level_resolution(level)
    xmin, ymin, xmax, ymax = bbox
    col0, col_end = _cells((xmin + 180.0) / res, (xmax + 180.0) / res)
    row0, row_end = _cells((Y_MAX - ymax) / res, (Y_MAX - ymin) / res)
    row0, row_end = max(0, row0), min(rows, row_end)
    if row_end <= row0:
        raise InvalidParameterError(
            f"bbox = {list(bbox)}: lies outside the grid, whose latitudes run from {-Y_MAX} "
            f"to {Y_MAX}",
            parameter="bbox",
        )
    return Window(level, row0, row_end - row0, col0, min(col_end - col0, cols))


def grid_point_seqnum(grid_point_id: np.ndarray) -> np.ndarray:
    """The sequence numbers (1..2621442) of SMOS grid point ids.

    Ids count points in ten zones of 262 144 points each, numbered from multiples of a
    million; the first zone's ids are their sequence numbers.
    """
    ids = np.asarray(grid_point_id, dtype=np.int64)
    return np.where(ids < 1_000_000, ids, ids - 737_856 * ((ids - 1) // 1_000_000) + 1)


def valid_points(grid_point_id: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Which points of a product are real grid points with a position (boolean mask)."""
    seqnum = grid_point_seqnum(grid_point_id)
    with np.errstate(invalid="ignore"):
        return (
            (seqnum >= 1)
            & (seqnum <= DGG_NUM_GRID_POINTS)
            & np.isfinite(lat)
            & np.isfinite(lon)
            & (np.abs(lat) <= 90.0)
            & (np.abs(lon) <= 360.0)
        )


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, shape ``(..., 3)``, of latitudes and longitudes in degrees."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=-1)


class PointIndex:
    """Nearest-point look-ups among the grid points of one product."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, max_km: float = MAX_POINT_DISTANCE_KM):
        self.lat = np.asarray(lat, dtype=np.float64)
        self.lon = np.asarray(lon, dtype=np.float64)
        self.size = int(self.lat.size)
        self.nbytes = int(self.lat.nbytes + self.lon.nbytes)
        self.max_km = max_km
        self._max_chord = 2.0 * math.sin(max_km / EARTH_RADIUS_KM / 2.0)

    def _candidates(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Indices of the points that can be nearest to a centre of ``lat`` x ``lon``."""
        reach = math.degrees(self.max_km / EARTH_RADIUS_KM) * 1.01
        south, north = float(np.min(lat)) - reach, float(np.max(lat)) + reach
        near = (self.lat >= south) & (self.lat <= north)
        widest = max(abs(south), abs(north))
        if widest >= 89.0:
            return np.flatnonzero(near)
        reach_lon = reach / math.cos(math.radians(widest))
        west, east = float(np.min(lon)) - reach_lon, float(np.max(lon)) + reach_lon
        if east - west >= 360.0:
            return np.flatnonzero(near)
        offset = (self.lon - west) % 360.0
        return np.flatnonzero(near & (offset <= east - west))

    def nearest(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Index of the point nearest to each of the 1-D ``lat`` x ``lon`` pixel centres.

        Shape ``(lat.size, lon.size)``; -1 where no point is within the distance.
        """
        from scipy.spatial import cKDTree

        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        shape = (lat.size, lon.size)
        found = np.full(shape, -1, dtype=np.int64)
        candidates = self._candidates(lat, lon) if self.size and lat.size and lon.size else []
        if len(candidates) == 0:
            return found
        tree = cKDTree(unit_vectors(self.lat[candidates], self.lon[candidates]))
        lat2d, lon2d = np.meshgrid(lat, lon, indexing="ij")
        _, index = tree.query(
            unit_vectors(lat2d.ravel(), lon2d.ravel()),
            k=1,
            distance_upper_bound=self._max_chord,
        )
        index = np.asarray(index, dtype=np.int64).reshape(shape)
        hit = index < len(candidates)
        found[hit] = candidates[index[hit]]
        return found
