"""The emulated gedidb database: its variables, its shots and their values.

The array follows gedidb's layout: one sparse TileDB array named ``array_uri`` with the
dimensions ``latitude`` and ``longitude`` (float64 degrees) and ``time`` (int64 days since
1970-01-01), Hilbert cell order and duplicates allowed; one attribute per scalar variable,
``<name>_1`` ... ``<name>_N`` for a profile variable of length N, ``shot_number`` and
``timestamp_ns``; and array metadata ``<variable>.units``, ``.description``, ``.dtype``,
``.product_level`` (profiles also ``.profile_length``, ``.profile_labels``,
``.profile_label_name``) next to the ``granule_<id>_status`` entries of ingested granules.

Every value is :func:`expected_value` of the shot's latitude, longitude and day, the
variable and (for profiles) the profile index, so tests check values after any selection.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ARRAY_DOMAIN",
    "DEFAULT_SAMPLE",
    "HOSTILE_METADATA",
    "VARIABLES",
    "EmulatedVariable",
    "SampleSpec",
    "expected_value",
    "make_shots",
    "write_array",
]

EPOCH = np.datetime64("1970-01-01", "D")
#: The array's domain as gedidb's configuration sets it: lat, lon, and the time in days.
ARRAY_DOMAIN = {
    "latitude": (-56.0, 56.0),
    "longitude": (-180.0, 180.0),
    "time": ("2018-01-01", "2030-12-31"),
}
SHOT_NUMBER_BASE = 80_000_000_000_000_000


@dataclass(frozen=True)
class EmulatedVariable:
    """A variable of the database, as gedidb's configuration describes it."""

    name: str
    product_level: str
    dtype: str
    units: str
    description: str
    profile_labels: tuple[int, ...] | None = None
    profile_label_name: str | None = None

    @property
    def is_profile(self) -> bool:
        return self.profile_labels is not None

    @property
    def attributes(self) -> list[str]:
        """The TileDB attribute names of the variable."""
        if self.profile_labels is None:
            return [self.name]
        return [f"{self.name}_{i}" for i in range(1, len(self.profile_labels) + 1)]


_PERCENTILES = tuple(range(101))
_HEIGHTS = tuple(range(0, 150, 5))


def _v(name: str, level: str, dtype: str, units: str, description: str, **kw: Any) -> Any:
    return name, EmulatedVariable(name, level, dtype, units, description, **kw)


#: The variables of the emulated database (a subset of gedidb's, with its names and types).
VARIABLES: dict[str, EmulatedVariable] = dict(
    [
        _v("shot_number", "L2A", "uint64", "adimensional", "Unique shot identifier"),
        _v("beam_type", "L2A", "U10", "adimensional", "Coverage or full power beam"),
        _v("sensitivity", "L2A", "float32", "adimensional", "Maximum canopy cover penetrated"),
        _v("quality_flag", "L2A", "uint8", "adimensional", "Flag for the most useful data"),
        _v("degrade_flag", "L2A", "uint8", "adimensional", "Degraded pointing or positioning"),
        _v("elev_lowestmode", "L2A", "float32", "Meters", "Elevation of the lowest mode"),
        _v(
            "rh",
            "L2A",
            "float32",
            "Meters",
            "Relative height metrics at 1 % steps",
            profile_labels=_PERCENTILES,
            profile_label_name="percentile",
        ),
        _v("cover", "L2B", "float32", "Percent", "Total canopy cover"),
        _v("pai", "L2B", "float32", "m2/m2", "Total plant area index"),
        _v("fhd_normal", "L2B", "float32", "adimensional", "Foliage height diversity"),
        _v("l2b_quality_flag", "L2B", "uint8", "adimensional", "L2B quality flag"),
        _v("rh100", "L2B", "int16", "cm", "Height of the waveform signal start"),
        _v(
            "cover_z",
            "L2B",
            "float32",
            "Percent",
            "Cumulative canopy cover profile",
            profile_labels=_HEIGHTS,
            profile_label_name="height_m",
        ),
        _v(
            "pai_z",
            "L2B",
            "float32",
            "m2/m2",
            "Plant area index profile",
            profile_labels=_HEIGHTS,
            profile_label_name="height_m",
        ),
        _v(
            "pavd_z",
            "L2B",
            "float32",
            "m2/m3",
            "Plant area volume density profile",
            profile_labels=_HEIGHTS,
            profile_label_name="height_m",
        ),
        _v("agbd", "L4A", "float32", "Mg/ha", "Aboveground biomass density"),
        _v("agbd_se", "L4A", "float32", "Mg/ha", "Standard error of the biomass density"),
        _v("l4_quality_flag", "L4A", "uint8", "adimensional", "L4A quality flag"),
        _v("wsci", "L4C", "float32", "adimensional", "Waveform structural complexity index"),
        _v("wsci_pi_lower", "L4C", "float32", "adimensional", "Lower prediction interval"),
        _v("wsci_pi_upper", "L4C", "float32", "adimensional", "Upper prediction interval"),
        _v("wsci_quality_flag", "L4C", "uint8", "adimensional", "WSCI quality flag"),
    ]
)

