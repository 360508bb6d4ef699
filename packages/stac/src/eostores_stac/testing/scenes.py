"""Synthetic Sentinel-2-like scenes whose pixel values are a known function of position and date.

The scenes lie on two neighbouring UTM zones (32N and 33N) that overlap around 12°E, so that
cubes built from them must be reprojected and mosaicked across the zone boundary. Every value
is computed from the pixel-centre coordinates in the scene's own UTM zone (easting, northing),
the date index and the band index, so tests can check values after any subsetting,
reprojection or mosaicking by transforming output coordinates back to the source scene.

Files per scene: one single-band Cloud-Optimized GeoTIFF per band (uint16, nodata 0,
internal overviews built with nearest resampling), one Zarr group with the variable ``aot``
on the same grid and one NetCDF file with the variable ``wvp`` on a grid twice as coarse.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "BANDS",
    "NODATA",
    "OFFSET",
    "SCALE",
    "WVP_FILL",
    "WVP_SCALE",
    "SampleData",
    "Scene",
    "Tile",
    "aot_value",
    "band_value",
    "is_nodata",
    "raw_band_value",
    "wvp_value",
]

BANDS = ("B02", "B03", "B04")
BAND_WAVELENGTHS = {"B02": 0.49, "B03": 0.56, "B04": 0.665}
SCALE = 0.0001
OFFSET = -0.1
NODATA = 0
WVP_SCALE = 0.001
#: The CF ``_FillValue`` of the stored (int16) water vapour.
WVP_FILL = -32768
FIRST_DATE = datetime(2024, 6, 1, 10, 30, tzinfo=UTC)
DATE_STEP_DAYS = 5
#: Seconds between the acquisition of the zone-32 and the zone-33 scene of one pass
#: (fractional, as real acquisition times are: zone-33 items have millisecond datetimes).
ZONE_TIME_OFFSET_S = 20.024
#: Width (pixels) of the nodata strip at the eastern edge of zone-32 scenes and the
#: height of the strip at the northern edge of zone-33 scenes.
NODATA_STRIP = 8


def raw_band_value(easting: Any, northing: Any, day: int, band: int) -> Any:
    """The stored (unscaled) value of band ``band`` at pixel centres (easting, northing).

    ``raw = 10000 * (band + 1) + 1000 * (day % 8) + 20 * (E/100 mod 25) + (N/100 mod 20)``,
    with E and N the pixel-centre coordinates in metres of the scene's UTM zone.
    """
    import numpy as np

    e = np.floor(np.asarray(easting, dtype="float64") / 100.0).astype("int64")
    n = np.floor(np.asarray(northing, dtype="float64") / 100.0).astype("int64")
    return (10000 * (band + 1) + 1000 * (day % 8) + 20 * (e % 25) + n % 20).astype("uint16")


def band_value(easting: Any, northing: Any, day: int, band: int) -> Any:
    """The physical value (after scale and offset) of band ``band``."""
    return raw_band_value(easting, northing, day, band).astype("float64") * SCALE + OFFSET


def aot_value(easting: Any, northing: Any, day: int) -> Any:
    """The value of the Zarr asset's variable ``aot``: ``0.1 + 0.01 day + (E/100 mod 50)/1000``."""
    import numpy as np

    e = np.floor(np.asarray(easting, dtype="float64") / 100.0) % 50
    n = np.asarray(northing, dtype="float64") * 0
    return (0.1 + 0.01 * day + e / 1000.0 + n).astype("float32")


def wvp_value(easting: Any, northing: Any, day: int) -> Any:
    """The physical value of the NetCDF asset's variable ``wvp`` (stored as int16 * 0.001)."""
    import numpy as np

    n = np.floor(np.asarray(northing, dtype="float64") / 200.0) % 40
    e = np.asarray(easting, dtype="float64") * 0
    return np.round((1.0 + 0.1 * day + n / 100.0 + e) / WVP_SCALE) * WVP_SCALE


@dataclass(frozen=True)
class Tile:
    """A square scene footprint on a UTM grid: top-left corner, size and pixel size."""

    name: str
    epsg: int
    x0: float
    y1: float
    size: int
    res: float

    @property
    def transform(self) -> list[float]:
        return [self.res, 0.0, self.x0, 0.0, -self.res, self.y1]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y1 - self.size * self.res, self.x0 + self.size * self.res, self.y1)

    def centres(self, factor: int = 1) -> tuple[Any, Any]:
        """Pixel-centre x (ascending) and y (descending) coordinates at ``factor`` x the res."""
        import numpy as np

        res = self.res * factor
        count = self.size // factor
        xs = self.x0 + res * (np.arange(count) + 0.5)
        ys = self.y1 - res * (np.arange(count) + 0.5)
        return xs, ys

    def footprint_lonlat(self) -> list[list[float]]:
        """The footprint polygon ring in longitude/latitude (densified edges)."""
        from pyproj import Transformer

        to_lonlat = Transformer.from_crs(self.epsg, 4326, always_xy=True)
        x0, y0, x1, y1 = self.bounds
        steps = 8
        ring: list[tuple[float, float]] = []
        for i in range(steps):
            ring.append((x0 + (x1 - x0) * i / steps, y0))
        for i in range(steps):
            ring.append((x1, y0 + (y1 - y0) * i / steps))
        for i in range(steps):
            ring.append((x1 - (x1 - x0) * i / steps, y1))
        for i in range(steps):
            ring.append((x0, y1 - (y1 - y0) * i / steps))
        ring.append(ring[0])
        lons, lats = to_lonlat.transform([p[0] for p in ring], [p[1] for p in ring])
        return [[round(lon, 7), round(lat, 7)] for lon, lat in zip(lons, lats, strict=True)]

    def bbox_lonlat(self) -> list[float]:
        ring = self.footprint_lonlat()
        lons = [p[0] for p in ring]
        lats = [p[1] for p in ring]
        return [min(lons), min(lats), max(lons), max(lats)]


