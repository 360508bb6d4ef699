"""The NetCDF files the CDS emulator delivers, shaped like the service's.

ERA5-like datasets give one file per step type (``valid_time``, descending ``latitude``,
``number`` and ``expver`` coordinates, GRIB attributes, short variable names); satellite
datasets one file per time step. Files are NetCDF-4, or classic NetCDF-3 where the
dataset's ``netcdf_format`` says so. Values are :func:`.datasets.expected_value` of the
coordinates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .datasets import EmulatedDataset, expected_value, valid_dates

__all__ = ["DAILY_STATISTIC_OFFSETS", "write_files"]

#: Value offsets of the daily statistics of the derived daily dataset.
DAILY_STATISTIC_OFFSETS = {"daily_mean": 0.0, "daily_maximum": 5.0, "daily_minimum": -5.0}


def _grid(dataset: EmulatedDataset, request: Mapping[str, Any]) -> tuple[Any, Any]:
    """Latitudes (descending) and longitudes of the points the request covers."""
    import numpy as np

    resolution = request["grid"][0] if "grid" in request else dataset.resolution
    lat_step = request["grid"][1] if "grid" in request else dataset.resolution
    if dataset.cell_centred:
        lat = 90 - lat_step / 2 - np.arange(round(180 / lat_step)) * lat_step
        lon = -180 + resolution / 2 + np.arange(round(360 / resolution)) * resolution
        return lat, lon
    if "area" in request:
        north, west, south, east = request["area"]
        eps = 1e-9
        lat = np.arange(math.ceil(south / lat_step - eps), math.floor(north / lat_step + eps) + 1)
        lon = np.arange(math.ceil(west / resolution - eps), math.floor(east / resolution + eps) + 1)
        return np.round(lat[::-1] * lat_step, 6), np.round(lon * resolution, 6)
    count_lat = round(180 / lat_step) + 1
    lat = np.round(90 - np.arange(count_lat) * lat_step, 6)
    lon = np.round(dataset.global_lon0 + np.arange(round(360 / resolution)) * resolution, 6)
    return lat, lon


def _timestamps(request: Mapping[str, Any]) -> list[dt.datetime]:
    days = request.get("day") or ["01"]
    dates = valid_dates(request["year"], request["month"], days)
    times = request.get("time") or ["00:00"]
    stamps = [
        dt.datetime.combine(day, dt.time(int(t[:2]), int(t[3:5]))) for day in dates for t in times
    ]
    return sorted(stamps)


def write_files(dataset: EmulatedDataset, request: Mapping[str, Any], folder: Path) -> list[Path]:
    if dataset.output == "satellite":
        return _write_satellite(dataset, request, folder)
    return _write_era5_like(dataset, request, folder)


def _write_era5_like(
    dataset: EmulatedDataset, request: Mapping[str, Any], folder: Path
) -> list[Path]:
    import numpy as np
    import xarray as xr

    lat, lon = _grid(dataset, request)
    stamps = np.array(_timestamps(request), dtype="datetime64[ns]")
    product_type = (request.get("product_type") or [None])[0]
    members = dataset.ensemble_members.get(product_type or "", 0)
    levels = [float(v) for v in request.get("pressure_level") or []]
    levels.sort(reverse=True)
    statistic = (request.get("daily_statistic") or [None])[0]
    extra = DAILY_STATISTIC_OFFSETS.get(statistic or "", 0.0)
    seconds = (stamps - np.datetime64("1970-01-01", "ns")) // np.timedelta64(1, "s")
    coords: dict[str, Any] = {
        "valid_time": (
            "valid_time",
            seconds.astype("int64"),
            {
                "long_name": "time",
                "standard_name": "time",
                "units": "seconds since 1970-01-01",
                "calendar": "proleptic_gregorian",
            },
        ),
        "latitude": (
            "latitude",
            lat.astype("float64"),
            {
                "units": "degrees_north",
                "standard_name": "latitude",
                "long_name": "latitude",
                "stored_direction": "decreasing",
            },
        ),
        "longitude": (
            "longitude",
            lon.astype("float64"),
            {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude"},
        ),
    }
    number_attrs = {
        "long_name": "ensemble member numerical id",
        "units": "1",
        "standard_name": "realization",
    }
    if members:
        coords["number"] = ("number", np.arange(members, dtype="int64"), number_attrs)
    else:
        coords["number"] = ((), np.int64(0), number_attrs)
    if dataset.output == "era5":
        end = np.datetime64(dataset.end, "ns")
        recent = stamps > end - np.timedelta64(90, "D")
        coords["expver"] = (
            "valid_time",
            np.where(recent, "0005", "0001").astype(object),
            {"long_name": "model experiment version", "standard_name": "experiment_version"},
        )
    if levels:
        coords["pressure_level"] = (
            "pressure_level",
            np.array(levels, dtype="float64"),
            {
                "units": "hPa",
                "long_name": "pressure",
                "standard_name": "air_pressure",
                "stored_direction": "decreasing",
                "positive": "down",
            },
        )
    dims = ["number"] if members else []
    dims.append("valid_time")
    dims += ["pressure_level"] if levels else []
    dims += ["latitude", "longitude"]
    shape_coords = {
        "number": np.arange(members) if members else np.array(0),
        "valid_time": stamps,
        "pressure_level": np.array(levels),
        "latitude": lat,
        "longitude": lon,
    }
    grids = np.meshgrid(*[shape_coords[d] for d in dims], indexing="ij", sparse=True)
    by_dim = dict(zip(dims, grids, strict=True))
    groups: dict[str, list] = {}
    for name in request["variable"]:
        variable = dataset.variable(name)
        assert variable is not None
        key = variable.step_type if dataset.output == "era5" else name
        groups.setdefault(key, []).append(variable)
    stream = "enda" if members or (product_type or "").startswith("ensemble") else "oper"
    written = []
    for key, variables in groups.items():
        data_vars = {}
        for variable in variables:
            values = expected_value(
                variable.offset + extra,
                by_dim["latitude"],
                by_dim["longitude"],
                by_dim["valid_time"],
                by_dim.get("pressure_level", 0.0),
                by_dim.get("number", 0),
            )
            values = np.broadcast_to(values, tuple(g.shape[i] for i, g in enumerate(grids)))
            data_vars[variable.short_name] = (
                dims,
                values.astype("float32"),
                _grib_attrs(dataset, variable, lat, lon, levels),
            )
        ds = xr.Dataset(data_vars, coords=coords, attrs=_global_attrs(stream, key))
        if dataset.output == "era5":
            name = f"data_stream-{stream}_stepType-{key}.nc"
        else:
            name = f"{key}_{statistic or 'daily'}.nc"
        path = folder / name
        _write(ds, path, dataset, {v: {"_FillValue": np.float32("nan")} for v in data_vars})
        written.append(path)
    return written


def _write(ds: Any, path: Path, dataset: EmulatedDataset, encoding: dict[str, Any]) -> None:
    """Write a file in the dataset's NetCDF format (NetCDF-4, or classic NetCDF-3)."""
    if dataset.netcdf_format == "NETCDF4":
        ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    else:
        ds.to_netcdf(path, engine="scipy", format=dataset.netcdf_format, encoding=encoding)


