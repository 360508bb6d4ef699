"""The emulated Copernicus Marine catalogue: datasets, their grids and their values.

Every value is a known function of its coordinates (:func:`expected_value`), so that tests
can check what a store returns after subsetting without keeping reference files. Chunks
are computed on demand; nothing is stored.

As on the real service, the vertical axis of the ARCO data is ``elevation`` (metres,
positive up, so negative and ascending below the surface); the toolbox presents it as
``depth``. Some items carry the catalogue's ``admp_*`` properties: a first valid time
after the first stored one, a version whose ARCO data are still in preparation, and a
retired part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

__all__ = [
    "DATASETS",
    "SampleDataset",
    "SampleVariable",
    "expected_value",
    "find_dataset",
]

DAY_S = 86400.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: The name of the vertical axis in the ARCO data and the STAC items.
VERTICAL = "elevation"

#: The two ARCO services: STAC asset key -> (bucket, what it is chunked for).
#: ``timeChunked`` is the toolbox's "arco-geo-series" (maps: one time step, a wide area
#: per chunk), ``geoChunked`` its "arco-time-series" (long series over a small area).
ASSET_BUCKETS = {"timeChunked": "mdl-arco-time-001", "geoChunked": "mdl-arco-geo-001"}


@dataclass(frozen=True)
class SampleVariable:
    """A data variable: ``base + scale * f(coords)``."""

    name: str
    standard_name: str
    units: str
    long_name: str
    base: float
    scale: float = 1.0


@dataclass(frozen=True)
class SampleDataset:
    """One emulated dataset: its catalogue identity, grid, versions and chunking."""

    dataset_id: str
    product_id: str
    product_title: str
    title: str
    variables: tuple[SampleVariable, ...]
    #: seconds since 1970 of every time step
    times: tuple[float, ...]
    latitudes: tuple[float, ...]
    longitudes: tuple[float, ...]
    #: depths in metres, positive down (served as ``elevation``: negated, ascending)
    depths: tuple[float, ...] | None = None
    #: version label -> part names (the first part is the default)
    versions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: asset key -> chunk length per dimension
    chunks: dict[str, dict[str, int]] = field(default_factory=dict)
    time_step: str = "P1D"
    doi: str = "10.48670/moi-00000"
    #: (version, part) -> more STAC item properties (the catalogue's ``admp_*``)
    item_properties: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: numcodecs configuration of the compressor of the Zarr arrays (None: uncompressed)
    compressor: Mapping[str, Any] | None = None

    @property
    def dims(self) -> tuple[str, ...]:
        if self.depths is None:
            return ("time", "latitude", "longitude")
        return ("time", VERTICAL, "latitude", "longitude")

    def axis(self, dim: str) -> np.ndarray:
        if dim == VERTICAL:
            return -np.asarray(self.depths, dtype="float64")[::-1]
        values = {
            "time": self.times,
            "latitude": self.latitudes,
            "longitude": self.longitudes,
        }[dim]
        return np.asarray(values, dtype="float64")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.axis(d)) for d in self.dims)

    def item_id(self, version: str, part: str) -> str:
        """The STAC item id: dataset id, version suffix and (for other parts) the part."""
        suffix = "" if part == "default" else f"--ext--{part}"
        return f"{self.dataset_id}_{version}{suffix}"

    def offered(self, version: str, part: str) -> bool:
        """Whether the catalogue offers the ARCO data of this version part: not when they
        are in preparation or the part is retired."""
        properties = self.item_properties.get((version, part), {})
        retired = properties.get("admp_retired_date")
        if retired and datetime.fromisoformat(retired) <= datetime.now(UTC):
            return False
        return not properties.get("admp_in_preparation")

    @property
    def default_version(self) -> str:
        """The version the toolbox opens by default: the newest one offered."""
        return max(v for v, parts in self.versions.items() if self.offered(v, parts[0]))

    def offset(self, version: str, part: str) -> float:
        """How much values of ``version``/``part`` differ from those of the first ones."""
        labels = sorted(self.versions)
        parts = self.versions[version]
        return 100.0 * labels.index(version) + 10.0 * parts.index(part)

    def variable(self, name: str) -> SampleVariable:
        for variable in self.variables:
            if variable.name == name:
                return variable
        raise KeyError(name)


def expected_value(
    variable: SampleVariable,
    time_s: np.ndarray | float,
    lat: np.ndarray | float,
    lon: np.ndarray | float,
    depth: np.ndarray | float = 0.0,
    offset: float = 0.0,
) -> np.ndarray:
    """The value of ``variable`` at these coordinates (broadcast), as float32.

    ``time_s`` is seconds since 1970-01-01 (or datetime64 values).
    """
    time_s = np.asarray(time_s)
    if np.issubdtype(time_s.dtype, np.datetime64):
        time_s = time_s.astype("datetime64[s]").astype("int64").astype("float64")
    days = np.asarray(time_s, dtype="float64") / DAY_S - 18000.0
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    depth = np.asarray(depth, dtype="float64")
    field_ = 0.1 * lat + 0.01 * lon + 0.001 * days - 0.01 * depth
    return (variable.base + offset + variable.scale * field_).astype("float32")


def _daily(start: str, days: int) -> tuple[float, ...]:
    first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    origin = (first - EPOCH).total_seconds()
    return tuple(origin + DAY_S * i for i in range(days))


def _monthly(start_year: int, months: int) -> tuple[float, ...]:
    values = []
    for i in range(months):
        year, month = divmod(i, 12)
        moment = datetime(start_year + year, month + 1, 1, tzinfo=UTC)
        values.append((moment - EPOCH).total_seconds())
    return tuple(values)


def _grid(first: float, step: float, count: int) -> tuple[float, ...]:
    return tuple(first + step * i for i in range(count))


DATASETS: tuple[SampleDataset, ...] = (
    SampleDataset(
        dataset_id="cmems_obs-sst_glo_phy_nrt_l4_P1D-m",
        product_id="SST_GLO_PHY_L4_NRT_010_043",
        product_title="Global Ocean OSTIA Sea Surface Temperature and Sea Ice Analysis",
        title="daily gridded sea surface temperature and sea ice fraction",
        variables=(
            SampleVariable(
                "analysed_sst", "sea_surface_foundation_temperature", "K", "Analysed SST", 290.0
            ),
            SampleVariable(
                "sea_ice_fraction", "sea_ice_area_fraction", "1", "Sea ice fraction", 0.5, 0.001
            ),
        ),
        times=_daily("2020-01-01", 731),
        latitudes=_grid(-89.5, 1.0, 180),
        longitudes=_grid(-179.5, 1.0, 360),
        versions={"202311": ("default",)},
        chunks={
            "timeChunked": {"time": 1, "latitude": 180, "longitude": 360},
            "geoChunked": {"time": 366, "latitude": 16, "longitude": 16},
        },
        doi="10.48670/moi-00165",
        # zarr-python 2's default compressor, which xarray wrote Zarr v2 stores with
        compressor={"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
    ),
    SampleDataset(
        dataset_id="cmems_mod_glo_phy-thetao_anfc_1deg_P1D-m",
        product_id="GLOBAL_ANALYSISFORECAST_PHY_001_024",
        product_title="Global Ocean Physics Analysis and Forecast",
        title="daily mean potential temperature and salinity on 10 depth levels",
        variables=(
            SampleVariable(
                "thetao", "sea_water_potential_temperature", "degrees_C", "Temperature", 12.0
            ),
            SampleVariable("so", "sea_water_salinity", "1e-3", "Salinity", 35.0, 0.1),
        ),
        times=_daily("2023-01-01", 365),
        depths=(0.494, 1.541, 2.646, 5.078, 10.536, 21.6, 47.37, 109.7, 222.5, 541.1),
        latitudes=_grid(-79.5, 1.0, 160),
        longitudes=_grid(-179.5, 1.0, 360),
        versions={"202406": ("default",)},
        chunks={
            "timeChunked": {"time": 1, VERTICAL: 1, "latitude": 160, "longitude": 360},
            "geoChunked": {"time": 365, VERTICAL: 1, "latitude": 32, "longitude": 32},
        },
        doi="10.48670/moi-00016",
        # A forecast keeps a rolling window: the first stored days are no longer valid.
        item_properties={("202406", "default"): {"admp_valid_start_date": "2023-01-15T00:00:00Z"}},
    ),
    SampleDataset(
        dataset_id="cmems_mod_glo_phy_my_1deg_P1M-m",
        product_id="GLOBAL_MULTIYEAR_PHY_001_030",
        product_title="Global Ocean Physics Reanalysis",
        title="monthly mean sea surface height",
        variables=(
            SampleVariable(
                "zos", "sea_surface_height_above_geoid", "m", "Sea surface height", 0.2, 0.01
            ),
        ),
        times=_monthly(2018, 48),
        latitudes=_grid(-59.5, 1.0, 120),
        longitudes=_grid(-179.5, 1.0, 360),
        versions={
            "202112": ("default", "interim"),
            "202311": ("default", "interim"),
            "202506": ("default",),
        },
        chunks={
            "timeChunked": {"time": 1, "latitude": 120, "longitude": 360},
            "geoChunked": {"time": 48, "latitude": 30, "longitude": 30},
        },
        time_step="P1M",
        doi="10.48670/moi-00021",
        item_properties={
            ("202112", "interim"): {"admp_retired_date": "2024-06-30T00:00:00Z"},
            ("202506", "default"): {"admp_in_preparation": True},
        },
    ),
)


def find_dataset(dataset_id: str) -> SampleDataset:
    for dataset in DATASETS:
        if dataset.dataset_id == dataset_id:
            return dataset
    raise KeyError(dataset_id)


def json_bytes(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")
