"""The emulated mission: half orbits, their swaths and their products.

SMOS flies a sun-synchronous orbit (inclination 98.44 degrees) about 14.4 times a day; the
archive holds one product per half orbit (south pole to north pole ascending, then back
descending), each covering about 53 minutes and a swath about 600 km wide. Here orbit ``n``
crosses the equator northwards at longitude ``-25 n`` (a fixed great circle, the Earth's
rotation during a pass left out), half orbit ``k`` starts ``k * 50`` minutes after the
first, and the pattern repeats every five days with nodes 5 degrees apart, so that five
days cover the globe.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

__all__ = [
    "EPOCH",
    "HALF_ORBIT",
    "PRODUCT_DURATION",
    "HalfOrbit",
    "half_orbit",
    "half_orbits_between",
]

#: Start of the first product in the archive.
EPOCH = datetime(2010, 1, 15, 0, 0, 0)
HALF_ORBIT = timedelta(minutes=50)
#: Products overlap their neighbours by three minutes, like the real ones.
PRODUCT_DURATION = timedelta(minutes=53)
INCLINATION_DEG = 98.44
NODE_STEP_DEG = -25.0
HALF_SWATH_KM = 300.0
EARTH_RADIUS_KM = 6371.0
_TRACK_STEP_DEG = 0.25


@dataclass(frozen=True)
class HalfOrbit:
    """Half orbit ``k``: when, which direction, and where its swath lies."""

    k: int

    @property
    def orbit(self) -> int:
        return self.k // 2

    @property
    def ascending(self) -> bool:
        return self.k % 2 == 0

    @property
    def start(self) -> datetime:
        return EPOCH + self.k * HALF_ORBIT

    @property
    def end(self) -> datetime:
        return self.start + PRODUCT_DURATION

    @property
    def mid(self) -> datetime:
        return self.start + PRODUCT_DURATION / 2

    @property
    def node_lon(self) -> float:
        return ((NODE_STEP_DEG * self.orbit + 180.0) % 360.0) - 180.0

    def _frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A, B, N): the node direction, the direction 90 degrees along, the orbit normal."""
        lam = math.radians(self.node_lon)
        inc = math.radians(INCLINATION_DEG)
        a = np.array([math.cos(lam), math.sin(lam), 0.0])
        n = np.array([math.sin(lam) * math.sin(inc), -math.cos(lam) * math.sin(inc), math.cos(inc)])
        return a, np.cross(n, a), n

    def _u_range(self) -> tuple[float, float]:
        """Argument of latitude from the start to the end of the half orbit (radians)."""
        return (-math.pi / 2, math.pi / 2) if self.ascending else (math.pi / 2, 3 * math.pi / 2)

    def in_swath(self, xyz: np.ndarray) -> np.ndarray:
        """Which unit vectors ``(n, 3)`` lie in this half orbit's swath."""
        a, b, n = (v.astype(np.float32) for v in self._frame())
        across = xyz @ n
        inside = np.abs(across) <= math.sin(HALF_SWATH_KM / EARTH_RADIUS_KM)
        along_a, along_b = xyz @ a, xyz @ b
        if self.ascending:
            inside &= along_a >= 0
        else:
            inside &= along_a < 0
        return inside & ((along_a != 0) | (along_b != 0))

    def acquisition_fraction(self, xyz: np.ndarray) -> np.ndarray:
        """0..1: when within the product each point was seen."""
        a, b, _ = self._frame()
        u = np.arctan2(xyz @ b, xyz @ a)
        first, _ = self._u_range()
        return np.clip(((u - first) % (2 * math.pi)) / math.pi, 0.0, 1.0)

    @functools.cached_property
    def track(self) -> tuple[np.ndarray, np.ndarray]:
        """Latitudes and longitudes (degrees) of the ground track, every 0.25 degrees."""
        a, b, _ = self._frame()
        first, last = self._u_range()
        u = np.radians(np.arange(math.degrees(first), math.degrees(last) + 1e-9, _TRACK_STEP_DEG))
        points = np.outer(np.cos(u), a) + np.outer(np.sin(u), b)
        lat = np.degrees(np.arcsin(np.clip(points[:, 2], -1, 1)))
        lon = np.degrees(np.arctan2(points[:, 1], points[:, 0]))
        return lat, lon

    def intersects(self, bbox: tuple[float, float, float, float] | None) -> bool:
        """Whether the swath may reach into ``bbox`` (-180..180; False negatives never)."""
        if bbox is None:
            return True
        xmin, ymin, xmax, ymax = bbox
        lat, lon = self.track
        reach = math.degrees(HALF_SWATH_KM / EARTH_RADIUS_KM) + 0.1
        near_lat = (lat >= ymin - reach) & (lat <= ymax + reach)
        cos_lat = np.maximum(np.cos(np.radians(np.minimum(np.abs(lat) + reach, 89.9))), 1e-3)
        reach_lon = reach / cos_lat
        centre = (xmin + xmax) / 2
        offset = np.abs(((lon - centre + 180.0) % 360.0) - 180.0)
        near_lon = offset <= (xmax - xmin) / 2 + reach_lon
        return bool(np.any(near_lat & near_lon))

    def footprint_bbox(self) -> list[float]:
        """The swath's bounding box (the full longitude range when it crosses 180)."""
        lat, lon = self.track
        reach = math.degrees(HALF_SWATH_KM / EARTH_RADIUS_KM)
        south, north = max(-90.0, float(lat.min()) - reach), min(90.0, float(lat.max()) + reach)
        if np.any(np.abs(np.diff(lon)) > 180.0) or north > 80.0 or south < -80.0:
            return [-180.0, south, 180.0, north]
        return [float(lon.min()) - reach, south, float(lon.max()) + reach, north]


def half_orbit(k: int) -> HalfOrbit:
    return HalfOrbit(k)


def half_orbits_between(start: datetime, end: datetime) -> range:
    """The numbers ``k`` of the half orbits whose products overlap ``[start, end]``."""
    step = HALF_ORBIT.total_seconds()
    first = math.floor(((start - EPOCH) - PRODUCT_DURATION).total_seconds() / step)
    last = math.floor((end - EPOCH).total_seconds() / step)
    return range(max(0, first), max(0, last + 1))
