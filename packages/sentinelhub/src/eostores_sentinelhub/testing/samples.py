"""What the emulated deployment serves: its collections, acquisitions and pixel values.

Pixel values are a known function of the pixel centre (x, y in the request CRS), the
acquisition date and the band (:func:`expected_values`), so that tests can check values
after subsetting and mosaicking, not only shapes.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

__all__ = [
    "BYOC_FOOTPRINT",
    "BYOC_ID",
    "SAMPLE_TYPES",
    "EmulatedCollection",
    "default_collections",
    "expected_values",
    "to_sample_type",
]

BYOC_ID = "byoc-2c8e9f3a-6d4b-4e1f-9a7c-0b5d3e8f1a26"
#: The area the emulated BYOC collection covers (WGS84); the others cover the world.
BYOC_FOOTPRINT = (5.0, 45.0, 15.0, 55.0)
_WORLD = (-180.0, -90.0, 180.0, 90.0)
_EPOCH = date(2000, 1, 1)
SAMPLE_TYPES = {
    "INT8": "int8",
    "UINT8": "uint8",
    "INT16": "int16",
    "UINT16": "uint16",
    "FLOAT32": "float32",
    "AUTO": "uint8",
}


# --------------------------------------------------------------------------- the data model


@dataclass(frozen=True)
class EmulatedCollection:
    """A collection the emulator serves: bands (with allowed units) and acquisitions.

    ``least_cc``: whether the Process API mosaics it by cloud cover (``leastCC``), which
    the service offers for collections with cloud cover metadata only; ``footprint``: the
    area (WGS84 west, south, east, north) its acquisitions cover.
    """

    id: str
    title: str
    bands: Mapping[str, tuple[str, ...]]
    revisit_days: int | None  # None: timeless (DEM)
    first_day: date
    granules: int = 2
    in_catalog: bool = True
    properties: Mapping[str, Any] | None = None
    least_cc: bool = True
    footprint: tuple[float, float, float, float] = _WORLD

    def covers(self, bbox: Sequence[float]) -> bool:
        """Whether the footprint intersects ``bbox`` (WGS84 west, south, east, north; west
        beyond east when it crosses the antimeridian, as STAC allows)."""
        west, south, east, north = self.footprint
        if bbox[1] > north or bbox[3] < south:
            return False
        if bbox[0] <= bbox[2]:
            return bbox[0] <= east and bbox[2] >= west
        return bbox[0] <= east or bbox[2] >= west

    def acquisitions(self, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
        """(time, cloud cover) of the granules acquired within [start, end]."""
        if self.revisit_days is None:
            return []
        first = max(self.first_day, start.date() - timedelta(days=1))
        offset = (first - self.first_day).days % self.revisit_days
        if offset:
            first += timedelta(days=self.revisit_days - offset)
        found = []
        day = first
        while day <= end.date():
            for granule in range(self.granules):
                when = datetime(day.year, day.month, day.day, 10, 0, 0) + timedelta(
                    seconds=7 * granule
                )
                if start <= when <= end:
                    found.append((when, _cloud_cover(day, granule)))
            day += timedelta(days=self.revisit_days)
        return found


def _cloud_cover(day: date, granule: int) -> int:
    return (zlib.crc32(day.isoformat().encode()) + 13 * granule) % 100


def _band_table(*names: str) -> dict[str, tuple[str, ...]]:
    from sentinelhub import DataCollection

    table: dict[str, tuple[str, ...]] = {}
    for name in names:
        definition = getattr(DataCollection, name).value
        for band in (*(definition.bands or ()), *(definition.metabands or ())):
            table.setdefault(band.name, tuple(unit.value for unit in band.units))
    return table


def default_collections() -> list[EmulatedCollection]:
    """The collections a default emulator serves (band tables from the service docs; leastCC
    as each collection's documentation lists it: not for S1, S3 OLCI, S5P, DEM and BYOC)."""
    s1 = {"sar:instrument_mode": "IW", "s1:polarization": "DV", "s1:resolution": "HIGH"}
    return [
        EmulatedCollection(
            "sentinel-1-grd",
            "Sentinel 1 GRD",
            _band_table("SENTINEL1_IW", "SENTINEL1_EW"),
            6,
            date(2014, 10, 3),
            properties=s1,
            least_cc=False,
        ),
        EmulatedCollection(
            "sentinel-2-l1c", "Sentinel 2 L1C", _band_table("SENTINEL2_L1C"), 5, date(2015, 11, 27)
        ),
        EmulatedCollection(
            "sentinel-2-l2a", "Sentinel 2 L2A", _band_table("SENTINEL2_L2A"), 5, date(2016, 11, 1)
        ),
        EmulatedCollection(
            "sentinel-3-olci",
            "Sentinel 3 OLCI",
            _band_table("SENTINEL3_OLCI"),
            1,
            date(2016, 4, 17),
            granules=1,
            least_cc=False,
        ),
        EmulatedCollection(
            "sentinel-3-slstr",
            "Sentinel 3 SLSTR",
            _band_table("SENTINEL3_SLSTR"),
            1,
            date(2016, 4, 17),
            granules=1,
        ),
        EmulatedCollection(
            "sentinel-5p-l2",
            "Sentinel 5P L2",
            _band_table("SENTINEL5P"),
            1,
            date(2018, 4, 30),
            granules=1,
            least_cc=False,
        ),
        EmulatedCollection(
            "landsat-ot-l1", "Landsat 8-9 L1", _band_table("LANDSAT_OT_L1"), 8, date(2013, 3, 18)
        ),
        EmulatedCollection(
            "landsat-ot-l2", "Landsat 8-9 L2", _band_table("LANDSAT_OT_L2"), 8, date(2013, 3, 18)
        ),
        EmulatedCollection(
            "dem",
            "DEM",
            _band_table("DEM"),
            None,
            date(2000, 2, 11),
            in_catalog=False,
            least_cc=False,
        ),
        EmulatedCollection(
            BYOC_ID,
            "My BYOC tiles",
            {"RED": ("DN",), "NIR": ("DN",), "dataMask": ("DN",)},
            2,
            date(2020, 1, 1),
            granules=1,
            least_cc=False,
            footprint=BYOC_FOOTPRINT,
        ),
    ]


# --------------------------------------------------------------------------- pixel values


def _band_key(band: str) -> int:
    return zlib.crc32(band.encode()) % 97


def _fraction(band: str, x: np.ndarray, y: np.ndarray, day: int, geographic: bool) -> np.ndarray:
    """A sawtooth in [0, 1) of the pixel centre, the day number and the band."""
    kx, ky = (1.37, 0.71) if geographic else (1.37e-4, 0.71e-4)
    value = 0.0731 * _band_key(band) + 0.0113 * day + kx * np.asarray(x) + ky * np.asarray(y)
    return np.mod(value, 1.0)


def expected_values(
    band: str,
    x: Any,
    y: Any,
    acquired: date | datetime | None,
    *,
    geographic: bool,
    unit: str | None = None,
    units: Sequence[str] = ("REFLECTANCE", "DN"),
) -> np.ndarray:
    """The value the emulator serves for ``band`` at pixel centres (x, y) in ``unit``.

    ``acquired`` is the date of the acquisition the pixel shows (None for timeless data);
    ``units`` are the band's allowed units (the first is the default). With
    r = frac(0.0731 k(band) + 0.0113 day + kx x + ky y) (kx, ky = 1.37, 0.71 per degree
    or 1.37e-4, 0.71e-4 per metre): REFLECTANCE, LINEAR_POWER, FRACTION... r; DN of a
    band that also has REFLECTANCE round(10000 r), DN-only bands floor(12 r);
    temperatures 200 + 120 r; DEGREES 360 r; METERS -50 + 3000 r.
    """
    unit = unit or units[0]
    day = (
        0
        if acquired is None
        else ((acquired.date() if isinstance(acquired, datetime) else acquired) - _EPOCH).days
    )
    r = _fraction(
        band, np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"), day, geographic
    )
    if band == "dataMask":
        return np.ones_like(r)
    if unit == "DN":
        return np.round(r * 10000.0) if "REFLECTANCE" in units else np.floor(r * 12.0)
    if unit in ("BRIGHTNESS_TEMPERATURE", "SURFACE_TEMPERATURE", "KELVIN"):
        return 200.0 + 120.0 * r
    if unit == "DEGREES":
        return 360.0 * r
    if unit == "METERS":
        return -50.0 + 3000.0 * r
    return r


def to_sample_type(values: np.ndarray, sample_type: str) -> np.ndarray:
    """Values as the service delivers them in ``sample_type`` (rounded and clamped)."""
    if sample_type == "FLOAT32":
        return np.asarray(values, dtype="float32")
    if sample_type == "AUTO":
        values = np.asarray(values) * 255.0
    dtype = np.dtype(SAMPLE_TYPES[sample_type])
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)
