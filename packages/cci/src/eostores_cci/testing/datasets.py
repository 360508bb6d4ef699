"""The emulated CCI datasets: their grids, files and values, a known function of coordinates.

``expected_value(dataset, variable, time, lat, lon)`` is what every file holds, so tests
check values after subsetting without reading anything else. Files are NetCDF4 (HDF5),
written on first use by h5netcdf, with deflate and shuffle where the dataset says so.
Most files hold one time step; a dataset with ``file_period="yr"`` keeps a year of monthly
steps per file, with ``time_bnds`` and a time unit counting from the file's first day.
Datasets write their dates in different styles, as the service's index holds them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DATASETS",
    "DATE_STYLES",
    "EPOCH",
    "SampleDataset",
    "SampleFile",
    "SampleVariable",
    "dataset_by_id",
    "expected_value",
]

#: The day the time term of every value counts from.
EPOCH = np.datetime64("2000-01-01", "D")


@dataclass(frozen=True)
class SampleVariable:
    """A data variable: value = offset + 0.01 * days + 0.1 * lat + 0.01 * lon (masked
    where ``lat >= mask_above``), rounded to integers for integer variables."""

    name: str
    offset: float
    units: str
    long_name: str
    dtype: str = "float32"
    fill_value: float | int = -999.0
    scale_factor: float | None = None
    mask_above: float | None = None


@dataclass(frozen=True)
class SampleFile:
    """One file of a dataset: its name, period (end inclusive), index in the series of
    files and time steps (``[start, end)`` each)."""

    index: int
    name: str
    start: datetime
    end: datetime
    steps: tuple[tuple[datetime, datetime], ...]

    @property
    def midpoint(self) -> datetime:
        return self.start + (self.end + timedelta(seconds=1) - self.start) / 2

    def step_midpoints(self) -> list[datetime]:
        return [a + (b - a) / 2 for a, b in self.steps]


#: How a dataset's dates are written: plain, with a UTC offset, with milliseconds.
DATE_STYLES = ("plain", "offset", "fraction")


@dataclass(frozen=True)
class SampleDataset:
    """One emulated collection: DRS id, facets, grid and variables."""

    drs_id: str
    uuid: str
    title: str
    institute: str
    first: date
    last: date
    lat: tuple[float, float, int]  # first centre, step (negative: descending), count
    lon: tuple[float, float, int]
    chunks: tuple[int, int, int]
    variables: tuple[SampleVariable, ...]
    name_pattern: str
    folder: str
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: one of DATE_STYLES
    date_style: str = "plain"
    #: None: a file per time step; "yr": a file per year holding its time steps
    file_period: str | None = None
    #: data variables written with deflate and shuffle
    compressed: bool = False

    # -- identity

    @property
    def parts(self) -> dict[str, str]:
        keys = (
            "project",
            "ecv",
            "frequency",
            "processingLevel",
            "dataType",
            "sensor",
            "platform",
            "productString",
            "productVersion",
            "realization",
        )
        return dict(zip(keys, self.drs_id.split("."), strict=True))

    @property
    def frequency(self) -> str:
        return self.parts["frequency"]

    def instant(self, value: datetime, *, end: bool = False) -> str:
        """``value`` written in the dataset's date style (an end as its last moment)."""
        text = f"{value:%Y-%m-%dT%H:%M:%S}"
        if self.date_style == "offset":
            return text + "+00:00"
        if self.date_style == "fraction":
            return text + (".999" if end else ".000")
        return text

    def date_property(self, sample: SampleFile) -> str:
        """The ``date`` of a file's search entry: "start/end"."""
        return f"{self.instant(sample.start)}/{self.instant(sample.end, end=True)}"

    # -- grid

    def lats(self) -> np.ndarray:
        start, step, count = self.lat
        return (start + step * np.arange(count)).astype("float32")

    def lons(self) -> np.ndarray:
        start, step, count = self.lon
        return (start + step * np.arange(count)).astype("float32")

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        lats, lons = self.lats(), self.lons()
        half_y, half_x = abs(self.lat[1]) / 2, abs(self.lon[1]) / 2
        west, east = float(lons.min()) - half_x, float(lons.max()) + half_x
        if east > 180:
            west, east = -180.0, 180.0
        return (west, float(lats.min()) - half_y, east, float(lats.max()) + half_y)

    # -- files

    def steps(self) -> list[tuple[datetime, datetime]]:
        """Every time step ``[start, end)`` of the dataset: days or months."""
        result = []
        day = self.first
        while day <= self.last:
            if self.frequency == "day":
                following = day + timedelta(days=1)
            else:
                following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            result.append((datetime(day.year, day.month, day.day), _midnight(following)))
            day = following
        return result

    def files(self) -> list[SampleFile]:
        """The files, in time order: one per time step, or per year (``file_period``)."""
        groups: dict[Any, list[tuple[datetime, datetime]]] = {}
        for step in self.steps():
            key = step[0].year if self.file_period == "yr" else step[0]
            groups.setdefault(key, []).append(step)
        return [
            SampleFile(
                index,
                self.name_pattern.format(steps[0][0]),
                steps[0][0],
                steps[-1][1] - timedelta(seconds=1),
                tuple(steps),
            )
            for index, steps in enumerate(groups.values())
        ]

    def file_path(self, sample: SampleFile) -> str:
        """The path of a file below the data server's root."""
        return f"{self.folder}/{sample.start:%Y}/{sample.name}"

    def values(self, variable: SampleVariable, sample: SampleFile) -> np.ndarray:
        """The stored (packed) values of ``variable`` in ``sample``: shape (steps, lat, lon)."""
        times = np.array(sample.step_midpoints(), dtype="datetime64[s]")[:, None, None]
        lats, lons = self.lats()[None, :, None], self.lons()[None, None]
        data = expected_value(self, variable.name, times, lats, lons)
        if variable.scale_factor is not None:
            data = np.round((data - variable.offset) / variable.scale_factor)
        return np.where(np.isnan(data), variable.fill_value, data).astype(variable.dtype)

    def time_units(self, sample: SampleFile) -> str:
        """The unit of the time coordinate of ``sample``: yearly files count from their
        first day, the others from 1970."""
        origin = sample.start if self.file_period else datetime(1970, 1, 1)
        return f"days since {origin:%Y-%m-%d %H:%M:%S}"

    def write_file(self, sample: SampleFile, path: Path) -> None:
        """Write ``sample`` as NetCDF4 to ``path`` (atomically)."""
        import h5netcdf

        partial = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        lats, lons = self.lats(), self.lons()
        with h5netcdf.File(partial, "w") as nc:
            nc.dimensions = {"time": len(sample.steps), "lat": len(lats), "lon": len(lons)}
            nc.attrs.update(
                title=self.title,
                institution=self.institute,
                time_coverage_start=f"{sample.start:%Y%m%dT%H%M%SZ}",
                time_coverage_end=f"{sample.end:%Y%m%dT%H%M%SZ}",
                Conventions="CF-1.7",
                **self.attrs,
            )
            self._write_time(nc, sample)
            for name, values, units in (
                ("lat", lats, "degrees_north"),
                ("lon", lons, "degrees_east"),
            ):
                coordinate = nc.create_variable(name, (name,), "float32")
                coordinate[:] = values
                coordinate.attrs["units"] = units
            codecs = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
            for variable in self.variables:
                data = nc.create_variable(
                    variable.name,
                    ("time", "lat", "lon"),
                    variable.dtype,
                    chunks=self.chunks,
                    fillvalue=np.asarray(variable.fill_value, variable.dtype),
                    **(codecs if self.compressed else {}),
                )
                data[:] = self.values(variable, sample)
                data.attrs.update(units=variable.units, long_name=variable.long_name)
                if variable.scale_factor is not None:
                    data.attrs["scale_factor"] = np.float32(variable.scale_factor)
                    data.attrs["add_offset"] = np.float32(variable.offset)
        partial.replace(path)

    def _write_time(self, nc: Any, sample: SampleFile) -> None:
        """The time coordinate (step midpoints) and, for yearly files, ``time_bnds``."""
        units = self.time_units(sample)
        origin = np.datetime64(units.removeprefix("days since "), "s")

        def days(instants: Any) -> np.ndarray:
            return (np.asarray(instants, dtype="datetime64[s]") - origin) / np.timedelta64(1, "D")

        time = nc.create_variable("time", ("time",), "float64")
        time[:] = days(sample.step_midpoints())
        time.attrs.update(units=units, standard_name="time", calendar="standard")
        if self.file_period:
            nc.dimensions["nv"] = 2
            time.attrs["bounds"] = "time_bnds"
            bounds = nc.create_variable("time_bnds", ("time", "nv"), "float64")
            bounds[:] = days(sample.steps)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def expected_value(
    dataset: SampleDataset | str, variable: str, time: Any, lat: Any, lon: Any
) -> np.ndarray:
    """The value of ``variable`` at ``time`` (any instant of a file's period), lat, lon.

    Longitudes may be given in -180..180 or 0..360 alike.
    NaN where the variable is masked. Computed in float64, rounded to float32 as stored
    (packed variables: to their scale factor).
    """
    if isinstance(dataset, str):
        dataset = dataset_by_id(dataset)
    spec = next(v for v in dataset.variables if v.name == variable)
    instant = np.asarray(time, dtype="datetime64[s]")
    if dataset.frequency == "day":
        start = instant.astype("datetime64[D]")
    else:
        start = instant.astype("datetime64[M]").astype("datetime64[D]")
    days = (start - EPOCH).astype("int64").astype("float64")
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    if dataset.lon[0] + dataset.lon[1] * (dataset.lon[2] - 1) > 180:
        lon = np.mod(lon, 360.0)  # the same place, in the grid's own longitudes 0..360
    value = spec.offset + 0.01 * days + 0.1 * lat + 0.01 * lon
    if spec.scale_factor is not None:
        packed = np.round((value - spec.offset) / spec.scale_factor)
        value = packed * np.float32(spec.scale_factor) + np.float32(spec.offset)
    elif np.dtype(spec.dtype).kind in "iu":
        value = np.round(value)
    else:
        value = value.astype("float32").astype("float64")
    if spec.mask_above is not None:
        value = np.where(lat >= spec.mask_above, np.nan, value)
    return value