#: Metadata entries a store must not take for variables: no attribute carries them, or
#: their names are no identifiers (they would name files or columns).
HOSTILE_METADATA: dict[str, str] = {
    "ghost.units": "m",
    "ghost.description": "a variable without an attribute",
    "ghost.product_level": "L2A",
    "../../escape.units": "m",
    "../../escape.product_level": "L4A",
    "bad name!.product_level": "L4A",
}


@dataclass(frozen=True)
class SampleSpec:
    """Where and when the emulated shots lie, how many there are, and how they were written."""

    count: int = 2000
    bbox: tuple[float, float, float, float] = (9.0, 45.0, 11.0, 47.0)
    time_range: tuple[str, str] = ("2019-04-18", "2023-03-16")
    seed: int = 1
    fragments: int = 2
    hostile_metadata: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bbox"] = list(self.bbox)
        data["time_range"] = list(self.time_range)
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> SampleSpec:
        data = dict(data or {})
        if "bbox" in data:
            data["bbox"] = tuple(float(v) for v in data["bbox"])
        if "time_range" in data:
            data["time_range"] = tuple(str(v) for v in data["time_range"])
        return cls(**data)


DEFAULT_SAMPLE = SampleSpec()


def _offset(name: str) -> float:
    return float(sum(name.encode("utf-8")) % 50)


def _days(time: Any) -> np.ndarray:
    values = np.asarray(time)
    if np.issubdtype(values.dtype, np.datetime64):
        return (values.astype("datetime64[D]") - EPOCH).astype(np.int64)
    return values.astype(np.int64)


def expected_value(variable: str, lat: Any, lon: Any, time: Any, index: Any = 0) -> np.ndarray:
    """The value of ``variable`` at shots (lat, lon, time), profile index ``index`` (0-based).

    ``time`` is datetime64 or days since 1970-01-01. The result has the variable's dtype
    (string variables give an object array of str).
    """
    spec = VARIABLES[variable]
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    days = _days(time)
    index = np.asarray(index)
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "U":
        parity = np.floor(lat * 1000).astype(np.int64) % 2
        return np.where(parity == 0, "full", "coverage").astype(object)
    if dtype.kind == "u" and variable != "shot_number":
        cells = np.floor(lat * 100).astype(np.int64) + np.floor(lon * 100).astype(np.int64)
        return ((cells + days) % 2).astype(dtype)
    smooth = _offset(variable) + 0.5 * lat + 0.25 * lon + 0.001 * (days - 17897) + index
    if dtype.kind == "i":
        return (np.round(smooth * 100) % 30000).astype(dtype)
    return smooth.astype(dtype)


def make_shots(spec: SampleSpec = DEFAULT_SAMPLE) -> dict[str, np.ndarray]:
    """The emulated shots: coordinates, shot numbers and every attribute's values."""
    rng = np.random.default_rng(spec.seed)
    xmin, ymin, xmax, ymax = spec.bbox
    first = date.fromisoformat(spec.time_range[0])
    last = date.fromisoformat(spec.time_range[1])
    day0 = (first - date(1970, 1, 1)).days
    span = (last - first).days + 1
    count = int(spec.count)
    lat = np.round(rng.uniform(ymin, ymax, count), 6)
    lon = np.round(rng.uniform(xmin, xmax, count), 6)
    days = day0 + rng.integers(0, span, count)
    columns: dict[str, np.ndarray] = {
        "latitude": lat,
        "longitude": lon,
        "time": days.astype(np.int64),
        "shot_number": np.arange(count, dtype=np.uint64) + np.uint64(SHOT_NUMBER_BASE),
    }
    for variable in VARIABLES.values():
        if variable.name == "shot_number":
            continue
        for index, attribute in enumerate(variable.attributes):
            columns[attribute] = expected_value(variable.name, lat, lon, days, index)
    return columns