def _grib_attrs(dataset, variable, lat, lon, levels) -> dict[str, Any]:
    step = float(abs(lat[0] - lat[1])) if len(lat) > 1 else dataset.resolution
    return {
        "GRIB_paramId": variable.param_id,
        "GRIB_dataType": "an" if variable.step_type == "instant" else "fc",
        "GRIB_numberOfPoints": len(lat) * len(lon),
        "GRIB_typeOfLevel": "isobaricInhPa" if levels else "surface",
        "GRIB_stepUnits": 1,
        "GRIB_stepType": variable.step_type,
        "GRIB_gridType": "regular_ll",
        "GRIB_uvRelativeToGrid": 0,
        "GRIB_NV": 0,
        "GRIB_Nx": len(lon),
        "GRIB_Ny": len(lat),
        "GRIB_cfName": "unknown",
        "GRIB_cfVarName": variable.short_name,
        "GRIB_gridDefinitionDescription": "Latitude/longitude",
        "GRIB_iDirectionIncrementInDegrees": step,
        "GRIB_jDirectionIncrementInDegrees": step,
        "GRIB_latitudeOfFirstGridPointInDegrees": float(lat[0]) if len(lat) else 0.0,
        "GRIB_latitudeOfLastGridPointInDegrees": float(lat[-1]) if len(lat) else 0.0,
        "GRIB_longitudeOfFirstGridPointInDegrees": float(lon[0]) if len(lon) else 0.0,
        "GRIB_longitudeOfLastGridPointInDegrees": float(lon[-1]) if len(lon) else 0.0,
        "GRIB_missingValue": 3.4028234663852886e38,
        "GRIB_name": variable.long_name,
        "GRIB_shortName": variable.grib_short_name or variable.short_name,
        "GRIB_units": variable.units,
        "long_name": variable.long_name,
        "units": variable.units,
        "standard_name": "unknown",
    }


