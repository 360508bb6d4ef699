"""The files of the emulator's generated records, with values that are known functions.

Every gridded variable is a simple function of its coordinates (see the ``*_value``
functions), so that tests can check values after subsetting. The files are written once
per process into a temporary directory and shared by all emulators.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "SampleRecord",
    "elevation_value",
    "precipitation_value",
    "reflectance_value",
    "sample_files",
    "station_value",
    "temperature_value",
]

START_DATE = "2020-01-01"


def temperature_value(day: Any, lat: Any, lon: Any) -> Any:
    """``temperature`` of ``temperature.nc`` (kelvin); ``day`` counts from 2020-01-01."""
    return 280.0 + lat / 10.0 + lon / 100.0 + day


def precipitation_value(day: Any, lat: Any, lon: Any) -> Any:
    """``precipitation`` of ``temperature.nc`` and the NetCDFs of ``collection.zip``."""
    return 0.5 * (day + 1) + abs(lat) / 90.0 + 0.0 * lon


def chlorophyll_value(day: Any, lat: Any, lon: Any) -> Any:
    """``chl`` of the zipped Zarr ``cube.zarr.zip``."""
    return 0.1 * (day + 1) + lat / 1000.0 - lon / 10000.0


def elevation_value(lat: Any, lon: Any) -> Any:
    """The one band of the COG ``elevation.tif`` (metres)."""
    return 1000.0 + 2.0 * lat + lon


def reflectance_value(lat: Any, lon: Any) -> Any:
    """The GeoTIFF inside ``scene.tar.gz``."""
    return lat / 100.0 + lon / 1000.0


def station_value(lon: Any, lat: Any) -> Any:
    """The ``value`` property of the point features (GeoJSON and CSV)."""
    return lon * 10.0 + lat


@dataclass
class SampleRecord:
    """Files of one record: ``files`` maps file keys to paths; ``wrong_checksums`` lists
    the keys whose announced md5 does not match their content."""

    files: dict[str, Path]
    wrong_checksums: set[str] = field(default_factory=set)


_lock = threading.Lock()
_cache: dict[str, SampleRecord] = {}
_directory: Path | None = None


def sample_files() -> dict[str, SampleRecord]:
    """The generated records by name (``"v1"``, ``"v2"``, ``"external"``), made once."""
    global _directory
    with _lock:
        if not _cache:
            _directory = Path(tempfile.mkdtemp(prefix="eostores-zenodo-samples-"))
            atexit.register(shutil.rmtree, _directory, True)
            _cache.update(_build(_directory))
        return dict(_cache)


# --------------------------------------------------------------------------- builders


def _build(directory: Path) -> dict[str, SampleRecord]:
    writers: dict[str, dict[str, Callable[[Path], None]]] = {
        "v2": {
            "temperature.nc": lambda p: _write_grid_netcdf(p, days=4),
            "elevation.tif": _write_elevation_cog,
            "cube.zarr.zip": _write_zipped_zarr,
            "stations.geojson": _write_stations_geojson,
            "stations.csv": _write_stations_csv,
            "regions.gpkg": _write_regions_gpkg,
            "coast.shp.zip": _write_coast_shapefile,
            "collection.zip": _write_netcdf_collection,
            "scene.tar.gz": _write_geotiff_tarball,
            "nested.zip": _write_nested_zip,
            "corrupted.nc": lambda p: _write_grid_netcdf(p, days=1),
            "escape-dotdot.zip": _write_dotdot_zip,
            "escape-absolute.tar": _write_absolute_tar,
            "escape-link.tar.gz": _write_link_tarball,
            "README.md": _write_readme,
        },
        "v1": {
            "temperature.nc": lambda p: _write_grid_netcdf(p, days=2),
            "README.md": _write_readme,
        },
        "external": {"stations.geojson": _write_stations_geojson},
    }
    wrong_checksums = {"v2": {"corrupted.nc"}}
    records: dict[str, SampleRecord] = {}
    for name, files in writers.items():
        folder = directory / name
        folder.mkdir()
        for key, write in files.items():
            write(folder / key)
        paths = {key: folder / key for key in files}
        records[name] = SampleRecord(paths, wrong_checksums.get(name, set()))
    return records


def _grid(step: float) -> tuple[Any, Any]:
    import numpy as np

    lat = np.arange(-90 + step / 2, 90, step)
    lon = np.arange(-180 + step / 2, 180, step)
    return lat, lon


def _grid_dataset(days: int, step: float, first_day: int = 0) -> Any:
    import numpy as np
    import pandas as pd
    import xarray as xr

    lat, lon = _grid(step)
    day = np.arange(first_day, first_day + days, dtype="float64")
    d, la, lo = np.meshgrid(day, lat, lon, indexing="ij")
    time = pd.date_range(START_DATE, periods=first_day + days, freq="D")[first_day:]
    return xr.Dataset(
        {
            "temperature": (
                ("time", "lat", "lon"),
                temperature_value(d, la, lo).astype("float32"),
                {"units": "K", "long_name": "air temperature"},
            ),
            "precipitation": (
                ("time", "lat", "lon"),
                precipitation_value(d, la, lo).astype("float32"),
                {"units": "mm day-1", "long_name": "precipitation"},
            ),
        },
        coords={
            "time": time,
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"title": "Sample daily grid", "Conventions": "CF-1.8"},
    )


def _write_grid_netcdf(path: Path, days: int, step: float = 1.0, first_day: int = 0) -> None:
    dataset = _grid_dataset(days, step, first_day)
    lat_chunk, lon_chunk = dataset.sizes["lat"] // 2, dataset.sizes["lon"] // 2
    encoding = {
        name: {"chunksizes": (1, lat_chunk, lon_chunk)} for name in ("temperature", "precipitation")
    }
    dataset.to_netcdf(path, engine="h5netcdf", encoding=encoding)


def _write_geotiff(
    path: Path,
    value: Callable[[Any, Any], Any],
    step: float,
    name: str,
    *,
    cog: bool,
    bounds: tuple[float, float, float, float] = (-180, -90, 180, 90),
) -> None:
    import numpy as np
    import rasterio
    import rasterio.shutil
    from affine import Affine

    west, south, east, north = bounds
    width, height = round((east - west) / step), round((north - south) / step)
    lon = west + step / 2 + step * np.arange(width)
    lat = north - step / 2 - step * np.arange(height)
    data = value(lat[:, None], lon[None, :]).astype("float32")
    profile = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(step, 0.0, west, 0.0, -step, north),
        nodata=-9999.0,
    )
    if not cog:
        with rasterio.open(path, "w", **profile) as target:
            target.write(data, 1)
            target.set_band_description(1, name)
        return
    with rasterio.MemoryFile() as memory:
        with memory.open(**profile) as scratch:
            scratch.write(data, 1)
            scratch.set_band_description(1, name)
        with memory.open() as source:
            rasterio.shutil.copy(
                source, path, driver="COG", BLOCKSIZE=128, COMPRESS="NONE", OVERVIEWS="AUTO"
            )


def _write_elevation_cog(path: Path) -> None:
    _write_geotiff(path, elevation_value, 0.5, "elevation", cog=True)


def _write_zipped_zarr(path: Path) -> None:
    import numpy as np
    import pandas as pd
    import xarray as xr

    lat, lon = _grid(1.0)
    day = np.arange(3, dtype="float64")
    d, la, lo = np.meshgrid(day, lat, lon, indexing="ij")
    dataset = xr.Dataset(
        {
            "chl": (
                ("time", "lat", "lon"),
                chlorophyll_value(d, la, lo).astype("float32"),
                {"units": "mg m-3", "long_name": "chlorophyll-a concentration"},
            )
        },
        coords={
            "time": pd.date_range(START_DATE, periods=3, freq="D"),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        attrs={"title": "Sample zipped Zarr cube"},
    ).chunk({"time": 1, "lat": 90, "lon": 180})
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "cube.zarr"
        encoding = {"chl": {"compressors": None}}
        dataset.to_zarr(folder, zarr_format=2, consolidated=True, encoding=encoding)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(folder).as_posix())


STATIONS = [
    ("ST01", "Alpha", 10.0, 50.0),
    ("ST02", "Bravo", -3.5, 40.25),
    ("ST03", "Charlie", 139.75, 35.5),
    ("ST04", "Delta", -70.0, -33.5),
    ("ST05", "Echo", 18.5, -34.0),
]


def _write_stations_geojson(path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"id": ident, "name": name, "value": station_value(lon, lat)},
        }
        for ident, name, lon, lat in STATIONS
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def _write_stations_csv(path: Path) -> None:
    lines = ["id,name,longitude,latitude,value"]
    lines += [
        f"{ident},{name},{lon},{lat},{station_value(lon, lat)}"
        for ident, name, lon, lat in STATIONS
    ]
    path.write_text("\n".join(lines) + "\n")


def _regions() -> Any:
    import geopandas as gpd
    import shapely

    boxes = [(0, 0, 10, 10), (10, 0, 20, 10), (-20, -10, -10, 0)]
    return gpd.GeoDataFrame(
        {"code": ["A", "B", "C"], "area_deg2": [100.0, 100.0, 100.0]},
        geometry=[shapely.box(*b) for b in boxes],
        crs="EPSG:4326",
    )


def _write_regions_gpkg(path: Path) -> None:
    import pyogrio

    pyogrio.write_dataframe(_regions(), path, driver="GPKG", layer="regions")


def _write_coast_shapefile(path: Path) -> None:
    import geopandas as gpd
    import pyogrio
    import shapely

    lines = gpd.GeoDataFrame(
        {"name": ["north", "south"]},
        geometry=[
            shapely.LineString([(0, 10), (5, 12), (10, 10)]),
            shapely.LineString([(0, -10), (10, -10)]),
        ],
        crs="EPSG:4326",
    )
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(scratch) / "coast.shp.zip"
        pyogrio.write_dataframe(lines, local, driver="ESRI Shapefile", layer="coast")
        shutil.copyfile(local, path)


def _write_netcdf_collection(path: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        first, second = Path(scratch) / "part-1.nc", Path(scratch) / "part-2.nc"
        _write_grid_netcdf(first, days=2, step=10.0)
        _write_grid_netcdf(second, days=2, step=10.0, first_day=2)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(first, "series/part-1.nc")
            archive.write(second, "series/part-2.nc")
            archive.writestr("series/README.txt", "Two days each.\n")


def _write_geotiff_tarball(path: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tif = Path(scratch) / "reflectance.tif"
        _write_geotiff(
            tif, reflectance_value, 0.25, "reflectance", cog=False, bounds=(0, 40, 10, 50)
        )
        with tarfile.open(path, "w:gz") as archive:
            archive.add(tif, "scene/reflectance.tif")


def _write_nested_zip(path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(_stations_file(), "points/stations.geojson")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("level1/inner.zip", inner.getvalue())
        archive.writestr("level1/notes.txt", "An archive inside an archive.\n")


def _stations_file() -> Path:
    handle, name = tempfile.mkstemp(suffix=".geojson")
    os.close(handle)
    path = Path(name)
    _write_stations_geojson(path)
    atexit.register(path.unlink, True)
    return path


def _write_dotdot_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data/ok.txt", "harmless\n")
        archive.writestr("../../eostores-zenodo-escaped.txt", "escaped\n")


def _write_absolute_tar(path: Path) -> None:
    payload = b"absolute\n"
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("/tmp/eostores-zenodo-absolute.txt")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))


def _write_link_tarball(path: Path) -> None:
    with tarfile.open(path, "w:gz") as archive:
        link = tarfile.TarInfo("data/outside")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../eostores-zenodo-outside"
        archive.addfile(link)
        payload = b"through the link\n"
        info = tarfile.TarInfo("data/readme.txt")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))


def _write_readme(path: Path) -> None:
    path.write_text("# Sample record\n\nGenerated by the eostores Zenodo emulator.\n")
