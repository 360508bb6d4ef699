"""The datasets the CDS emulator serves: catalogue records, request forms and constraints.

Each :class:`EmulatedDataset` holds what the real service knows about one dataset (its
catalogue record, its request form, the valid combinations of request values, how its
files look) in a compact form; :mod:`.emulator` serves it as the service's JSON documents
and :mod:`.files` writes its NetCDF files. Data values are :func:`expected_value` of the
coordinates, so that tests can check values after subsetting.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_DATASETS",
    "EmulatedDataset",
    "EmulatedVariable",
    "expected_value",
]

_EPOCH = dt.datetime(2000, 1, 1)

COPERNICUS_LICENCE = {
    "id": "licence-to-use-copernicus-products",
    "revision": 12,
    "label": "Licence to use Copernicus Products",
}
HOURS = [f"{hour:02d}:00" for hour in range(24)]
THREE_HOURLY = [f"{hour:02d}:00" for hour in range(0, 24, 3)]
DAYS = [f"{day:02d}" for day in range(1, 32)]
MONTHS = [f"{month:02d}" for month in range(1, 13)]
PRESSURE_LEVELS = [
    "1",
    "2",
    "3",
    "5",
    "7",
    "10",
    "20",
    "30",
    "50",
    "70",
    "100",
    "125",
    "150",
    "175",
    "200",
    "225",
    "250",
    "300",
    "350",
    "400",
    "450",
    "500",
    "550",
    "600",
    "650",
    "700",
    "750",
    "775",
    "800",
    "825",
    "850",
    "875",
    "900",
    "925",
    "950",
    "975",
    "1000",
]


@dataclass(frozen=True)
class EmulatedVariable:
    """One requestable variable: request name, form label, file name and GRIB facts."""

    name: str
    label: str
    short_name: str
    units: str
    long_name: str
    offset: float
    step_type: str = "instant"
    param_id: int = 0
    grib_short_name: str = ""
    sensors: tuple[str, ...] = ()


def expected_value(
    offset: float,
    lat: Any,
    lon: Any,
    time: Any,
    level: Any = 0.0,
    number: Any = 0,
) -> Any:
    """The emulator's data value at a point: a known function of the coordinates.

    ``offset + lat / 10 + (lon mod 360) / 100 + day of year + hour / 100 + level / 1000
    + number * 10``; ``time`` is a numpy datetime64 (array) or datetime.
    """
    import numpy as np

    times = np.asarray(time, dtype="datetime64[ns]")
    days = times.astype("datetime64[D]")
    years = times.astype("datetime64[Y]")
    day_of_year = (days - years).astype("int64") + 1
    hour = (times - days).astype("timedelta64[h]").astype("int64")
    return (
        offset
        + np.asarray(lat, dtype="float64") / 10
        + np.mod(np.asarray(lon, dtype="float64"), 360.0) / 100
        + day_of_year
        + hour / 100
        + np.asarray(level, dtype="float64") / 1000
        + np.asarray(number, dtype="float64") * 10
    )


@dataclass
class EmulatedDataset:
    """What the emulated service knows about one dataset."""

    id: str
    title: str
    abstract: str
    keywords: list[str]
    begin: str
    end: str
    variables: list[EmulatedVariable]
    resolution: float
    product_types: dict[str, str] = field(default_factory=dict)
    product_type_times: dict[str, list[str]] = field(default_factory=dict)
    ensemble_members: dict[str, int] = field(default_factory=dict)
    levels: list[str] | None = None
    temporal: str = "hourly"  # hourly, daily, monthly, aggregated
    hours: list[str] = field(default_factory=lambda: list(HOURS))
    choices: dict[str, tuple[str, dict[str, str], str]] = field(default_factory=dict)
    aggregation_key: str | None = None
    aggregation_days: dict[str, list[str]] = field(default_factory=dict)
    output: str = "era5"  # era5, derived, satellite
    supports_area: bool = True
    data_formats: dict[str, str] | None = field(
        default_factory=lambda: {"grib": "GRIB", "netcdf": "NetCDF4 (Experimental)"}
    )
    download_formats: dict[str, str] = field(
        default_factory=lambda: {
            "unarchived": "Unarchived (not zipped if single file)",
            "zip": "Zip",
        }
    )
    global_lon0: float = 0.0
    cell_centred: bool = False
    cost_limit: int = 120_000
    licences: list[dict[str, Any]] = field(default_factory=lambda: [dict(COPERNICUS_LICENCE)])
    gridded: bool = True
    horizontal_resolution: str = ""
    temporal_resolution: str = "Hourly"
    data_format_description: str = "GRIB, NetCDF"
    disabled_reason: str | None = None
    netcdf_format: str = "NETCDF4"  # or NETCDF3_CLASSIC (written by scipy)

    # -- facts derived from the definition

    def variable(self, name: str) -> EmulatedVariable | None:
        return next((v for v in self.variables if v.name == name), None)

    def years(self) -> list[str]:
        return [str(y) for y in range(int(self.begin[:4]), int(self.end[:4]) + 1)]

    def times_for(self, product_type: str | None) -> list[str]:
        if product_type and product_type in self.product_type_times:
            return list(self.product_type_times[product_type])
        return list(self.hours)

    def has_time_key(self) -> bool:
        return self.temporal in ("hourly", "monthly")

    def has_day_key(self) -> bool:
        return self.temporal in ("hourly", "daily", "aggregated")

    # -- documents

    def collection(self, base_url: str, *, tmp_fields: bool = False) -> dict[str, Any]:
        """The catalogue record (``/catalogue/v1/collections/{id}``).

        Like the service's, it states neither units nor grid spacing; ``tmp_fields`` adds
        the ``tmp:variables`` and ``tmp:description`` the catalogue had until 2022.
        """
        api = f"{base_url}/api"
        collection_url = f"{api}/catalogue/v1/collections/{self.id}"
        documents = f"{base_url}/document-storage/resources/{self.id}"
        links = [
            {"rel": "self", "href": collection_url, "type": "application/json"},
            {"rel": "parent", "href": f"{api}/catalogue/v1/", "type": "application/json"},
            {"rel": "root", "href": f"{api}/catalogue/v1/", "type": "application/json"},
            {"rel": "form", "href": f"{documents}/form.json", "type": "application/json"},
            {
                "rel": "constraints",
                "href": f"{documents}/constraints.json",
                "type": "application/json",
            },
            {
                "rel": "retrieve",
                "href": f"{api}/retrieve/v1/processes/{self.id}",
                "type": "application/json",
            },
        ]
        links += [
            {
                "rel": "license",
                "href": f"{base_url}/licences/{lic['id']}.pdf",
                "title": lic["label"],
            }
            for lic in self.licences
        ]
        record = {
            "type": "Collection",
            "id": self.id,
            "stac_version": "1.1.0",
            "title": self.title,
            "description": self.abstract,
            "summaries": {},
            "keywords": list(self.keywords),
            "license": "proprietary",
            "providers": [{"name": "Copernicus Climate Change Service", "roles": ["producer"]}],
            "extent": {
                "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                "temporal": {"interval": [[f"{self.begin}T00:00:00Z", f"{self.end}T00:00:00Z"]]},
            },
            "links": links,
            "published": "2018-06-14T00:00:00Z",
            "updated": f"{self.end}T00:00:00Z",
            "sci:doi": f"10.24381/cds.{abs(hash(self.id)) % 10**8:08x}",
            "cads:disabled_reason": self.disabled_reason,
        }
        if tmp_fields:
            record["tmp:variables"] = {
                v.label: {"units": v.units, "description": v.long_name} for v in self.variables
            }
            record["tmp:description"] = self._tmp_description()
        return record

    def _tmp_description(self) -> dict[str, str]:
        """The ``tmp:description`` of the catalogue until 2022."""
        return {
            "data-type": "Gridded" if self.gridded else "Point",
            "projection": "Regular latitude-longitude grid",
            "horizontal-coverage": "Global",
            "horizontal-resolution": self.horizontal_resolution
            or f"{self.resolution:g}° x {self.resolution:g}°",
            "temporal-coverage": f"{self.begin} to present",
            "temporal-resolution": self.temporal_resolution,
            "file-format": self.data_format_description,
        }

    def form(self) -> list[dict[str, Any]]:
        """The request form (``form.json``): one widget per request key."""
        widgets: list[dict[str, Any]] = []
        if self.product_types:
            widgets.append(
                _list_widget("product_type", "Product type", self.product_types, columns=2)
            )
        groups = {"label": "Variables", "labels": {v.name: v.label for v in self.variables}}
        widgets.append(
            {
                "name": "variable",
                "label": "Variable",
                "type": "StringListArrayWidget",
                "required": True,
                "help": None,
                "details": {"groups": [groups], "accordionGroups": True, "displayaslist": False},
            }
        )
        if self.levels:
            widgets.append(
                _list_widget(
                    "pressure_level", "Pressure level", {lv: lv for lv in self.levels}, columns=6
                )
            )
        for key, (label, values, default) in self.choices.items():
            widgets.append(_choice_widget(key, label, values, default))
        widgets.append(_list_widget("year", "Year", {y: y for y in self.years()}, columns=8))
        widgets.append(
            _list_widget("month", "Month", {m: calendar.month_name[int(m)] for m in MONTHS})
        )
        if self.has_day_key():
            widgets.append(_list_widget("day", "Day", {d: d for d in DAYS}, columns=8))
        if self.has_time_key():
            times = sorted({t for pt in self.product_types or [None] for t in self.times_for(pt)})
            widgets.append(_list_widget("time", "Time", {t: t for t in times}, columns=6))
        if self.supports_area:
            widgets.append(
                {
                    "name": "area_group",
                    "label": "Geographical area",
                    "type": "ExclusiveGroupWidget",
                    "children": ["global", "area"],
                    "details": {"default": "global"},
                    "required": True,
                }
            )
            widgets.append(
                {
                    "name": "global",
                    "label": "Whole available region",
                    "type": "FreeformInputWidget",
                    "details": {},
                }
            )
            widgets.append(
                {
                    "name": "area",
                    "label": "Sub-region extraction",
                    "type": "GeographicExtentWidget",
                    "details": {
                        "precision": 2,
                        "extentLabels": ["North", "West", "South", "East"],
                        "range": {"n": 90, "w": -180, "s": -90, "e": 180},
                        "default": [90, -180, -90, 180],
                    },
                }
            )
        if self.data_formats:
            widgets.append(_choice_widget("data_format", "Data format", self.data_formats, "grib"))
        widgets.append(
            _choice_widget(
                "download_format",
                "Download format",
                self.download_formats,
                next(iter(self.download_formats)),
            )
        )
        widgets.append(
            {
                "name": "licences",
                "label": "Terms of use",
                "type": "LicenceWidget",
                "details": {"licences": [dict(lic) for lic in self.licences]},
            }
        )
        return widgets

    def constraints(self) -> list[dict[str, list[str]]]:
        """The valid combinations of request values (``constraints.json``)."""
        years, months = self.years(), list(MONTHS)
        entries: list[dict[str, list[str]]] = []
        for product_type in self.product_types or [None]:
            for sensor_group in self._sensor_groups():
                entry: dict[str, list[str]] = {}
                if product_type is not None:
                    entry["product_type"] = [product_type]
                names = [
                    v.name
                    for v in self.variables
                    if not sensor_group or set(v.sensors) & set(sensor_group)
                ]
                entry["variable"] = names
                if sensor_group:
                    entry["type_of_sensor"] = list(sensor_group)
                if self.levels:
                    entry["pressure_level"] = list(self.levels)
                entry["year"] = years
                entry["month"] = months
                if self.aggregation_key:
                    for value, days in self.aggregation_days.items():
                        entries.append({**entry, self.aggregation_key: [value], "day": list(days)})
                    continue
                if self.has_day_key():
                    entry["day"] = list(DAYS)
                if self.has_time_key():
                    entry["time"] = self.times_for(product_type)
                entries.append(entry)
        return entries

    def _sensor_groups(self) -> list[tuple[str, ...]]:
        if "type_of_sensor" not in self.choices:
            return [()]
        groups: dict[tuple[str, ...], list[str]] = {}
        for sensor in self.choices["type_of_sensor"][1]:
            key = tuple(v.name for v in self.variables if sensor in v.sensors)
            groups.setdefault(key, []).append(sensor)
        return [tuple(sensors) for sensors in groups.values()]


def _list_widget(name: str, label: str, labels: dict[str, str], columns: int = 4) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "StringListWidget",
        "required": True,
        "help": None,
        "details": {"labels": dict(labels), "values": list(labels), "columns": columns},
    }


def _choice_widget(name: str, label: str, labels: dict[str, str], default: str) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "StringChoiceWidget",
        "required": True,
        "help": None,
        "details": {"labels": dict(labels), "values": list(labels), "default": [default]},
    }


_TWO_METRE_TEMPERATURE = EmulatedVariable(
    "2m_temperature",
    "2m temperature",
    "t2m",
    "K",
    "2 metre temperature",
    250.0,
    param_id=167,
    grib_short_name="2t",
)
_TOTAL_PRECIPITATION = EmulatedVariable(
    "total_precipitation",
    "Total precipitation",
    "tp",
    "m",
    "Total precipitation",
    0.0,
    step_type="accum",
    param_id=228,
    grib_short_name="tp",
)


def _era5_single_level_variables() -> list[EmulatedVariable]:
    return [
        _TWO_METRE_TEMPERATURE,
        _TOTAL_PRECIPITATION,
        EmulatedVariable(
            "10m_u_component_of_wind",
            "10m u-component of wind",
            "u10",
            "m s**-1",
            "10 metre U wind component",
            20.0,
            param_id=165,
            grib_short_name="10u",
        ),
        EmulatedVariable(
            "10m_v_component_of_wind",
            "10m v-component of wind",
            "v10",
            "m s**-1",
            "10 metre V wind component",
            30.0,
            param_id=166,
            grib_short_name="10v",
        ),
        EmulatedVariable(
            "mean_sea_level_pressure",
            "Mean sea level pressure",
            "msl",
            "Pa",
            "Mean sea level pressure",
            1000.0,
            param_id=151,
            grib_short_name="msl",
        ),
    ]


ERA5_PRODUCT_TYPES = {
    "reanalysis": "Reanalysis",
    "ensemble_members": "Ensemble members",
    "ensemble_mean": "Ensemble mean",
    "ensemble_spread": "Ensemble spread",
}
ERA5_PRODUCT_TIMES = {
    "reanalysis": HOURS,
    "ensemble_members": THREE_HOURLY,
    "ensemble_mean": THREE_HOURLY,
    "ensemble_spread": THREE_HOURLY,
}
ERA5_KEYWORDS = [
    "Variable domain: Atmosphere (surface)",
    "Spatial coverage: Global",
    "Temporal coverage: Past",
    "Data type: Gridded",
    "Provider: Copernicus C3S",
    "Product type: Reanalysis",
]


def _default_datasets() -> list[EmulatedDataset]:
    era5_single = EmulatedDataset(
        id="reanalysis-era5-single-levels",
        title="ERA5 hourly data on single levels from 1940 to present",
        abstract="ERA5 is the fifth generation ECMWF reanalysis for the global climate.",
        keywords=[*ERA5_KEYWORDS, "Temporal resolution: Hourly"],
        begin="1940-01-01",
        end="2025-06-30",
        variables=_era5_single_level_variables(),
        resolution=0.25,
        product_types=dict(ERA5_PRODUCT_TYPES),
        product_type_times={k: list(v) for k, v in ERA5_PRODUCT_TIMES.items()},
        ensemble_members={"ensemble_members": 10},
        cost_limit=60_000,
    )
    era5_land = EmulatedDataset(
        id="reanalysis-era5-land",
        title="ERA5-Land hourly data from 1950 to present",
        abstract="ERA5-Land provides land variables at enhanced resolution.",
        keywords=[
            "Variable domain: Land (hydrology)",
            "Spatial coverage: Global",
            "Temporal coverage: Past",
            "Data type: Gridded",
            "Provider: Copernicus C3S",
            "Product type: Reanalysis",
            "Temporal resolution: Hourly",
        ],
        begin="1950-01-01",
        end="2025-06-25",
        variables=[
            _TWO_METRE_TEMPERATURE,
            EmulatedVariable(
                "skin_temperature",
                "Skin temperature",
                "skt",
                "K",
                "Skin temperature",
                260.0,
                param_id=235,
                grib_short_name="skt",
            ),
            _TOTAL_PRECIPITATION,
            EmulatedVariable(
                "volumetric_soil_water_layer_1",
                "Volumetric soil water layer 1",
                "swvl1",
                "m**3 m**-3",
                "Volumetric soil water layer 1",
                40.0,
                param_id=39,
                grib_short_name="swvl1",
            ),
        ],
        resolution=0.1,
        cost_limit=12_000,
    )
    era5_pressure = EmulatedDataset(
        id="reanalysis-era5-pressure-levels",
        title="ERA5 hourly data on pressure levels from 1940 to present",
        abstract="ERA5 upper-air fields on 37 pressure levels.",
        keywords=[
            "Variable domain: Atmosphere (upper air)",
            "Spatial coverage: Global",
            "Temporal coverage: Past",
            "Data type: Gridded",
            "Provider: Copernicus C3S",
            "Product type: Reanalysis",
            "Temporal resolution: Hourly",
        ],
        begin="1940-01-01",
        end="2025-06-30",
        variables=[
            EmulatedVariable(
                "temperature",
                "Temperature",
                "t",
                "K",
                "Temperature",
                200.0,
                param_id=130,
                grib_short_name="t",
            ),
            EmulatedVariable(
                "geopotential",
                "Geopotential",
                "z",
                "m**2 s**-2",
                "Geopotential",
                5000.0,
                param_id=129,
                grib_short_name="z",
            ),
            EmulatedVariable(
                "u_component_of_wind",
                "U-component of wind",
                "u",
                "m s**-1",
                "U component of wind",
                10.0,
                param_id=131,
                grib_short_name="u",
            ),
            EmulatedVariable(
                "relative_humidity",
                "Relative humidity",
                "r",
                "%",
                "Relative humidity",
                50.0,
                param_id=157,
                grib_short_name="r",
            ),
        ],
        resolution=0.25,
        product_types=dict(ERA5_PRODUCT_TYPES),
        product_type_times={k: list(v) for k, v in ERA5_PRODUCT_TIMES.items()},
        ensemble_members={"ensemble_members": 10},
        levels=list(PRESSURE_LEVELS),
        cost_limit=60_000,
    )
    daily_stats = EmulatedDataset(
        id="derived-era5-single-levels-daily-statistics",
        title="ERA5 post-processed daily statistics on single levels from 1940 to present",
        abstract="Daily statistics (mean, maximum, minimum) computed from ERA5 hourly data.",
        keywords=[*ERA5_KEYWORDS, "Temporal resolution: Daily"],
        begin="1940-01-01",
        end="2025-06-23",
        variables=[
            v
            for v in _era5_single_level_variables()
            if v.name in ("2m_temperature", "10m_u_component_of_wind", "mean_sea_level_pressure")
        ],
        resolution=0.25,
        product_types={"reanalysis": "Reanalysis"},
        temporal="daily",
        choices={
            "daily_statistic": (
                "Daily statistic",
                {
                    "daily_mean": "Daily mean",
                    "daily_maximum": "Daily maximum",
                    "daily_minimum": "Daily minimum",
                },
                "daily_mean",
            ),
            "time_zone": (
                "Time zone",
                {"utc+00:00": "UTC+00:00", "utc+01:00": "UTC+01:00", "utc-05:00": "UTC-05:00"},
                "utc+00:00",
            ),
            "frequency": (
                "Sub-daily sampling frequency",
                {"1_hourly": "1-hourly", "3_hourly": "3-hourly", "6_hourly": "6-hourly"},
                "1_hourly",
            ),
        },
        output="derived",
        data_formats=None,
        download_formats={"zip": "Zip"},
        temporal_resolution="Daily",
        data_format_description="NetCDF",
        cost_limit=20_000,
    )
    soil = EmulatedDataset(
        id="satellite-soil-moisture",
        title="Soil moisture gridded data from 1978 to present",
        abstract="Satellite soil moisture from active, passive and combined sensors.",
        keywords=[
            "Variable domain: Land (hydrology)",
            "Spatial coverage: Global",
            "Temporal coverage: Past",
            "Data type: Gridded",
            "Provider: Copernicus C3S",
            "Product type: Satellite observations",
            "Temporal resolution: Daily",
            "Temporal resolution: Monthly",
        ],
        begin="1978-11-01",
        end="2025-05-31",
        variables=[
            EmulatedVariable(
                "volumetric_surface_soil_moisture",
                "Volumetric surface soil moisture",
                "sm",
                "m3 m-3",
                "Volumetric Soil Moisture",
                0.0,
                sensors=("passive", "combined_passive_and_active"),
            ),
            EmulatedVariable(
                "surface_soil_moisture",
                "Surface soil moisture",
                "sm",
                "percent",
                "Percent of Saturation Soil Moisture",
                100.0,
                sensors=("active",),
            ),
        ],
        resolution=0.25,
        temporal="aggregated",
        choices={
            "type_of_sensor": (
                "Type of sensor",
                {
                    "combined_passive_and_active": "Combined passive and active",
                    "passive": "Passive",
                    "active": "Active",
                },
                "combined_passive_and_active",
            ),
            "time_aggregation": (
                "Time aggregation",
                {
                    "day_average": "Day average",
                    "10_day_average": "10-day average",
                    "month_average": "Month average",
                },
                "day_average",
            ),
            "type_of_record": ("Type of record", {"cdr": "CDR", "icdr": "ICDR"}, "cdr"),
            "version": ("Version", {"v202312": "v202312", "v202212": "v202212"}, "v202312"),
        },
        aggregation_key="time_aggregation",
        aggregation_days={
            "day_average": list(DAYS),
            "10_day_average": ["01", "11", "21"],
            "month_average": ["01"],
        },
        output="satellite",
        supports_area=False,
        data_formats=None,
        download_formats={"zip": "Zip", "tgz": "Compressed tar"},
        global_lon0=-180.0,
        cell_centred=True,
        temporal_resolution="Daily, 10-day, Monthly",
        data_format_description="NetCDF",
        cost_limit=100_000,
    )
    monthly = EmulatedDataset(
        id="reanalysis-era5-single-levels-monthly-means",
        title="ERA5 monthly averaged data on single levels from 1940 to present",
        abstract="Monthly means of ERA5 single-level fields.",
        keywords=[*ERA5_KEYWORDS, "Temporal resolution: Monthly"],
        begin="1940-01-01",
        end="2025-05-01",
        variables=[
            v
            for v in _era5_single_level_variables()
            if v.name in ("2m_temperature", "mean_sea_level_pressure")
        ],
        resolution=0.25,
        product_types={"monthly_averaged_reanalysis": "Monthly averaged reanalysis"},
        product_type_times={"monthly_averaged_reanalysis": ["00:00"]},
        temporal="monthly",
        temporal_resolution="Monthly",
    )
    stations = EmulatedDataset(
        id="insitu-observations-surface-land",
        title="Global land surface atmospheric variables from 1755 to present (in situ)",
        abstract="Station observations; not a gridded dataset.",
        keywords=[
            "Variable domain: Atmosphere (surface)",
            "Data type: Point observations",
            "Provider: Copernicus C3S",
        ],
        begin="1755-01-01",
        end="2024-12-31",
        variables=[
            EmulatedVariable(
                "air_temperature", "Air temperature", "ta", "K", "Air temperature", 250.0
            )
        ],
        resolution=1.0,
        temporal="daily",
        gridded=False,
        supports_area=False,
        data_formats=None,
        download_formats={"zip": "Zip"},
        temporal_resolution="Sub-daily",
        data_format_description="CSV",
    )
    return [era5_single, era5_land, era5_pressure, daily_stats, soil, monthly, stations]


DEFAULT_DATASETS: tuple[EmulatedDataset, ...] = tuple(_default_datasets())


def valid_dates(years: Sequence[str], months: Sequence[str], days: Sequence[str]) -> list[dt.date]:
    """The calendar dates in the cross product of years, months and days (Feb 30 dropped)."""
    result = []
    for year in years:
        for month in months:
            length = calendar.monthrange(int(year), int(month))[1]
            for day in days:
                if int(day) <= length:
                    result.append(dt.date(int(year), int(month), int(day)))
    return sorted(set(result))
