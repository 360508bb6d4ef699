"""The emulator's catalogue: CLMS-like products whose values are a known function of position.

Raster products are in the EEA reference grid (EPSG:3035) and cut into 100 km tiles named
``..._E##N##...`` like the EEA's pre-packaged downloads; tile ``E40N21`` covers
``x = 4000..4100 km``, ``y = 2100..2200 km``. Every pixel holds
``expected_value(variable, x, y)`` at its centre, so values can be checked after merging
tiles and subsetting. The NetCDF product is a lat/lon grid holding
``expected_value(variable, lon, lat)``.
"""

from __future__ import annotations

import io
import os
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_PRODUCTS",
    "HOSTILE_PRODUCTS",
    "TILE_SIZE_M",
    "SampleFile",
    "SampleProduct",
    "build_result_archive",
    "expected_value",
]

#: Edge length of one EEA grid tile, in metres.
TILE_SIZE_M = 100_000.0

# value = offset + a * (x - x0) + b * (y - y0), per variable.
_COEFFICIENTS: dict[str, tuple[float, float, float, float, float]] = {
    "imperviousness": (1.0, 1e-4, 1e-5, 4_000_000.0, 2_000_000.0),
    "tree_cover_density": (50.0, 5e-5, -2e-5, 4_000_000.0, 2_000_000.0),
    "water_occurrence": (10.0, 0.25, 0.5, 0.0, 0.0),
}
_NAMESPACE = uuid.UUID("6f1c0f3e-52a4-4c47-9a57-1b4a3f0c2d11")


def expected_value(variable: str, x: Any, y: Any) -> Any:
    """The value the emulator serves for ``variable`` at projected ``x``/``y`` (or lon/lat)."""
    offset, a, b, x0, y0 = _COEFFICIENTS[variable]
    return (
        offset
        + a * (np.asarray(x, dtype="float64") - x0)
        + b * (np.asarray(y, dtype="float64") - y0)
    )


def _uid(*parts: str) -> str:
    return uuid.uuid5(_NAMESPACE, "/".join(parts)).hex


@dataclass(frozen=True)
class SampleFile:
    """One pre-packaged downloadable file of a product.

    ``kind`` is ``"tiles"`` (GeoTIFF tiles ``(E, N)`` of the EEA grid), ``"single"`` (one
    GeoTIFF covering ``tiles``' extent, without tile names) or ``"netcdf"``.
    ``hostile_entry`` adds an archive entry with that (escaping) name; ``foreign_link``
    makes finished tasks point at that URL instead of the emulator's download server.
    """

    name: str
    kind: str
    variable: str
    tiles: tuple[tuple[int, int], ...] = ()
    hostile_entry: str | None = None
    foreign_link: str | None = None

    @property
    def format(self) -> str:
        return "Netcdf" if self.kind == "netcdf" else "Geotiff"


@dataclass(frozen=True)
class SampleProduct:
    """A CLMS dataset as the catalogue lists it."""

    id: str
    title: str
    bbox: tuple[float, float, float, float]
    crs: str
    time_start: str
    time_end: str
    files: tuple[SampleFile, ...] = ()
    source: str = "EEA"
    location: str = ""
    description: str = ""
    uid: str = field(default="")

    def __post_init__(self) -> None:
        if not self.uid:
            object.__setattr__(self, "uid", _uid(self.id))

    def file_id(self, file: SampleFile) -> str:
        return _uid(self.id, file.name)

    def item(self, site_url: str) -> dict[str, Any]:
        """The product as ``@search`` with ``fullobjects`` returns it."""
        west, south, east, north = self.bbox
        return {
            "@id": f"{site_url}/en/products/{self.id}",
            "@type": "DataSet",
            "id": self.id,
            "UID": self.uid,
            "title": self.title,
            "description": self.description or self.title,
            "review_state": "published",
            "coordinateReferenceSystemList": [self.crs],
            "geographicBoundingBox": {
                "items": [{"west": west, "south": south, "east": east, "north": north}]
            },
            "temporalExtentStart": self.time_start,
            "temporalExtentEnd": self.time_end,
            "dataset_download_information": {
                "items": [
                    {
                        "@id": _uid(self.id, "download-information"),
                        "full_source": self.source,
                        "full_path": self.location,
                        "full_format": "Geotiff" if self.source == "EEA" else "",
                        "collection": self.title,
                    }
                ]
            },
            "downloadable_files": {
                "items": [
                    {
                        "@id": self.file_id(file),
                        "file": file.name,
                        "format": file.format,
                        "area": "Europe",
                        "path": f"/data/clms/{self.id}/{file.name}.zip",
                        "source": self.source,
                        "resolution": "",
                        "size": "",
                        "type": "Raster",
                        "version": "v1",
                        "year": self.time_start[:4],
                    }
                    for file in self.files
                ]
            },
        }


