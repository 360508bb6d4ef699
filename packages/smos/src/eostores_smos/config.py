"""Store parameters, defaults, endpoints, the grid definition and the validated requests.

Cheap to import: neither numpy nor xarray is loaded here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eostores.credentials import Secret
from eostores.http import HttpConfig

__all__ = [
    "BLOCK_SIZE",
    "DATASETS",
    "DATA_IDS",
    "DEFAULT_ENDPOINT_URL",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_SOURCE_PATH",
    "DEFAULT_STAC_URL",
    "DGG_NUM_GRID_POINTS",
    "EARTH_RADIUS_KM",
    "HTTP_DEFAULTS",
    "LEVEL0_HEIGHT",
    "LEVEL0_RES",
    "LEVEL0_WIDTH",
    "MAX_POINT_DISTANCE_KM",
    "MAX_PRODUCTS_PER_DAY",
    "MIN_SEARCH_WINDOW",
    "NUM_LEVELS",
    "PRODUCT_NAME_PATTERN",
    "SEARCH_WINDOW",
    "SOURCE_PROTOCOLS",
    "STAC_MAX_SKIP",
    "STAC_PAGE_LIMIT",
    "STORE_ID",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Y_MAX",
    "ArchiveSpec",
    "CubeRequest",
    "DatasetInfo",
    "Product",
    "VariableInfo",
    "dataset_info",
]

STORE_ID = "smos"

#: The SMOS collection of the CREODIAS datahub's STAC API, next to the archive below (the
#: default of xcube-smos too); items are read from ``<stac_url>/items``. Its items carry
#: ``properties.productType`` and ``assets.PRODUCT.alternate.s3.href``, which the store reads.
DEFAULT_STAC_URL = "https://datahub.creodias.eu/stac/collections/SMOS"
#: The archive holding the products: the ``eodata`` bucket of CREODIAS.
DEFAULT_SOURCE_PATH = "s3://eodata"
DEFAULT_ENDPOINT_URL = "https://eodata.cloudferro.com"
#: Environment variables holding the archive's S3 credentials.
KEY_ENV = ("CREODIAS_S3_KEY",)
SECRET_ENV = ("CREODIAS_S3_SECRET",)

SOURCE_PROTOCOLS = ("s3", "https", "http", "file")

#: Items per catalogue page.
STAC_PAGE_LIMIT = 100
#: The catalogue skips at most this many items: a page with ``(page - 1) * limit`` beyond
#: it is refused (CREODIAS and CDSE catalogues since 2024-11-12).
STAC_MAX_SKIP = 10_000
#: Searches are made in time windows this long at first (about 170 items a day in the
#: whole collection, so well below the skip limit); a window holding more items than the
#: catalogue pages through is halved, down to the minimum.
SEARCH_WINDOW = timedelta(days=20)
MIN_SEARCH_WINDOW = timedelta(hours=1)

HTTP_DEFAULTS: dict[str, Any] = {
    "num_retries": 5,
    "retry_backoff_base": 0.5,
    "retry_backoff_max": 30.0,
    "max_concurrency_per_host": 8,
}

#: Bytes fetched at least per range request into a product file.
BLOCK_SIZE = 256 * 1024

# -- the grid ---------------------------------------------------------------------------------

#: The regular lon/lat grid of level 0 (the finest): 8192 x 4032 pixels of 360/8192 degrees,
#: between latitudes -88.59375 and 88.59375; each further level halves both axes.
LEVEL0_RES = 360.0 / 8192
LEVEL0_WIDTH = 8192
LEVEL0_HEIGHT = 4032
Y_MAX = LEVEL0_HEIGHT * LEVEL0_RES / 2
NUM_LEVELS = 5
#: Spatial chunk size (rows, columns) of every level.
TILE_HEIGHT = 504
TILE_WIDTH = 512

#: The SMOS discrete global grid (ISEA 4H9): 2 621 442 points about 15 km apart, whose
#: hexagonal cells reach about 8.7 km from their centres. A pixel takes the value of the
#: product's grid point nearest to its centre, if one lies within this distance (the
#: margin covers the cells' distortion); farther pixels are empty.
DGG_NUM_GRID_POINTS = 2_621_442
MAX_POINT_DISTANCE_KM = 11.0
EARTH_RADIUS_KM = 6371.0

#: Half-orbit products per day and product type are about 29; a cube laid out before the
#: search assumes at most this many, to refuse absurd requests before any request.
MAX_PRODUCTS_PER_DAY = 32
#: The default bound of a cube (all variables and time steps, 4 bytes per value).
DEFAULT_MAX_REQUEST_BYTES = 1024**4

#: ``<class>_<MIR_type>_<start>_<stop>_<processor version>_<counter>_<site>``
PRODUCT_NAME_PATTERN = re.compile(
    r"^SM_(?P<file_class>OPER|REPR)_MIR_(?P<kind>SMUDP2|OSUDP2)_"
    r"(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})_"
    r"(?P<version>\d{3})_(?P<counter>\d{3})_(?P<site>\d)$"
)


# -- data ids -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariableInfo:
    """A variable of the cube: its name in the products, units and description.

    Every variable is delivered as float32 with NaN where the product has its fill value
    or no grid point; ``source_dtype`` and ``source_fill_value`` say how the products store
    it.
    """

    name: str
    units: str
    long_name: str
    source_dtype: str
    source_fill_value: float | int

    def attrs(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "long_name": self.long_name,
            "source_dtype": self.source_dtype,
            "source_fill_value": self.source_fill_value,
        }


@dataclass(frozen=True)
class DatasetInfo:
    """A data id: the product type behind it and the variables of its cubes."""

    data_id: str
    title: str
    product_type: str
    archive_folder: str
    variables: tuple[VariableInfo, ...]

    @property
    def variable_names(self) -> list[str]:
        return [v.name for v in self.variables]

    def variable(self, name: str) -> VariableInfo:
        return next(v for v in self.variables if v.name == name)


def _var(name: str, units: str, long_name: str, dtype: str, fill: float | int) -> VariableInfo:
    return VariableInfo(name, units, long_name, dtype, fill)


_SM = DatasetInfo(
    "SMOS-L2C-SM",
    "SMOS Level-2 Soil Moisture (L2C swath products gridded)",
    "MIR_SMUDP2",
    "SMOS/L2SM/MIR_SMUDP2",
    (
        _var("Soil_Moisture", "m3 m-3", "retrieved soil moisture", "float32", -999.0),
        _var("Soil_Moisture_DQX", "m3 m-3", "soil moisture data quality index", "float32", -999.0),
        _var("Chi_2", "1", "normalised retrieval cost function", "uint8", 0),
        _var("Chi_2_P", "1", "chi-square probability of the retrieval", "uint8", 0),
        _var("N_RFI_X", "1", "views flagged for RFI, X polarisation", "uint16", 0),
        _var("N_RFI_Y", "1", "views flagged for RFI, Y polarisation", "uint16", 0),
        _var("RFI_Prob", "1", "probability of RFI", "uint8", 0),
        _var("X_Swath", "km", "across-track distance from the swath centre", "int16", 0),
    ),
)

_OS = DatasetInfo(
    "SMOS-L2C-OS",
    "SMOS Level-2 Ocean Salinity (L2C swath products gridded)",
    "MIR_OSUDP2",
    "SMOS/L2OS/MIR_OSUDP2",
    (
        _var(
            "Mean_acq_time",
            "days",
            "mean acquisition time, days since 2000-01-01",
            "float32",
            -999.0,
        ),
        _var("SSS_corr", "psu", "sea surface salinity, corrected for roughness", "float32", -999.0),
        _var("Sigma_SSS_corr", "psu", "uncertainty of SSS_corr", "float32", -999.0),
        _var("SSS_anom", "psu", "sea surface salinity anomaly", "float32", -999.0),
        _var("Sigma_SSS_anom", "psu", "uncertainty of SSS_anom", "float32", -999.0),
        _var("Dg_chi2_corr", "1", "retrieval chi-square of SSS_corr", "uint16", 0),
        _var("Dg_quality_SSS_corr", "1", "quality index of SSS_corr", "uint16", 999),
        _var("Dg_quality_SSS_anom", "1", "quality index of SSS_anom", "uint16", 999),
        _var("Coast_distance", "km", "distance to the coast", "uint8", 0),
        _var("Dg_RFI_X", "1", "views flagged for RFI, X polarisation", "uint16", 64537),
        _var("Dg_RFI_Y", "1", "views flagged for RFI, Y polarisation", "uint16", 64537),
        _var("X_swath", "m", "across-track distance from the swath centre", "float32", -999.0),
    ),
)

DATASETS: dict[str, DatasetInfo] = {info.data_id: info for info in (_SM, _OS)}
DATA_IDS = tuple(DATASETS)


def dataset_info(data_id: str) -> DatasetInfo | None:
    """The description of ``data_id``, or None if the store has no such data."""
    return DATASETS.get(data_id)


# -- validated requests and records -----------------------------------------------------------


@dataclass(frozen=True)
class ArchiveSpec:
    """Where the products are and how to read them; picklable, secrets stay wrapped.

    ``root`` is ``source_path`` without its protocol: a bucket (s3), a URL (http/https) or
    a folder (file). A product's path below the archive's top folder is looked up below
    ``root``.
    """

    protocol: str
    root: str
    storage_options: tuple[tuple[str, Any], ...]
    http: HttpConfig
    cache_path: str | None = None
    xarray_kwargs: tuple[tuple[str, Any], ...] = ()
    block_size: int = BLOCK_SIZE

    def options(self) -> dict[str, Any]:
        """The storage options with secrets revealed (for the filesystem only)."""
        return {k: (v.reveal() if isinstance(v, Secret) else v) for k, v in self.storage_options}


@dataclass(frozen=True, order=True)
class Product:
    """One half-orbit product found in the catalogue.

    ``path`` is relative to the archive's top folder, e.g.
    ``SMOS/L2SM/MIR_SMUDP2/2023/04/01/<name>/<name>.nc``.
    """

    time: datetime
    start: datetime
    end: datetime
    name: str
    path: str
    product_type: str = field(compare=False)


@dataclass(frozen=True)
class CubeRequest:
    """Validated open parameters of one cube (or pyramid, with ``level`` None)."""

    data_id: str
    variable_names: tuple[str, ...]
    bbox: tuple[float, float, float, float] | None
    time_start: datetime
    time_end: datetime
    level: int | None
