"""The emulator's sample acquisitions and the known functions their pixel values follow.

Sentinel-2: two tiles in neighbouring UTM zones (32N and 33N) that overlap at 12 degrees
east, acquired every ``DAY_STEP`` days. One tile-day has an older processing version
beside the current one and one a newer but deprecated one; their values carry an offset
(:data:`VERSION_OFFSETS`) so that a test sees which product was read. Reflectances are a
linear function of longitude and latitude (:func:`s2_reflectance`) plus terms for the
day, the band and the version.

Sentinel-3 OLCI: a rotated, slightly curved swath near the tiles with full-resolution
latitude/longitude arrays; radiances follow :func:`olci_radiance`. The first day has the
same acquisition twice, in near-real-time (``NR``, offset ``NR_OFFSET``) and non-time-
critical (``NT``) timeliness.

Sentinel-1 GRD: a small swath in radar geometry whose geolocation is a coarse grid of
ground control points; amplitudes follow :func:`s1_amplitude`. Each polarisation is a
component product whose group is named as EOPF names it (:func:`s1_component`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

import numpy as np

__all__ = [
    "DAY_STEP",
    "FIRST_DAY",
    "NR_OFFSET",
    "S2_TILES",
    "VERSION_OFFSETS",
    "Acquisition",
    "S2Tile",
    "Swath",
    "acquisitions",
    "olci_radiance",
    "s1_amplitude",
    "s1_component",
    "s2_classification",
    "s2_probability",
    "s2_reflectance",
]

FIRST_DAY = datetime(2025, 6, 1, 10, 15, 0)
DAY_STEP = 3
#: Offsets of the values of each processing version (the current one has none).
VERSION_OFFSETS = {"05.10": 0.05, "05.11": 0.0, "05.12": 0.1}
CURRENT_VERSION = "05.11"
#: Offset of the radiances of the near-real-time copy of an OLCI acquisition.
NR_OFFSET = 5.0

S2_BANDS = (
    "b01", "b02", "b03", "b04", "b05", "b06", "b07", "b08", "b8a", "b09", "b10", "b11", "b12",
)  # fmt: skip
#: Bands per resolution group of the EOPF Sentinel-2 products.
S2_L2A_GROUPS = {
    10: ("b02", "b03", "b04", "b08"),
    20: ("b01", "b02", "b03", "b04", "b05", "b06", "b07", "b8a", "b11", "b12"),
    60: ("b01", "b02", "b03", "b04", "b05", "b06", "b07", "b8a", "b09", "b11", "b12"),
}
S2_L1C_GROUPS = {
    10: ("b02", "b03", "b04", "b08"),
    20: ("b05", "b06", "b07", "b8a", "b11", "b12"),
    60: ("b01", "b09", "b10"),
}
OLCI_BANDS = tuple(f"oa{i:02d}_radiance" for i in range(1, 22))


@dataclass(frozen=True)
class S2Tile:
    """A (small) Sentinel-2 tile: its MGRS code, UTM CRS and upper-left corner."""

    code: str
    epsg: int
    x0: float
    y0: float
    size_10m: int = 360
    time_offset_s: float = 0.0

    def transform(self, resolution: int) -> tuple[float, float, float, float, float, float]:
        return (float(resolution), 0.0, self.x0, 0.0, -float(resolution), self.y0)

    def shape(self, resolution: int) -> tuple[int, int]:
        n = self.size_10m * 10 // resolution
        return n, n

    def bbox(self) -> tuple[float, float, float, float]:
        extent = self.size_10m * 10.0
        return (self.x0, self.y0 - extent, self.x0 + extent, self.y0)

    def coords(self, resolution: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre x (ascending) and y (descending) coordinates."""
        rows, cols = self.shape(resolution)
        x = self.x0 + resolution * (np.arange(cols) + 0.5)
        y = self.y0 - resolution * (np.arange(rows) + 0.5)
        return x, y

    def lonlat(self, resolution: int) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude of every pixel centre, shape (rows, cols)."""
        return _tile_lonlat(self, resolution)

    def footprint(self) -> list[list[float]]:
        """The tile outline in lon/lat (a closed ring)."""
        from pyproj import Transformer

        x0, y0, x1, y1 = self.bbox()
        to_lonlat = Transformer.from_crs(self.epsg, 4326, always_xy=True)
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        return [list(to_lonlat.transform(x, y)) for x, y in corners]


@cache
def _tile_lonlat(tile: S2Tile, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    x, y = tile.coords(resolution)
    xx, yy = np.meshgrid(x, y)
    lon, lat = Transformer.from_crs(tile.epsg, 4326, always_xy=True).transform(xx, yy)
    return np.asarray(lon), np.asarray(lat)


#: Two tiles overlapping across the boundary of UTM zones 32N and 33N (12 degrees east);
#: the second is acquired at a fractional second, as real items often are.
S2_TILES = (
    S2Tile("32TQR", 32632, 732660.0, 4992720.0),
    S2Tile("33TTL", 32633, 263340.0, 4992900.0, time_offset_s=4.25),
)


def s2_reflectance(
    lon: np.ndarray, lat: np.ndarray, day: int, band: str, version: str, level: str = "L2A"
) -> np.ndarray:
    """The reflectance a Sentinel-2 product holds at (lon, lat)."""
    base = 0.1 + 2.0 * (lon - 11.9) + 1.5 * (lat - 44.9)
    level_term = 0.03 if level == "L1C" else 0.0
    return (
        base
        + 0.01 * day
        + 0.02 * (S2_BANDS.index(band) + 1)
        + VERSION_OFFSETS[version]
        + level_term
    )


def s2_classification(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The scene classification (4..10) at (lon, lat)."""
    cells = np.floor((lon - 11.9) * 200).astype(int) + np.floor((lat - 44.9) * 200).astype(int)
    return (4 + cells % 7).astype("uint8")