def _domain_days() -> tuple[int, int]:
    start, end = ARRAY_DOMAIN["time"]
    return (
        (date.fromisoformat(start) - date(1970, 1, 1)).days,
        (date.fromisoformat(end) - date(1970, 1, 1)).days,
    )


def write_array(target: str | os.PathLike[str], spec: SampleSpec = DEFAULT_SAMPLE) -> Path:
    """Write the emulated database to ``target/array_uri``; returns the array's folder."""
    import tiledb

    uri = Path(target) / "array_uri"
    start, end = _domain_days()
    zstd = tiledb.FilterList([tiledb.ZstdFilter(level=1)])
    domain = tiledb.Domain(
        tiledb.Dim("latitude", domain=ARRAY_DOMAIN["latitude"], tile=1, dtype=np.float64),
        tiledb.Dim("longitude", domain=ARRAY_DOMAIN["longitude"], tile=1, dtype=np.float64),
        tiledb.Dim(
            "time",
            domain=(start, end),
            tile=1825,
            dtype=np.int64,
            filters=tiledb.FilterList([tiledb.DoubleDeltaFilter(), tiledb.ZstdFilter(level=1)]),
        ),
    )
    attributes = [
        tiledb.Attr(name=name, dtype=np.dtype(variable.dtype), filters=zstd)
        for variable in VARIABLES.values()
        for name in variable.attributes
    ]
    attributes.append(tiledb.Attr(name="timestamp_ns", dtype=np.int64, filters=zstd))
    schema = tiledb.ArraySchema(
        domain=domain,
        attrs=attributes,
        sparse=True,
        allows_duplicates=True,
        capacity=100_000,
        cell_order="hilbert",
    )
    tiledb.Array.create(str(uri), schema)
    shots = make_shots(spec)
    data_names = [name for name in shots if name not in ("latitude", "longitude", "time")]
    for part in _fragments(len(shots["latitude"]), spec.fragments):
        coords = tuple(shots[name][part] for name in ("latitude", "longitude", "time"))
        values = {name: shots[name][part] for name in data_names}
        values["timestamp_ns"] = shots["time"][part] * 86_400_000_000_000
        with tiledb.open(str(uri), mode="w") as array:
            array[coords] = values
    with tiledb.open(str(uri), mode="w") as array:
        for key, value in _metadata(spec).items():
            array.meta[key] = value
    return uri


def _fragments(count: int, fragments: int) -> Iterator[slice]:
    fragments = max(1, min(int(fragments), max(count, 1)))
    size = math.ceil(count / fragments) if count else 0
    for start in range(0, count, max(size, 1)):
        yield slice(start, min(count, start + size))


def _metadata(spec: SampleSpec) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for variable in VARIABLES.values():
        prefix = variable.name
        meta[f"{prefix}.units"] = variable.units
        meta[f"{prefix}.description"] = variable.description
        meta[f"{prefix}.dtype"] = variable.dtype
        meta[f"{prefix}.product_level"] = variable.product_level
        if variable.profile_labels is not None:
            meta[f"{prefix}.profile_length"] = len(variable.profile_labels)
            meta[f"{prefix}.profile_labels"] = ",".join(str(v) for v in variable.profile_labels)
            meta[f"{prefix}.profile_label_name"] = variable.profile_label_name or ""
    for number in range(max(1, spec.fragments)):
        key = f"O{number:05d}_02_T{number:05d}_02_003_01_V002"
        meta[f"granule_{key}_status"] = "processed"
        meta[f"granule_{key}_processed_date"] = "2024-05-01T00:00:00+00:00"
    if spec.hostile_metadata:
        meta.update(HOSTILE_METADATA)
    return meta


def shots_in(
    shots: Mapping[str, np.ndarray],
    bbox: Sequence[float],
    days: tuple[int, int] | None = None,
) -> np.ndarray:
    """A boolean mask of the shots inside ``bbox`` (inclusive) and the day range."""
    xmin, ymin, xmax, ymax = bbox
    mask = (
        (shots["longitude"] >= xmin)
        & (shots["longitude"] <= xmax)
        & (shots["latitude"] >= ymin)
        & (shots["latitude"] <= ymax)
    )
    if days is not None:
        mask &= (shots["time"] >= days[0]) & (shots["time"] <= days[1])
    return mask