_IMD_TILES_GAP = ((40, 20), (41, 20), (40, 21))  # E41N21 is missing: NaN there
_IMD_TILES_4X4 = tuple((e, n) for e in range(40, 44) for n in range(20, 24))

DEFAULT_PRODUCTS: tuple[SampleProduct, ...] = (
    SampleProduct(
        id="imperviousness-density-2018",
        title="Imperviousness Density 2018 (raster 10 m and 100 m), Europe, 3-yearly",
        bbox=(-31.3, 27.6, 44.8, 71.2),
        crs="EPSG:3035",
        time_start="2018-01-01T00:00:00+00:00",
        time_end="2018-12-31T00:00:00+00:00",
        files=(
            SampleFile("IMD_2018_100m_eu_03035_v020", "tiles", "imperviousness", _IMD_TILES_GAP),
            SampleFile("IMD_2018_010m_eu_03035_v020", "tiles", "imperviousness", _IMD_TILES_4X4),
        ),
    ),
    SampleProduct(
        id="tree-cover-density-2018",
        title="Tree Cover Density 2018 (raster 100 m), Europe, 3-yearly",
        bbox=(-31.3, 27.6, 44.8, 71.2),
        crs="EPSG:3035",
        time_start="2018-01-01T00:00:00+00:00",
        time_end="2018-12-31T00:00:00+00:00",
        files=(
            SampleFile(
                "TCD_2018_100m_eu_03035_v020",
                "single",
                "tree_cover_density",
                ((40, 20), (41, 20), (40, 21), (41, 21)),
            ),
        ),
    ),
    SampleProduct(
        id="water-bodies-2020",
        title="Water Bodies 2020 (raster 300 m), global, yearly",
        bbox=(5.0, 45.0, 7.0, 47.0),
        crs="EPSG:4326",
        time_start="2020-01-01T00:00:00+00:00",
        time_end="2020-12-31T00:00:00+00:00",
        files=(
            SampleFile("c_gls_WB300_202001010000_GLOBE_S2_V2.0.1", "netcdf", "water_occurrence"),
        ),
    ),
    SampleProduct(
        id="daily-surface-soil-moisture-v1.0",
        title="Surface Soil Moisture 2014-present (raster 1 km), Europe, daily",
        bbox=(-11.0, 34.0, 50.0, 72.0),
        crs="EPSG:4326",
        time_start="2014-12-30T00:00:00+00:00",
        time_end="",
        source="CDSE",
        location="https://browser.dataspace.copernicus.eu/?collection=clms-ssm",
    ),
    SampleProduct(
        id="corine-land-cover-1990",
        title="CORINE Land Cover 1990 (vector/raster 100 m), Europe, 6-yearly",
        bbox=(-31.3, 27.6, 44.8, 71.2),
        crs="EPSG:3035",
        time_start="1986-01-01T00:00:00+00:00",
        time_end="1998-12-31T00:00:00+00:00",
        source="WEKEO",
        location="https://wekeo.copernicus.eu/data?view=dataset&dataset=EO:EEA:DAT:CORINE",
    ),
)

#: Products with names and archives no client should trust (offered with ``hostile=True``).
HOSTILE_PRODUCTS: tuple[SampleProduct, ...] = (
    SampleProduct(
        id="hostile-names",
        title="A product whose names try to leave the cache",
        bbox=(-31.3, 27.6, 44.8, 71.2),
        crs="EPSG:3035",
        time_start="2018-01-01T00:00:00+00:00",
        time_end="2018-12-31T00:00:00+00:00",
        files=(
            SampleFile("../../../outside-the-cache", "tiles", "imperviousness", ((40, 20),)),
            SampleFile(
                "escaping-archive",
                "tiles",
                "imperviousness",
                ((40, 20),),
                hostile_entry="../../escaped_E40N20.tif",
            ),
            SampleFile(
                "foreign-link",
                "tiles",
                "imperviousness",
                ((40, 20),),
                foreign_link="file:///etc/passwd",
            ),
        ),
    ),
)


# --------------------------------------------------------------------------- result archives


