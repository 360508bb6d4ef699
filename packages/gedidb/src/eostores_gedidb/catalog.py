"""What the database holds and how each data id is described (cached).

The variables come from the array's metadata (``<variable>.<key>`` entries, read by
gedidb's ``get_available_variables``) checked against the array schema: a variable is
offered only when its name is an identifier, its product level is one of the four and
the attributes holding it exist; everything else the metadata says is skipped (text from
the service is hostile until confined). The time extent and footprint of each level come
from the CMR record of the NASA collection it was ingested from.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from eostores.errors import ServiceError

from .api import GediArray, RawMetadata
from .cmr import collection_record
from .config import COORDINATE_NAMES, LEVEL_CONCEPT_IDS, LEVEL_TITLES, STORE_ID
from .variables import ArrayInfo, Domain, ProfileInfo, VariableInfo

__all__ = [
    "Catalog",
    "CollectionInfo",
    "array_info",
    "collection_info",
    "describe",
]

logger = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_TEXT_LIMIT = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CollectionInfo:
    """The parts of a CMR collection record the descriptors use."""

    concept_id: str
    title: str | None
    summary: str | None
    bbox: tuple[float, float, float, float] | None
    time_start: str | None
    time_end: str | None


class Catalog:
    """The array's variables and the levels' CMR records, each read once and kept."""

    def __init__(
        self,
        array: GediArray,
        cmr_session: Callable[[], Any],
        cmr_url: str,
        cache_root: Path,
        ttl: float,
    ):
        self._array = array
        self._cmr_session = cmr_session
        self._cmr_url = cmr_url
        self._cache_root = cache_root
        self._ttl = ttl
        self._lock = threading.Lock()
        self._info: ArrayInfo | None = None
        self._collections: dict[str, CollectionInfo | None] = {}

    def array_info(self) -> ArrayInfo:
        """The array's variables and domain (read on first use)."""
        with self._lock:
            if self._info is None:
                self._info = array_info(self._array.read_metadata())
                if self._info.skipped:
                    logger.debug("metadata entries skipped: %r", list(self._info.skipped))
            return self._info

    def collection(self, level: str) -> CollectionInfo | None:
        """The CMR record of a product level (None when CMR has none)."""
        with self._lock:
            if level in self._collections:
                return self._collections[level]
        concept_id = LEVEL_CONCEPT_IDS[level]
        entry = collection_record(
            self._cmr_session(), self._cmr_url, concept_id, self._cache_root, self._ttl
        )
        info = collection_info(concept_id, entry) if entry is not None else None
        with self._lock:
            self._collections[level] = info
        return info


# -- the array's metadata ---------------------------------------------------------------------


def array_info(raw: RawMetadata) -> ArrayInfo:
    """The offered variables and the domain of the array, from its metadata and schema."""
    variables: dict[str, VariableInfo] = {}
    skipped: list[str] = []
    profiles: dict[str, tuple[tuple[int, ...], str | None, tuple[str, ...]]] = {}
    for name, entry in raw.entries.items():
        if name in COORDINATE_NAMES:
            continue
        level = entry.get("product_level")
        if not _IDENTIFIER.fullmatch(name) or level not in LEVEL_TITLES:
            skipped.append(name)
            continue
        length = _count(entry.get("profile_length"))
        attributes = (
            (name,) if length is None else tuple(f"{name}_{i}" for i in range(1, length + 1))
        )
        if not all(attribute in raw.attributes for attribute in attributes):
            skipped.append(name)
            continue
        if length is not None:
            label_name = entry.get("profile_label_name")
            label_name = (
                label_name
                if isinstance(label_name, str) and _IDENTIFIER.fullmatch(label_name)
                else None
            )
            profiles[name] = (_labels(entry.get("profile_labels"), length), label_name, attributes)
        variables[name] = VariableInfo(
            name=name,
            product_level=level,
            dtype=raw.attributes[attributes[0]],
            units=_text(entry.get("units")),
            description=_text(entry.get("description")),
        )
    dims = _profile_dims(profiles, set(variables) | set(COORDINATE_NAMES))
    for name, (labels, label_name, attributes) in profiles.items():
        profile = ProfileInfo(dims[name], labels, label_name, attributes)
        variables[name] = _with_profile(variables[name], profile)
    return ArrayInfo(variables, _domain(raw.domain), tuple(skipped))


def _with_profile(variable: VariableInfo, profile: ProfileInfo) -> VariableInfo:
    return VariableInfo(
        variable.name,
        variable.product_level,
        variable.dtype,
        variable.units,
        variable.description,
        profile,
    )


def _count(value: Any) -> int | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and 1 <= number <= 10_000 else None


def _labels(value: Any, length: int) -> tuple[int, ...]:
    """The profile labels, when they are ``length`` distinct integers; else 0..length-1."""
    if isinstance(value, str):
        try:
            labels = tuple(int(part) for part in value.split(","))
        except ValueError:
            labels = ()
        if len(labels) == length and len(set(labels)) == length:
            return labels
    return tuple(range(length))


