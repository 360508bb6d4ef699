"""An equal-area grid of points standing in for the SMOS discrete global grid.

The real grid (ISEA 4H9) has 2 621 442 points about 15 km apart. This one has as many
points, as evenly spread: rows of constant latitude 15 km * sqrt(3)/2 apart, each with as
many equally spaced points as fit at 15 km, every other row shifted by half a spacing.
Points are numbered south to north, west to east, and carry SMOS grid point ids (ten
zones of 262 144 points numbered from multiples of a million).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SPACING_KM", "EmulatedGrid", "emulated_grid", "seqnum_to_grid_point_id"]

EARTH_RADIUS_KM = 6371.0
SPACING_KM = 15.0
ZONE_SIZE = 262_144


def seqnum_to_grid_point_id(seqnum: np.ndarray) -> np.ndarray:
    """SMOS grid point ids of sequence numbers 1..2621442 (the inverse of the documented
    id -> sequence number rule)."""
    seqnum = np.asarray(seqnum, dtype=np.int64)
    zone = (seqnum - 2) // ZONE_SIZE
    within = seqnum - 1 - ZONE_SIZE * zone
    return np.where(seqnum <= ZONE_SIZE + 1, seqnum, zone * 1_000_000 + within).astype(np.uint32)


@dataclass(frozen=True)
class EmulatedGrid:
    """All points: latitudes and longitudes (degrees), unit vectors and grid point ids."""

    lat: np.ndarray
    lon: np.ndarray
    xyz: np.ndarray
    ids: np.ndarray

    @property
    def size(self) -> int:
        return int(self.lat.size)


@functools.lru_cache(maxsize=1)
def emulated_grid() -> EmulatedGrid:
    """The grid (computed once per process, about 50 MB)."""
    row_step = SPACING_KM * math.sqrt(3.0) / 2.0 / EARTH_RADIUS_KM  # radians
    rows = int(math.pi / row_step)
    row_step = math.pi / rows
    lats, lons = [], []
    for row in range(rows):
        phi = -math.pi / 2 + (row + 0.5) * row_step
        count = max(1, round(2 * math.pi * EARTH_RADIUS_KM * math.cos(phi) / SPACING_KM))
        step = 360.0 / count
        shift = 0.5 * step if row % 2 else 0.0
        lons.append(-180.0 + shift + step * np.arange(count))
        lats.append(np.full(count, math.degrees(phi)))
    lat = np.concatenate(lats)
    lon = np.concatenate(lons)
    lon = np.where(lon >= 180.0, lon - 360.0, lon)
    phi, lam = np.radians(lat), np.radians(lon)
    xyz = np.stack(
        [np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1
    ).astype(np.float32)
    ids = seqnum_to_grid_point_id(np.arange(1, lat.size + 1))
    return EmulatedGrid(lat.astype(np.float32), lon.astype(np.float32), xyz, ids)