@dataclass(frozen=True)
class Scene:
    """One acquisition of one tile: the unit a STAC item describes."""

    item_id: str
    tile: Tile
    day: int
    datetime: str
    cloud_cover: float

    @property
    def zone(self) -> int:
        return self.tile.epsg % 100


def make_tiles(size: int = 128, res: float = 100.0, tiles_per_zone: int = 1) -> list[Tile]:
    """Tiles in UTM 32N and 33N that overlap around the zone boundary at 12°E, 50°N.

    With ``tiles_per_zone`` > 1 further tiles are added southwards in each zone.
    """
    from pyproj import Transformer

    extent = size * res
    west_x0 = 704000.0
    top = 5560000.0
    # The zone-33 tile starts 4 km west of the zone-32 tile's eastern edge.
    to_lonlat = Transformer.from_crs(32632, 4326, always_xy=True)
    to_33 = Transformer.from_crs(4326, 32633, always_xy=True)
    lon, lat = to_lonlat.transform(west_x0 + extent - 4000.0, top)
    east_x, east_y = to_33.transform(lon, lat)
    east_x0 = float(round(east_x / res) * res)
    east_top = float(round(east_y / res) * res)
    tiles = []
    for row in range(tiles_per_zone):
        shift = row * extent
        tiles.append(Tile(f"32U{row:02d}", 32632, west_x0, top - shift, size, res))
        tiles.append(Tile(f"33U{row:02d}", 32633, east_x0, east_top - shift, size, res))
    return tiles


def make_scenes(num_dates: int = 4, size: int = 128, tiles_per_zone: int = 1) -> list[Scene]:
    """The scenes of ``num_dates`` passes over every tile, dates ``DATE_STEP_DAYS`` apart."""
    scenes = []
    for day in range(num_dates):
        when = FIRST_DATE + timedelta(days=DATE_STEP_DAYS * day)
        for index, tile in enumerate(make_tiles(size, tiles_per_zone=tiles_per_zone)):
            offset = ZONE_TIME_OFFSET_S * (tile.epsg % 100 - 32) + index // 2
            acquired = when + timedelta(seconds=offset)
            cloud = float((day * 37 + index * 11) % 60)
            item_id = f"S2X_{acquired:%Y%m%dT%H%M%S}_T{tile.name}"
            scenes.append(Scene(item_id, tile, day, rfc3339(acquired), cloud))
    return scenes


def rfc3339(when: datetime) -> str:
    """A UTC instant as STAC writes it: whole seconds, or milliseconds when it has a fraction."""
    spec = "milliseconds" if when.microsecond else "seconds"
    return when.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def is_nodata(scene: Scene, rows: Any, cols: Any) -> Any:
    """Whether pixel (row, col) of ``scene`` is nodata: a strip at one edge of each tile."""
    import numpy as np

    rows = np.asarray(rows)
    cols = np.asarray(cols)
    if scene.tile.epsg == 32632:
        return cols >= scene.tile.size - NODATA_STRIP
    return rows < NODATA_STRIP


def band_array(scene: Scene, band: int) -> Any:
    """The stored uint16 pixels of one band of ``scene`` (rows north to south)."""
    import numpy as np

    xs, ys = scene.tile.centres()
    values = raw_band_value(xs[None, :], ys[:, None], scene.day, band)
    rows, cols = np.indices(values.shape)
    values[is_nodata(scene, rows, cols)] = NODATA
    return values