def _profile_dims(
    profiles: Mapping[str, tuple[tuple[int, ...], str | None, tuple[str, ...]]], taken: set[str]
) -> dict[str, str]:
    """One dimension per distinct profile axis: named by its label (``percentile``,
    ``height_m``) when every variable with that label name has the same labels, else by the
    variable (``<variable>_<label>`` or ``<variable>_profile_points``)."""
    by_label: dict[str, set[tuple[int, ...]]] = {}
    for labels, label_name, _ in profiles.values():
        if label_name:
            by_label.setdefault(label_name, set()).add(labels)
    dims: dict[str, str] = {}
    for name, (_, label_name, _) in profiles.items():
        if label_name and len(by_label[label_name]) == 1 and label_name not in taken:
            dim = label_name
        else:
            dim = f"{name}_{label_name or 'profile_points'}"
            while dim in taken:
                dim += "_dim"
        dims[name] = dim
    return dims


def _text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    text = _CONTROL.sub(" ", value).strip()
    return text[:_TEXT_LIMIT]


def _domain(raw: Mapping[str, tuple[Any, Any]]) -> Domain:
    try:
        lat = tuple(float(v) for v in raw["latitude"])
        lon = tuple(float(v) for v in raw["longitude"])
        time = tuple(int(v) for v in raw["time"])
    except (KeyError, TypeError, ValueError):
        raise ServiceError(
            "the array is no gedidb array: it lacks the latitude, longitude and time "
            f"dimensions (found {sorted(raw)})",
            store_id=STORE_ID,
        ) from None
    return Domain(lat, lon, time)  # type: ignore[arg-type]


# -- CMR records --------------------------------------------------------------------------------


def collection_info(concept_id: str, entry: Mapping[str, Any]) -> CollectionInfo:
    """The footprint and time extent of a CMR collection entry; malformed parts are None.

    CMR boxes are ``"S W N E"`` strings; the footprint is the union of the boxes as
    (xmin, ymin, xmax, ymax), the whole longitude range for a box across the antimeridian.
    """
    boxes = [box for box in map(_box, _list(entry.get("boxes"))) if box is not None]
    bbox = None
    if boxes:
        bbox = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    return CollectionInfo(
        concept_id=concept_id,
        title=_text(entry.get("title")) or None,
        summary=_text(entry.get("summary")) or None,
        bbox=bbox,
        time_start=_day(entry.get("time_start")),
        time_end=_day(entry.get("time_end")),
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _box(text: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(text, str):
        return None
    try:
        south, west, north, east = (float(v) for v in text.split())
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in (south, west, north, east)):
        return None
    if not (-90 <= south <= north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
        return None
    if west > east:
        west, east = -180.0, 180.0
    return west, south, east, north


def _day(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.strip()).date().isoformat()
    except ValueError:
        return None


# -- descriptors --------------------------------------------------------------------------------


def describe(
    data_id: str,
    data_type: str,
    info: ArrayInfo,
    collections: Sequence[CollectionInfo | None],
    open_schema: Any,
    feature_schema: Any = None,
) -> Any:
    """The descriptor of a data id as a dataset or (with ``feature_schema``, the JSON
    schema of a shot's properties) a GeoDataFrame of shots."""
    from eostores.descriptor import DatasetDescriptor, GeoDataFrameDescriptor, VariableDescriptor

    names = info.names(data_id)
    known = [c for c in collections if c is not None]
    bbox = _union([c.bbox for c in known if c.bbox is not None])
    starts = [c.time_start for c in known if c.time_start]
    ends = [c.time_end for c in known if c.time_end]
    first, last = info.domain.dates()
    time_range = (min(starts) if starts else first.isoformat(), max(ends) if ends else None)
    attrs: dict[str, Any] = {
        "title": LEVEL_TITLES.get(data_id, "GEDI L2A, L2B, L4A and L4C shots"),
        "product_level": data_id,
        "cmr_concept_ids": [c.concept_id for c in known],
        "database_time_domain": [first.isoformat(), last.isoformat()],
        "shots": "one per GEDI footprint; their number is known only after a query",
    }
    if len(known) == 1 and known[0].summary:
        attrs["summary"] = known[0].summary
    common = dict(
        data_id=data_id,
        crs="EPSG:4326",
        bbox=bbox,
        time_range=time_range,
        open_params_schema=open_schema,
    )
    if data_type == "geodataframe":
        return GeoDataFrameDescriptor(feature_schema=feature_schema, **common)
    coords = {
        "shot_number": VariableDescriptor("shot_number", "uint64", ("shot_number",)),
        "latitude": VariableDescriptor(
            "latitude", "float64", ("shot_number",), attrs={"units": "degrees_north"}
        ),
        "longitude": VariableDescriptor(
            "longitude", "float64", ("shot_number",), attrs={"units": "degrees_east"}
        ),
        "time": VariableDescriptor("time", "datetime64[ns]", ("shot_number",)),
    }
    dims: dict[str, int] = {}
    data_vars = {}
    for name in names:
        variable = info.variables[name]
        if variable.profile is not None:
            dims[variable.profile.dim] = len(variable.profile.labels)
            coords.setdefault(
                variable.profile.dim,
                VariableDescriptor(variable.profile.dim, "int64", (variable.profile.dim,)),
            )
        data_vars[name] = VariableDescriptor(
            name, variable.dtype, variable.dims, attrs=variable.attrs()
        )
    return DatasetDescriptor(dims=dims, coords=coords, data_vars=data_vars, attrs=attrs, **common)


def _union(boxes: Sequence[tuple[float, float, float, float]]) -> tuple[float, ...] | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
