"""What the store's data ids are and how each is described.

Each data id names a Sentinel Hub data collection. Band names, units and sample types
come from sentinelhub-py's band tables (taken from the service documentation); native
resolutions and fill values are added here. Which data ids an instance offers, and their
extents, come from the instance's catalog (``/api/v1/catalog/1.0.0/collections``).
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eostores.errors import InvalidParameterError

from .config import COLLECTION_ID_PATTERN, MOSAICKING_ORDERS, SAMPLE_TYPES

if TYPE_CHECKING:
    from sentinelhub import DataCollection

    from eostores.descriptor import DatasetDescriptor
    from eostores.schema import JsonObjectSchema

__all__ = [
    "CUSTOM_DATA_ID",
    "DATA_IDS",
    "BandInfo",
    "DatasetInfo",
    "dataset_info",
    "describe_dataset",
]

#: The data id of BYOC and other custom collections, opened with ``collection_id``.
CUSTOM_DATA_ID = "CUSTOM"

# data id: title, catalog collection id, DataCollection used for requests, band sources,
# native resolution in metres, per-band resolutions
_TABLE: dict[str, tuple[str, str | None, str, tuple[str, ...], float, dict[str, float]]] = {
    "S1GRD": (
        "Sentinel-1 GRD (C-band SAR backscatter)",
        "sentinel-1-grd",
        "SENTINEL1",
        ("SENTINEL1_IW", "SENTINEL1_EW"),
        10.0,
        {},
    ),
    "S2L1C": (
        "Sentinel-2 L1C (top-of-atmosphere reflectance)",
        "sentinel-2-l1c",
        "SENTINEL2_L1C",
        ("SENTINEL2_L1C",),
        10.0,
        {
            **dict.fromkeys(("B01", "B09", "B10"), 60.0),
            **dict.fromkeys(("B05", "B06", "B07", "B8A", "B11", "B12"), 20.0),
            **dict.fromkeys(("CLP", "CLM"), 160.0),
            **dict.fromkeys(
                ("sunAzimuthAngles", "sunZenithAngles", "viewAzimuthMean", "viewZenithMean"),
                5000.0,
            ),
        },
    ),
    "S2L2A": (
        "Sentinel-2 L2A (bottom-of-atmosphere reflectance)",
        "sentinel-2-l2a",
        "SENTINEL2_L2A",
        ("SENTINEL2_L2A",),
        10.0,
        {
            **dict.fromkeys(("B01", "B09"), 60.0),
            **dict.fromkeys(("B05", "B06", "B07", "B8A", "B11", "B12", "SCL", "SNW", "CLD"), 20.0),
            **dict.fromkeys(("CLP", "CLM"), 160.0),
            **dict.fromkeys(
                ("sunAzimuthAngles", "sunZenithAngles", "viewAzimuthMean", "viewZenithMean"),
                5000.0,
            ),
        },
    ),
    "S3OLCI": (
        "Sentinel-3 OLCI L1B (top-of-atmosphere reflectance)",
        "sentinel-3-olci",
        "SENTINEL3_OLCI",
        ("SENTINEL3_OLCI",),
        300.0,
        {},
    ),
    "S3SLSTR": (
        "Sentinel-3 SLSTR L1B (reflectance and brightness temperature)",
        "sentinel-3-slstr",
        "SENTINEL3_SLSTR",
        ("SENTINEL3_SLSTR",),
        500.0,
        dict.fromkeys(("S7", "S8", "S9", "F1", "F2"), 1000.0),
    ),
    "S5PL2": (
        "Sentinel-5P L2 (atmospheric trace gases)",
        "sentinel-5p-l2",
        "SENTINEL5P",
        ("SENTINEL5P",),
        5500.0,
        {},
    ),
    "L8L1C": (
        "Landsat 8 L1C (legacy collection)",
        "landsat-8-l1c",
        "LANDSAT8_L1C",
        ("LANDSAT_OT_L1",),
        30.0,
        {"B08": 15.0},
    ),
    "LOTL1": (
        "Landsat 8-9 OLI/TIRS L1",
        "landsat-ot-l1",
        "LANDSAT_OT_L1",
        ("LANDSAT_OT_L1",),
        30.0,
        {"B08": 15.0},
    ),
    "LOTL2": (
        "Landsat 8-9 OLI/TIRS L2 (surface reflectance and temperature)",
        "landsat-ot-l2",
        "LANDSAT_OT_L2",
        ("LANDSAT_OT_L2",),
        30.0,
        {},
    ),
    "DEM": ("Digital elevation model", None, "DEM", ("DEM",), 30.0, {}),
}

#: Every data id the store knows, in listing order.
DATA_IDS = (*_TABLE, CUSTOM_DATA_ID)

# the Process API has no 32-bit integer samples: such bands are delivered as FLOAT32
_DTYPES_BY_NUMPY = {
    "uint32": "FLOAT32",
    "int32": "FLOAT32",
    "float64": "FLOAT32",
    "bool": "UINT8",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "int8": "INT8",
    "int16": "INT16",
    "float32": "FLOAT32",
}


@dataclass(frozen=True)
class BandInfo:
    """A band: its units (the first is the service default) and matching sample types."""

    name: str
    units: tuple[str, ...]
    sample_types: tuple[str, ...]
    resolution_m: float | None = None

    @property
    def default_unit(self) -> str:
        return self.units[0]

    def sample_type_for(self, unit: str | None) -> str:
        """The natural sample type of the band in ``unit`` (default unit when None)."""
        if unit in self.units:
            return self.sample_types[self.units.index(unit)]
        return self.sample_types[0]

    def fill_value_for(self, sample_type: str) -> float | int:
        """NaN for floating point samples, 0 (the service's no-data value) otherwise."""
        return math.nan if SAMPLE_TYPES[sample_type].startswith("float") else 0


@dataclass(frozen=True)
class DatasetInfo:
    """A data id: its collection for catalog and Process API, and its bands."""

    data_id: str
    title: str
    catalog_id: str | None
    collection_name: str
    bands: tuple[BandInfo, ...]
    native_resolution_m: float | None

    @property
    def band_names(self) -> list[str]:
        return [band.name for band in self.bands]

    @property
    def timeless(self) -> bool:
        return self.data_id == "DEM"

    @property
    def custom(self) -> bool:
        return self.data_id == CUSTOM_DATA_ID

    @property
    def mosaicking_orders(self) -> tuple[str, ...]:
        """The mosaicking orders the Process API offers for the collection: leastCC only
        where acquisitions carry cloud cover (not S1, S3 OLCI, S5P, DEM, BYOC or batch)."""
        if self.custom or not self.data_collection().has_cloud_coverage:
            return tuple(order for order in MOSAICKING_ORDERS if order != "leastCC")
        return MOSAICKING_ORDERS

    def data_collection(self, collection_id: str | None = None) -> DataCollection:
        """The sentinelhub-py collection to request: a BYOC/batch one for ``collection_id``."""
        from sentinelhub import DataCollection

        if collection_id:
            return _custom_collection(collection_id)
        if self.custom:
            raise InvalidParameterError(
                f"data id {CUSTOM_DATA_ID!r} needs collection_id (a BYOC or batch collection id)",
                data_id=self.data_id,
                parameter="collection_id",
            )
        if self.collection_name == "LANDSAT8_L1C":
            return _landsat8_l1c()
        return getattr(DataCollection, self.collection_name)


_DEFINE_LOCK = threading.Lock()  # sentinelhub-py extends its collection enum on definition


def _custom_collection(collection_id: str) -> DataCollection:
    from sentinelhub import DataCollection

    text = collection_id.strip()
    batch = text.startswith("batch-")
    if re.fullmatch(COLLECTION_ID_PATTERN, text) is None:
        raise InvalidParameterError(
            f"collection_id = {collection_id!r}: expected a BYOC collection id such as "
            "'byoc-3f4a...' or a batch collection id 'batch-...'",
            parameter="collection_id",
        )
    text = text.removeprefix("batch-").removeprefix("byoc-")
    with _DEFINE_LOCK:
        if batch:
            return DataCollection.define_batch(text)
        return DataCollection.define_byoc(text)


@functools.cache
def _landsat8_l1c() -> DataCollection:
    from sentinelhub import DataCollection

    source = DataCollection.LANDSAT_OT_L1
    with _DEFINE_LOCK:
        return DataCollection.define(
            "LANDSAT8_L1C",
            api_id="landsat-8-l1c",
            catalog_id="landsat-8-l1c",
            collection_type="Landsat 8",
            bands=source.bands,
            metabands=source.metabands,
            has_cloud_coverage=True,
        )


def _band_infos(sources: Sequence[str], main: str, base: float, overrides: Mapping) -> tuple:
    from sentinelhub import DataCollection

    seen: dict[str, BandInfo] = {}
    collections = [getattr(DataCollection, name) for name in sources]
    if main != "LANDSAT8_L1C":
        collections.append(getattr(DataCollection, main))
    bands = [band for c in collections for band in c.value.bands or ()]
    metabands = [band for c in collections for band in c.value.metabands or ()]
    for band in (*bands, *metabands):
        if band.name == "dataMask" or band.name in seen:
            continue
        seen[band.name] = BandInfo(
            name=band.name,
            units=tuple(unit.value for unit in band.units),
            sample_types=tuple(
                _DTYPES_BY_NUMPY[getattr(t, "__name__", str(t))] for t in band.output_types
            ),
            resolution_m=float(overrides.get(band.name, base)),
        )
    return tuple(seen.values())


@functools.cache
def dataset_info(data_id: str) -> DatasetInfo | None:
    """The description of a known data id, or None."""
    if data_id == CUSTOM_DATA_ID:
        return DatasetInfo(
            CUSTOM_DATA_ID,
            "Custom (BYOC or batch) collection, chosen with collection_id",
            None,
            "",
            (),
            None,
        )
    row = _TABLE.get(data_id)
    if row is None:
        return None
    title, catalog_id, main, sources, base, overrides = row
    return DatasetInfo(
        data_id, title, catalog_id, main, _band_infos(sources, main, base, overrides), base
    )


def data_id_for_catalog_collection(collection_id: str) -> str | None:
    """The data id of a catalog collection id, if it is a known one."""
    return next((k for k, row in _TABLE.items() if row[1] == collection_id), None)


def band_infos_from_collection(document: Mapping[str, Any]) -> tuple[BandInfo, ...]:
    """Bands of a custom collection from its catalog document (``summaries['eo:bands']``)."""
    summaries = document.get("summaries") or {}
    bands = summaries.get("eo:bands") or []
    infos = []
    for band in bands:
        name = band.get("name") if isinstance(band, Mapping) else None
        if isinstance(name, str) and name and name != "dataMask":
            infos.append(BandInfo(name, ("DN",), ("FLOAT32",), None))
    return tuple(infos)


def collection_extent(
    document: Mapping[str, Any] | None,
) -> tuple[tuple[float, float, float, float] | None, tuple[str | None, str | None] | None]:
    """(bbox, time_range) of a STAC collection document's ``extent``."""
    if not document:
        return None, None
    extent = document.get("extent") or {}
    bbox = None
    boxes = (extent.get("spatial") or {}).get("bbox") or []
    if boxes and isinstance(boxes[0], Sequence) and len(boxes[0]) == 4:
        bbox = tuple(float(v) for v in boxes[0])
    time_range = None
    intervals = (extent.get("temporal") or {}).get("interval") or []
    if intervals and isinstance(intervals[0], Sequence) and len(intervals[0]) == 2:
        time_range = (intervals[0][0], intervals[0][1])
    return bbox, time_range  # type: ignore[return-value]


def describe_dataset(
    info: DatasetInfo,
    document: Mapping[str, Any] | None,
    open_params_schema: JsonObjectSchema | None,
) -> DatasetDescriptor:
    """A descriptor from the band table and the catalog document; no data is requested."""
    from eostores.descriptor import DatasetDescriptor, VariableDescriptor

    bands = info.bands or (band_infos_from_collection(document) if document else ())
    bbox, time_range = collection_extent(document)
    if info.timeless:
        bbox, time_range = bbox or (-180.0, -90.0, 180.0, 90.0), None
    dims = ("time", "lat", "lon")
    data_vars = {}
    for band in bands:
        sample_type = band.sample_type_for(None)
        attrs: dict[str, Any] = {
            "units": band.default_unit,
            "sample_type": sample_type,
            "allowed_units": list(band.units),
        }
        fill = band.fill_value_for(sample_type)
        if not (isinstance(fill, float) and math.isnan(fill)):
            attrs["_FillValue"] = fill
        if band.resolution_m is not None:
            attrs["native_resolution_m"] = band.resolution_m
        data_vars[band.name] = VariableDescriptor(
            band.name, SAMPLE_TYPES[sample_type], dims, attrs=attrs
        )
    attrs: dict[str, Any] = {"title": info.title}
    if info.catalog_id:
        attrs["collection_id"] = info.catalog_id
    if info.native_resolution_m is not None:
        attrs["native_resolution_m"] = info.native_resolution_m
    if document and document.get("description"):
        attrs["description"] = document["description"]
    return DatasetDescriptor(
        data_id=info.data_id,
        crs="EPSG:4326",
        bbox=bbox,
        time_range=time_range,
        data_vars=data_vars,
        attrs=attrs,
        open_params_schema=open_params_schema,
    )