def _global_attrs(stream: str, step_type: str) -> dict[str, Any]:
    return {
        "GRIB_centre": "ecmf",
        "GRIB_centreDescription": "European Centre for Medium-Range Weather Forecasts",
        "GRIB_subCentre": 0,
        "Conventions": "CF-1.7",
        "institution": "European Centre for Medium-Range Weather Forecasts",
        "history": (
            f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M} GRIB to CDM+CF via "
            f"cfgrib-0.9.15.0/ecCodes-2.39.0 with {{'source': 'tmp.grib', 'filter_by_keys': "
            f"{{'stream': ['{stream}'], 'stepType': ['{step_type}']}}, 'encode_cf': "
            "['parameter', 'time', 'geography', 'vertical']}"
        ),
    }


def _write_satellite(
    dataset: EmulatedDataset, request: Mapping[str, Any], folder: Path
) -> list[Path]:
    import numpy as np
    import xarray as xr

    lat, lon = _grid(dataset, request)
    sensor = request.get("type_of_sensor", ["combined_passive_and_active"])[0]
    record = request.get("type_of_record", ["cdr"])[0].upper()
    version = request.get("version", ["v202312"])[0]
    aggregation = request.get("time_aggregation", ["day_average"])[0]
    label = {"day_average": "DAILY", "10_day_average": "DEKADAL", "month_average": "MONTHLY"}
    kind = {"active": "SSMS", "passive": "SSMV", "combined_passive_and_active": "SSMV"}[sensor]
    variables = [dataset.variable(name) for name in request["variable"]]
    written = []
    for stamp in _timestamps(request):
        when = np.array([np.datetime64(stamp, "ns")])
        days = (when - np.datetime64("1970-01-01", "ns")) / np.timedelta64(1, "D")
        data_vars: dict[str, Any] = {}
        for variable in variables:
            assert variable is not None
            values = expected_value(variable.offset, lat[:, None], lon[None, :], when[0])
            data_vars[variable.short_name] = (
                ("time", "lat", "lon"),
                values[None].astype("float32"),
                {"units": variable.units, "long_name": variable.long_name},
            )
            data_vars[f"{variable.short_name}_uncertainty"] = (
                ("time", "lat", "lon"),
                np.full((1, len(lat), len(lon)), 0.01, dtype="float32"),
                {"units": variable.units, "long_name": f"{variable.long_name} Uncertainty"},
            )
        ds = xr.Dataset(
            data_vars,
            coords={
                "time": (
                    "time",
                    days.astype("float64"),
                    {"units": "days since 1970-01-01 00:00:00 UTC", "standard_name": "time"},
                ),
                "lat": (
                    "lat",
                    lat.astype("float32"),
                    {"units": "degrees_north", "standard_name": "latitude"},
                ),
                "lon": (
                    "lon",
                    lon.astype("float32"),
                    {"units": "degrees_east", "standard_name": "longitude"},
                ),
            },
            attrs={
                "title": "C3S Surface Soil Moisture merged product",
                "institution": "EODC; TU Wien; VanderSat",
                "product_version": version,
                "time_coverage_start": f"{stamp:%Y%m%d}000000",
            },
        )
        path = folder / (
            f"C3S-SOILMOISTURE-L3S-{kind}-{sensor.split('_')[0].upper()}-{label[aggregation]}-"
            f"{stamp:%Y%m%d}000000-{record}-{version}.0.0.nc"
        )
        encoding = {name: {"_FillValue": np.float32(-9999.0)} for name in ds.data_vars}
        _write(ds, path, dataset, encoding)
        written.append(path)
    return written
