"""Which data ids exist and how each is described, from the service's metadata (cached).

* the ids: the ``drsId`` options of the OpenSearch description;
* a dataset: its collection feature (the collection's uuid and links), its ISO 19115 record
  (title, abstract, bbox, time extent) and the DDS/DAS of one of its files (variables,
  dimensions, dtypes, fill values, chunk sizes, time steps per file and the variable of
  their bounds) and the number of its files.

DAP2 has no signed byte: THREDDS serves a NetCDF ``byte`` as ``Byte`` with the attribute
``_Unsigned "false"``, which makes the variable int8 here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import DataNotFoundError, InvalidParameterError, ServiceError

from .api import Description, FileFeature, OdpApi, api_for, collection_links, parse_instant
from .config import DRS_FIELDS, FACETS, STORE_ID, OdpConnection, check_service_href

if TYPE_CHECKING:
    from eostores.descriptor import DatasetDescriptor
    from eostores.schema import JsonObjectSchema

__all__ = [
    "Catalog",
    "DatasetInfo",
    "VariableInfo",
    "drs_parts",
    "time_period_of",
]

#: Chunk edge used when a file does not tell its chunking.
DEFAULT_CHUNK = 1024
_DAP_BOOKKEEPING = {"dimensions", "_ChunkSizes", "DODS", "_Netcdf4Dimid", "_NCProperties"}
_PERIODS = {
    "day": "1D",
    "5-days": "5D",
    "8-days": "8D",
    "15-days": "15D",
    "mon": "1M",
    "month": "1M",
    "yr": "1Y",
    "year": "1Y",
}


@dataclass(frozen=True)
class VariableInfo:
    """A data variable on the (time, lat, lon) grid of the files."""

    name: str
    dtype: str
    chunks: tuple[int, int, int]
    fill_value: Any
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class DatasetInfo:
    """Everything the store knows about a dataset without reading data."""

    data_id: str
    collection_id: str
    title: str
    abstract: str | None
    bbox: tuple[float, float, float, float] | None
    time_start: str | None
    time_end: str | None
    num_files: int
    sample_url: str
    lat_name: str
    lon_name: str
    time_name: str
    lat_size: int
    lon_size: int
    variables: dict[str, VariableInfo] = field(hash=False, compare=False)
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: time steps in the sampled file; more than one: each file's steps are read when opening
    steps_per_file: int = 1
    #: the variable holding the bounds of the time steps (CF ``bounds``), if any
    time_bounds: str | None = None

    @property
    def extent(self) -> tuple[datetime, datetime] | None:
        """The time extent as datetimes, if the record gives one."""
        if not self.time_start or not self.time_end:
            return None
        start, end = parse_instant(self.time_start), parse_instant(self.time_end)
        return (start, end) if start is not None and end is not None else None

    @property
    def spatial_res(self) -> float | None:
        if self.bbox is None or not self.lat_size:
            return None
        return round((self.bbox[3] - self.bbox[1]) / self.lat_size, 10)


def drs_parts(data_id: str) -> dict[str, str]:
    """The named parts of a DRS id (empty if it has not the ten parts of one)."""
    parts = data_id.split(".")
    if len(parts) != len(DRS_FIELDS):
        return {}
    return dict(zip(DRS_FIELDS, parts, strict=True))


def time_period_of(data_id: str) -> str | None:
    """The time period of a DRS id's frequency (``1D``, ``1M``, ...), if regular."""
    return _PERIODS.get(drs_parts(data_id).get("frequency", "").lower())


def _normal(value: str) -> str:
    return value.strip().lower().replace(".", "-")