def s2_probability(lon: np.ndarray, lat: np.ndarray, name: str) -> np.ndarray:
    """Cloud (``cld``) or snow (``snw``) probability in percent at (lon, lat)."""
    shift = 0 if name == "cld" else 37
    return (np.floor((lon - 11.9) * 1000 + shift) % 100).astype("uint8")


def olci_radiance(lon: np.ndarray, lat: np.ndarray, day: int, band: str) -> np.ndarray:
    """The radiance an OLCI product holds at (lon, lat)."""
    index = OLCI_BANDS.index(band) + 1
    return 40.0 + 50.0 * (lon - 12.0) + 30.0 * (lat - 45.0) + 1.0 * day + 0.5 * index


def s1_amplitude(lon: np.ndarray, lat: np.ndarray, day: int, polarisation: str) -> np.ndarray:
    """The GRD amplitude of ``polarisation`` (vv or vh) at (lon, lat)."""
    value = 200.0 + 4000.0 * (lon - 12.6) + 3000.0 * (lat - 45.1) + 10.0 * day
    return value if polarisation == "vv" else value / 2.0


@dataclass(frozen=True)
class Swath:
    """A swath in its own (row, column) geometry: centre, spacing, rotation and curvature."""

    lon0: float
    lat0: float
    rows: int
    cols: int
    spacing: float
    rotation_deg: float
    curvature: float = 0.0

    def lonlat(self, rows: np.ndarray | None = None, cols: np.ndarray | None = None):
        """Longitude and latitude at (fractional) row/column indices (all pixels if None)."""
        if rows is None or cols is None:
            cols, rows = np.meshgrid(np.arange(self.cols), np.arange(self.rows))
        u = (np.asarray(cols, dtype="float64") - (self.cols - 1) / 2) * self.spacing
        v = ((self.rows - 1) / 2 - np.asarray(rows, dtype="float64")) * self.spacing
        theta = math.radians(self.rotation_deg)
        east = u * math.cos(theta) + v * math.sin(theta) + self.curvature * u**2
        north = -u * math.sin(theta) + v * math.cos(theta)
        lat = self.lat0 + north / 111320.0
        lon = self.lon0 + east / (111320.0 * math.cos(math.radians(self.lat0)))
        return lon, lat

    def footprint(self) -> list[list[float]]:
        corners = [(0, 0), (0, self.cols - 1), (self.rows - 1, self.cols - 1), (self.rows - 1, 0)]
        ring = [self.lonlat(np.array(r), np.array(c)) for r, c in corners]
        points = [[float(lon), float(lat)] for lon, lat in ring]
        return [*points, points[0]]


OLCI_SWATH = Swath(lon0=12.3, lat0=45.3, rows=160, cols=200, spacing=300.0, rotation_deg=14.0,
                   curvature=2e-6)  # fmt: skip
S1_SWATH = Swath(lon0=12.6, lat0=45.1, rows=300, cols=400, spacing=10.0, rotation_deg=-12.0)
S1_GCP_STEP = 20