@dataclass
class SampleData:
    """The sample scenes written to ``root``: COGs, Zarr groups and NetCDF files per scene.

    Files are written once (guarded by a marker file), so several emulators and processes
    can share one directory. Paths are relative to ``root``:
    ``<collection>/<item_id>/<band>.tif``, ``.../aot.zarr``, ``.../wvp.nc``.
    """

    root: Path
    num_dates: int = 4
    size: int = 128
    tiles_per_zone: int = 1
    block_size: int = 32
    collection: str = "sentinel-2-l2a"
    scenes: list[Scene] = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.scenes = make_scenes(self.num_dates, self.size, self.tiles_per_zone)

    def scene(self, item_id: str) -> Scene:
        for scene in self.scenes:
            if scene.item_id == item_id:
                return scene
        raise KeyError(item_id)

    def relative_dir(self, scene: Scene) -> str:
        return f"{self.collection}/{scene.item_id}"

    def asset_paths(self, scene: Scene) -> dict[str, str]:
        """Asset key -> path relative to ``root``."""
        base = self.relative_dir(scene)
        paths = {band: f"{base}/{band}.tif" for band in BANDS}
        paths["aot"] = f"{base}/aot.zarr"
        paths["wvp"] = f"{base}/wvp.nc"
        return paths

    _lock = threading.Lock()

    def ensure(self) -> SampleData:
        """Write the files unless a complete set with the same settings is present."""
        marker = self.root / ".sampledata.json"
        settings = {
            "num_dates": self.num_dates,
            "size": self.size,
            "tiles_per_zone": self.tiles_per_zone,
            "block_size": self.block_size,
            "collection": self.collection,
            "version": 1,
        }
        with self._lock:
            if marker.exists() and json.loads(marker.read_text()) == settings:
                return self
            self.root.mkdir(parents=True, exist_ok=True)
            for scene in self.scenes:
                self._write_scene(scene)
            temporary = marker.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(settings))
            os.replace(temporary, marker)
        return self

    def _write_scene(self, scene: Scene) -> None:
        paths = self.asset_paths(scene)
        for index, band in enumerate(BANDS):
            target = self.root / paths[band]
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_cog(target, band_array(scene, index), scene.tile, self.block_size)
        _write_zarr(self.root / paths["aot"], scene)
        _write_netcdf(self.root / paths["wvp"], scene)


def _write_cog(target: Path, values: Any, tile: Tile, block_size: int) -> None:
    import rasterio
    import rasterio.shutil
    from rasterio.transform import Affine

    profile = {
        "driver": "GTiff",
        "width": tile.size,
        "height": tile.size,
        "count": 1,
        "dtype": "uint16",
        "crs": f"EPSG:{tile.epsg}",
        "transform": Affine(*tile.transform),
        "nodata": NODATA,
    }
    levels = []
    size = tile.size
    while size // 2 >= block_size and len(levels) < 4:
        size //= 2
        levels.append(tile.size // size)
    temporary = target.with_suffix(f".{os.getpid()}.tmp.tif")
    final_tmp = target.with_suffix(f".{os.getpid()}.cog.tif")
    with rasterio.open(temporary, "w", **profile) as dataset:
        dataset.write(values, 1)
    try:
        with rasterio.open(temporary) as source:
            rasterio.shutil.copy(
                source,
                final_tmp,
                driver="COG",
                BLOCKSIZE=block_size,
                COMPRESS="DEFLATE",
                OVERVIEWS="AUTO" if levels else "NONE",
                OVERVIEW_RESAMPLING="NEAREST",
                OVERVIEW_COUNT=len(levels) or None,
            )
        os.replace(final_tmp, target)
    finally:
        for path in (temporary, final_tmp):
            if path.exists():
                path.unlink()


def _grid_mapping(epsg: int) -> Any:
    import xarray as xr
    from pyproj import CRS

    crs = CRS.from_epsg(epsg)
    attrs = crs.to_cf()
    attrs["spatial_ref"] = crs.to_wkt()
    return xr.DataArray(0, attrs=attrs)


def _write_zarr(target: Path, scene: Scene) -> None:
    import shutil

    import xarray as xr

    xs, ys = scene.tile.centres()
    values = aot_value(xs[None, :], ys[:, None], scene.day)
    dataset = xr.Dataset(
        {
            "aot": (
                ("y", "x"),
                values,
                {"long_name": "aerosol optical thickness", "grid_mapping": "spatial_ref"},
            ),
        },
        coords={"x": ("x", xs), "y": ("y", ys), "spatial_ref": _grid_mapping(scene.tile.epsg)},
    )
    chunk = max(16, scene.tile.size // 2)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    if temporary.exists():
        shutil.rmtree(temporary)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*onsolidated metadata.*")
        dataset.chunk({"y": chunk, "x": chunk}).to_zarr(
            temporary, mode="w", zarr_format=3, consolidated=True
        )
    if target.exists():
        shutil.rmtree(target)
    os.replace(temporary, target)


def _write_netcdf(target: Path, scene: Scene) -> None:
    import numpy as np
    import xarray as xr

    xs, ys = scene.tile.centres(factor=2)
    values = wvp_value(xs[None, :], ys[:, None], scene.day)
    dataset = xr.Dataset(
        {
            "wvp": (
                ("y", "x"),
                values.astype("float32"),
                {"long_name": "water vapour", "units": "cm", "grid_mapping": "spatial_ref"},
            ),
        },
        coords={"x": ("x", xs), "y": ("y", ys), "spatial_ref": _grid_mapping(scene.tile.epsg)},
    )
    encoding = {
        "wvp": {
            "dtype": "int16",
            "scale_factor": WVP_SCALE,
            "_FillValue": np.int16(WVP_FILL),
        }
    }
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    dataset.to_netcdf(temporary, engine="h5netcdf", encoding=encoding)
    os.replace(temporary, target)