DATASETS: tuple[SampleDataset, ...] = (
    SampleDataset(
        drs_id="esacci.SST.day.L4.SSTdepth.multi-sensor.multi-platform.OSTIA.2-1.r1",
        uuid="62c0f97b1eac4e0197a674870afe1ee6",
        title="ESA SST CCI OSTIA L4 analysis, version 2.1",
        institute="Met Office",
        first=date(2000, 1, 1),
        last=date(2002, 12, 31),
        lat=(-89.5, 1.0, 180),
        lon=(-179.5, 1.0, 360),
        chunks=(1, 45, 90),
        variables=(
            SampleVariable(
                "analysed_sst", 271.0, "kelvin", "analysed sea surface temperature", mask_above=88
            ),
        ),
        name_pattern="{:%Y%m%d}120000-ESACCI-L4_GHRSST-SSTdepth-OSTIA-GLOB_CDR2.1-v02.0-fv01.0.nc",
        folder="neodc/esacci/sst/data/CDR_v2/Analysis/L4/v2.1",
        date_style="offset",
        compressed=True,
    ),
    SampleDataset(
        drs_id="esacci.OZONE.mon.L3.NP.multi-sensor.multi-platform.MERGED.fv0002.r1",
        uuid="4eb4e801424a47f7b77434291921f889",
        title="ESA Ozone CCI total ozone columns, merged monthly, version 2",
        institute="KNMI",
        first=date(2003, 1, 1),
        last=date(2008, 12, 1),
        lat=(89.0, -2.0, 90),
        lon=(1.0, 2.0, 180),
        chunks=(1, 90, 180),
        variables=(
            SampleVariable("O3_du_tot", 300.0, "DU", "total ozone column"),
            SampleVariable("O3e_du_tot", 10.0, "DU", "standard error of the total ozone column"),
        ),
        name_pattern="ESACCI-OZONE-L3-NP-MERGED-KNMI-{:%Y%m}-fv0002.nc",
        folder="neodc/esacci/ozone/data/total_columns/l3/merged/v0002",
    ),
    SampleDataset(
        drs_id="esacci.CLOUD.mon.L3C.CLD_PRODUCTS.AVHRR.NOAA-15.AVHRR_NOAA.3-0.r1",
        uuid="b3a4b0a2e2a94d5e9b3c2f0a6f5d1c7e",
        title="ESA Cloud CCI AVHRR-AM monthly cloud products, version 3.0",
        institute="DWD",
        first=date(2000, 1, 1),
        last=date(2001, 12, 1),
        lat=(74.75, -0.5, 60),
        lon=(-19.75, 0.5, 120),
        chunks=(1, 30, 40),
        variables=(
            SampleVariable("cfc", 0.5, "1", "cloud fraction", mask_above=70),
            SampleVariable(
                "cot",
                12.0,
                "1",
                "cloud optical thickness",
                dtype="int16",
                fill_value=-32768,
                scale_factor=0.01,
            ),
            SampleVariable("ctt", 250.0, "K", "cloud top temperature"),
        ),
        name_pattern="{:%Y%m}-ESACCI-L3C_CLOUD-CLD_PRODUCTS-AVHRR_NOAA-15-fv3.0.nc",
        folder="neodc/esacci/cloud/data/version3/L3C/AVHRR-AM/v3.0",
        date_style="fraction",
    ),
    SampleDataset(
        drs_id="esacci.ICESHEETS.mon.L3.SEC.multi-sensor.multi-platform.GREENLAND.1-0.r1",
        uuid="9c1e2f4a7b3d4e5f8a6b0c2d4e6f8a1b",
        title="ESA Greenland Ice Sheet CCI surface elevation change, monthly, version 1.0",
        institute="DTU Space",
        first=date(2010, 1, 1),
        last=date(2012, 12, 1),
        lat=(60.25, 0.5, 48),
        lon=(-74.75, 0.5, 130),
        chunks=(1, 24, 65),
        variables=(
            SampleVariable("sec", -1.0, "m", "surface elevation change"),
            SampleVariable(
                "quality_flag",
                -45.0,
                "1",
                "quality flag",
                dtype="int8",
                fill_value=-128,
                mask_above=83,
            ),
        ),
        name_pattern="ESACCI-ICESHEETS-L3-SEC-GREENLAND-{:%Y}-fv1.0.nc",
        folder="neodc/esacci/ice_sheets_greenland/data/sec/v1.0",
        date_style="offset",
        file_period="yr",
    ),
)

_BY_ID = {d.drs_id: d for d in DATASETS}


def dataset_by_id(drs_id: str) -> SampleDataset:
    """The sample dataset of a DRS id (KeyError if there is none)."""
    return _BY_ID[drs_id]


class FileCache:
    """NetCDF files of the sample datasets, written below ``root`` on first use."""

    def __init__(self, root: Path):
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, dataset: SampleDataset, sample: SampleFile) -> Path:
        path = self.root / dataset.file_path(sample)
        if path.exists():
            return path
        key = str(path)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if not path.exists():
                dataset.write_file(sample, path)
        return path