@dataclass(frozen=True)
class Acquisition:
    """One product of the emulator: its collection, STAC item id and what it contains."""

    collection: str
    item_id: str
    kind: str  # "s2", "olci", "s1"
    day: int
    start: datetime
    version: str = CURRENT_VERSION
    deprecated: bool = False
    tile: S2Tile | None = None
    level: str = "L2A"
    timeliness: str = "NT"
    zarr_format: int = 2
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def product_name(self) -> str:
        return f"{self.item_id}.zarr"

    @property
    def offset(self) -> float:
        """The offset of this product's values against the current version's."""
        if self.kind == "s2":
            return VERSION_OFFSETS[self.version]
        if self.kind == "olci" and self.timeliness == "NR":
            return NR_OFFSET
        return 0.0


def s1_component(acquisition: Acquisition, polarisation: str) -> str:
    """The name of the component product (and group) of a Sentinel-1 GRD polarisation:
    ``S01SIWGRH_<start>_<duration>_<platform><relative orbit>_<crc>_<datatake>_<POL>``."""
    stamp = acquisition.start.strftime("%Y%m%dT%H%M%S")
    datatake = acquisition.item_id.rsplit("_", 2)[-2][-5:].upper()
    return f"S01SIWGRH_{stamp}_0180_A065_S000_{datatake}_{polarisation.upper()}"


def _s2_id(level: str, start: datetime, version: str, tile: S2Tile) -> str:
    stamp = start.strftime("%Y%m%dT%H%M%S")
    baseline = "N" + version.replace(".", "")
    product = "MSIL2A" if level == "L2A" else "MSIL1C"
    return f"S2B_{product}_{stamp}_{baseline}_R065_T{tile.code}_{stamp}"


def acquisitions(days: int = 3, l1c_days: int = 1, tile_pixels: int = 360) -> list[Acquisition]:
    """Every product the emulator serves, for ``days`` Sentinel-2 L2A acquisition days and
    tiles of ``tile_pixels`` 10 m pixels a side (a multiple of 6)."""
    from dataclasses import replace

    tiles = tuple(replace(tile, size_10m=tile_pixels) for tile in S2_TILES)
    found: list[Acquisition] = []
    for day in range(days):
        for tile in tiles:
            start = FIRST_DAY + timedelta(days=DAY_STEP * day, seconds=tile.time_offset_s)
            found.append(
                Acquisition(
                    "sentinel-2-l2a",
                    _s2_id("L2A", start, CURRENT_VERSION, tile),
                    "s2",
                    day,
                    start,
                    tile=tile,
                    # products of the second tile on odd days are re-converted to format 3
                    zarr_format=3 if day % 2 and tile.code == S2_TILES[1].code else 2,
                )
            )
    if days:
        # The first tile-day also exists in an older processing version (re-processed
        # products are written in Zarr format 3) and in a newer, deprecated one.
        first, second = tiles
        start = FIRST_DAY + timedelta(seconds=first.time_offset_s)
        found.append(
            Acquisition(
                "sentinel-2-l2a",
                _s2_id("L2A", start, "05.10", first),
                "s2",
                0,
                start,
                version="05.10",
                tile=first,
                zarr_format=3,
            )
        )
        start = FIRST_DAY + timedelta(seconds=second.time_offset_s)
        found.append(
            Acquisition(
                "sentinel-2-l2a",
                _s2_id("L2A", start, "05.12", second),
                "s2",
                0,
                start,
                version="05.12",
                deprecated=True,
                tile=second,
            )
        )
    for day in range(l1c_days):
        for tile in tiles:
            start = FIRST_DAY + timedelta(days=DAY_STEP * day, seconds=tile.time_offset_s)
            found.append(
                Acquisition(
                    "sentinel-2-l1c",
                    _s2_id("L1C", start, CURRENT_VERSION, tile),
                    "s2",
                    day,
                    start,
                    tile=tile,
                    level="L1C",
                )
            )
    for day, timeliness in ((0, "NR"), (0, "NT"), (1, "NT")):
        start = FIRST_DAY + timedelta(days=DAY_STEP * day, minutes=-20)
        stamp = start.strftime("%Y%m%dT%H%M%S")
        stop = (start + timedelta(minutes=3)).strftime("%Y%m%dT%H%M%S")
        item_id = f"S3A_OL_1_EFR____{stamp}_{stop}_0180_065_{timeliness}_004"
        found.append(
            Acquisition(
                "sentinel-3-olci-l1-efr",
                item_id,
                "olci",
                day,
                start,
                timeliness=timeliness,
                zarr_format=3 if timeliness == "NT" else 2,
            )
        )
    start = FIRST_DAY + timedelta(minutes=-290)
    stamp = start.strftime("%Y%m%dT%H%M%S")
    found.append(
        Acquisition(
            "sentinel-1-l1-grd",
            f"S1A_IW_GRDH_1SDV_{stamp}_{stamp}_059000_075000_ABCD",
            "s1",
            0,
            start,
        )
    )
    return found