class Catalog:
    """The service's catalogue as the ``cciodp`` store sees it; one per store."""

    def __init__(self, connection: OdpConnection):
        self.connection = connection
        self._lock = threading.Lock()
        self._description: tuple[float, Description] | None = None
        self._infos: dict[str, DatasetInfo] = {}

    @property
    def api(self) -> OdpApi:
        return api_for(self.connection)

    # -- ids

    def description(self) -> Description:
        """The OpenSearch description, refreshed after ``catalogue_ttl`` seconds."""
        now = time.monotonic()
        with self._lock:
            held = self._description
        if held is not None and now - held[0] < self.connection.catalogue_ttl:
            return held[1]
        description = self.api.description()
        with self._lock:
            self._description = (now, description)
        return description

    def data_ids(self) -> list[str]:
        return [option.value for option in self.description().options("drsId")]

    def file_counts(self) -> dict[str, int | None]:
        return {o.value: o.count for o in self.description().options("drsId")}

    def has(self, data_id: str) -> bool:
        return data_id in self.file_counts()

    # -- datasets

    def info(self, data_id: str) -> DatasetInfo:
        """What the metadata say about ``data_id`` (DataNotFoundError if it is unknown)."""
        with self._lock:
            known = self._infos.get(data_id)
        if known is not None:
            return known
        if not self.has(data_id):
            raise DataNotFoundError(
                "no such data id in the catalogue of the service",
                store_id=STORE_ID,
                data_id=data_id,
            )
        info = self._load(data_id)
        with self._lock:
            self._infos[data_id] = info
        return info

    def _load(self, data_id: str) -> DatasetInfo:
        api = self.api
        feature = api.collection(data_id)
        properties = feature["properties"]
        collection_id = str(properties.get("identifier") or "")
        if not collection_id:
            collection_id = str(feature.get("id", "")).rpartition("=")[2]
        if not collection_id:
            raise ServiceError("the collection feature has no identifier", data_id=data_id)
        iso_url = collection_links(feature, "describedby").get("iso19115")
        record = None
        if iso_url:
            record = api.iso_record(check_service_href(iso_url, "ISO 19115 URL", data_id), data_id)
        total, samples = api.sample_files(collection_id, data_id)
        readable = [s for s in samples if s.opendap_url]
        if not readable:
            raise ServiceError(
                "the service lists no NetCDF file with an OPeNDAP URL for this dataset; "
                "cciodp opens gridded NetCDF datasets",
                data_id=data_id,
            )
        sample = readable[len(readable) // 2]
        assert sample.opendap_url is not None
        variables = api.dds(sample.opendap_url, data_id)
        attributes = api.das(sample.opendap_url, data_id)
        lat, lon, time_name = _grid_names(variables, attributes, data_id)
        cube_vars = {
            name: _variable_info(name, variable.dtype, variable.shape, attributes.get(name, {}))
            for name, variable in variables.items()
            if variable.dims == (time_name, lat, lon)
        }
        if not cube_vars:
            raise ServiceError(
                f"the files have no variables on a ({time_name}, {lat}, {lon}) grid",
                data_id=data_id,
            )
        title = (record.title if record else None) or str(properties.get("title") or data_id)
        steps = variables[time_name].shape[0] if variables[time_name].shape else 1
        return DatasetInfo(
            data_id=data_id,
            collection_id=collection_id,
            title=title,
            abstract=record.abstract if record else None,
            bbox=record.bbox if record else None,
            time_start=record.time_start if record else None,
            time_end=record.time_end if record else None,
            num_files=total,
            sample_url=sample.opendap_url,
            lat_name=lat,
            lon_name=lon,
            time_name=time_name,
            lat_size=variables[lat].shape[0],
            lon_size=variables[lon].shape[0],
            variables=cube_vars,
            attrs=_public_attrs(attributes.get("NC_GLOBAL", {})),
            steps_per_file=max(1, steps),
            time_bounds=_bounds_name(variables, attributes.get(time_name, {}), steps),
        )

    def files(
        self, info: DatasetInfo, start: datetime | None, end: datetime | None
    ) -> list[FileFeature]:
        """The files of a dataset overlapping ``start..end``, in time order."""
        return self.api.file_features(
            info.collection_id, info.data_id, start, end, extent=info.extent
        )

    # -- descriptors and search

    def descriptor(self, info: DatasetInfo, schema: JsonObjectSchema) -> DatasetDescriptor:
        from eostores.descriptor import DatasetDescriptor, VariableDescriptor

        grid = ("time", "lat", "lon")
        data_vars = {
            name: VariableDescriptor(name, v.dtype, grid, chunks=v.chunks, attrs=v.attrs)
            for name, v in info.variables.items()
        }
        coords = {
            "time": VariableDescriptor("time", "datetime64[ns]", ("time",)),
            "lat": VariableDescriptor("lat", "float64", ("lat",), attrs={"units": "degrees_north"}),
            "lon": VariableDescriptor("lon", "float64", ("lon",), attrs={"units": "degrees_east"}),
        }
        time_range = None
        if info.time_start or info.time_end:
            time_range = (
                info.time_start[:10] if info.time_start else None,
                info.time_end[:10] if info.time_end else None,
            )
        attrs = {"title": info.title, "abstract": info.abstract, **info.attrs}
        return DatasetDescriptor(
            data_id=info.data_id,
            crs="EPSG:4326",
            bbox=info.bbox,
            time_range=time_range,
            time_period=time_period_of(info.data_id),
            spatial_res=info.spatial_res,
            dims={
                "time": info.num_files * info.steps_per_file,
                "lat": info.lat_size,
                "lon": info.lon_size,
            },
            coords=coords,
            data_vars=data_vars,
            attrs={k: v for k, v in attrs.items() if v is not None},
            open_params_schema=schema,
        )

    def facet_filter(self, params: Mapping[str, Any]) -> dict[str, set[str]]:
        """The facet values asked for, checked against the description's options."""
        wanted: dict[str, set[str]] = {}
        description = None
        for name, facet in FACETS.items():
            value = params.get(name)
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            description = description or self.description()
            options = {_normal(o.value): o.value for o in description.options(facet)}
            unknown = [v for v in values if _normal(v) not in options]
            if unknown:
                shown = ", ".join(sorted(options.values())[:40]) or "none"
                raise InvalidParameterError(
                    f"{name} = {unknown[0]!r} is no value of the facet {facet!r}; allowed: {shown}",
                    store_id=STORE_ID,
                    parameter=name,
                )
            wanted[name] = {_normal(v) for v in values}
        return wanted

    @staticmethod
    def facets_match(data_id: str, wanted: Mapping[str, Iterable[str]]) -> bool:
        parts = drs_parts(data_id)
        return all(_normal(parts.get(name, "")) in set(values) for name, values in wanted.items())


def _grid_names(
    variables: Mapping[str, Any], attributes: Mapping[str, Mapping[str, Any]], data_id: str
) -> tuple[str, str, str]:
    """The names of the latitude, longitude and time coordinates of the files."""
    found: dict[str, str] = {}
    for name, variable in variables.items():
        if variable.dims != (name,):
            continue
        attrs = attributes.get(name, {})
        standard = str(attrs.get("standard_name", "")).lower()
        units = str(attrs.get("units", "")).lower()
        if (
            standard == "latitude"
            or units in ("degrees_north", "degree_north")
            or name
            in (
                "lat",
                "latitude",
            )
        ):
            found.setdefault("lat", name)
        elif (
            standard == "longitude"
            or units in ("degrees_east", "degree_east")
            or name
            in (
                "lon",
                "longitude",
            )
        ):
            found.setdefault("lon", name)
        elif standard == "time" or name == "time":
            found.setdefault("time", name)
    missing = [axis for axis in ("lat", "lon", "time") if axis not in found]
    if missing:
        raise ServiceError(
            f"the files have no {' and '.join(missing)} coordinate; cciodp opens gridded "
            "NetCDF datasets",
            data_id=data_id,
        )
    return found["lat"], found["lon"], found["time"]


def _bounds_name(variables: Mapping[str, Any], attrs: Mapping[str, Any], steps: int) -> str | None:
    """The variable the time coordinate names as its ``bounds``, if the files have it with
    two values per time step."""
    name = attrs.get("bounds")
    variable = variables.get(name) if isinstance(name, str) else None
    return name if variable is not None and variable.shape == (steps, 2) else None


def _signed_bytes(dtype: str, attrs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The dtype of a variable once ``_Unsigned`` is applied to a DAP2 ``Byte`` (uint8), and
    its attributes without it."""
    if np.dtype(dtype).itemsize != 1 or "_Unsigned" not in attrs:
        return dtype, dict(attrs)
    unsigned = str(attrs["_Unsigned"]).strip().lower()
    rest = {k: v for k, v in attrs.items() if k != "_Unsigned"}
    return ("int8" if unsigned == "false" else "uint8"), rest


def _variable_info(
    name: str, dtype: str, shape: tuple[int, ...], attrs: Mapping[str, Any]
) -> VariableInfo:
    sizes = attrs.get("_ChunkSizes")
    if isinstance(sizes, int | float):
        sizes = [sizes]
    if (
        isinstance(sizes, list)
        and len(sizes) == 3
        and all(isinstance(s, int | float) for s in sizes)
    ):
        chunks = (1, max(1, min(int(sizes[1]), shape[1])), max(1, min(int(sizes[2]), shape[2])))
    else:
        chunks = (1, min(shape[1], DEFAULT_CHUNK), min(shape[2], DEFAULT_CHUNK))
    fill = attrs.get("_FillValue", attrs.get("missing_value"))
    if isinstance(fill, list):
        fill = fill[0] if fill else None
    dtype, attrs = _signed_bytes(dtype, attrs)
    return VariableInfo(name, dtype, chunks, fill, _public_attrs(attrs))


def _public_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        str(k): v for k, v in attrs.items() if k not in _DAP_BOOKKEEPING and not isinstance(v, dict)
    }