def _tile_name(file: SampleFile, east: int, north: int) -> str:
    stem = file.name.replace("/", "_").replace(".", "_").strip("_") or "tile"
    head, _, tail = stem.partition("_eu_")
    return f"{head}_E{east:02d}N{north:02d}_{tail or 'v1'}.tif"


def _write_geotiff(
    path: str,
    variable: str,
    west: float,
    north: float,
    width: int,
    height: int,
    resolution: float,
) -> None:
    import rasterio
    from rasterio.transform import Affine

    x = west + (np.arange(width) + 0.5) * resolution
    y = north - (np.arange(height) + 0.5) * resolution
    values = expected_value(variable, x[None, :], y[:, None]).astype("float32")
    profile = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs="EPSG:3035",
        transform=Affine(resolution, 0.0, west, 0.0, -resolution, north),
        compress="lzw",
    )
    if width >= 256 and height >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
        dst.set_band_description(1, variable)
        dst.update_tags(PRODUCT="emulated CLMS product")


def _write_netcdf(path: str, variable: str, pixels: int) -> None:
    import xarray as xr

    step = 2.0 / pixels
    lon = 5.0 + (np.arange(pixels) + 0.5) * step
    lat = 47.0 - (np.arange(pixels) + 0.5) * step
    values = expected_value(variable, lon[None, :], lat[:, None]).astype("float32")
    dataset = xr.Dataset(
        {variable: (("time", "lat", "lon"), values[None], {"units": "%"})},
        coords={
            "time": np.array(["2020-01-01"], dtype="datetime64[ns]"),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"title": "emulated CLMS product", "Conventions": "CF-1.6"},
    )
    dataset.to_netcdf(path, engine="h5netcdf")


def _payload_files(file: SampleFile, folder: str, tile_pixels: int) -> list[tuple[str, str]]:
    """Write the product files of ``file`` into ``folder``; ``(archive name, path)`` pairs."""
    resolution = TILE_SIZE_M / tile_pixels
    written: list[tuple[str, str]] = []
    if file.kind == "netcdf":
        path = os.path.join(folder, "payload.nc")
        _write_netcdf(path, file.variable, tile_pixels)
        return [(f"{file.name}.nc", path)]
    if file.kind == "single":
        easts = [e for e, _ in file.tiles]
        norths = [n for _, n in file.tiles]
        path = os.path.join(folder, "payload.tif")
        columns = (max(easts) - min(easts) + 1) * tile_pixels
        rows = (max(norths) - min(norths) + 1) * tile_pixels
        west, north = min(easts) * TILE_SIZE_M, (max(norths) + 1) * TILE_SIZE_M
        _write_geotiff(path, file.variable, west, north, columns, rows, resolution)
        return [(f"{file.name.replace('/', '_')}.tif", path)]
    for index, (east, north) in enumerate(file.tiles):
        path = os.path.join(folder, f"tile-{index}.tif")
        _write_geotiff(
            path,
            file.variable,
            east * TILE_SIZE_M,
            (north + 1) * TILE_SIZE_M,
            tile_pixels,
            tile_pixels,
            resolution,
        )
        written.append((_tile_name(file, east, north), path))
    if file.hostile_entry:
        written.append((file.hostile_entry, written[0][1]))
    return written


def build_result_archive(file: SampleFile, tile_pixels: int) -> bytes:
    """The zip a finished task links to: ``Results/<name>.zip`` holding the product files,
    beside a metadata folder and a readme, as the CLMS download service packs them."""
    safe = file.name.replace("/", "_").strip(".") or "result"
    with tempfile.TemporaryDirectory(prefix="eostores-clms-emulator-") as folder:
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, path in _payload_files(file, folder, tile_pixels):
                zf.write(path, name)
            zf.writestr(f"{safe}.xml", _metadata_xml(file))
        outer = io.BytesIO()
        with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(f"Results/{safe}.zip", inner.getvalue())
            zf.writestr("Metadata/clms_product_metadata.xml", _metadata_xml(file))
            zf.writestr("readme.txt", "Copernicus Land Monitoring Service (emulated download)\n")
    return outer.getvalue()


def _metadata_xml(file: SampleFile) -> str:
    from xml.sax.saxutils import escape

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<metadata><title>{escape(file.name)}</title><format>{file.format}</format></metadata>\n"
    )


def products_by_id(products: Sequence[SampleProduct]) -> dict[str, SampleProduct]:
    """The products keyed by their ``id``."""
    return {product.id: product for product in products}
