"""SMOS-like Level-2 product files whose values are a known function of position and time.

Each product is a NetCDF4 file in the layout of the real MIR_SMUDP2 / MIR_OSUDP2 user data
products: one dimension ``n_grid_points``, one variable per field, each stored in a single
chunk compressed with shuffle and deflate level 5, except the one-byte fields, stored
contiguous and uncompressed (as in real SM products; assumed for OS ones), with the
products' data types and attributes (``_FillValue``, ``scale_factor``, ``scale_offset``,
``units``, ``_Unsigned``) and the header attributes ``FH:*`` / ``VH:*``.
``Grid_Point_ID``, ``Latitude`` and ``Longitude`` place the points; the other fields are
functions of the point's position and the product's mid-time, see :func:`expected_value`,
stored as the products store them (floats with fill value -999, scaled integers). Soil
moisture is missing (fill value) over "sea", salinity over "land", where ``land_index`` is
below -0.6 or above 0.6. Two junk points (id 0, positions -999) end every file, as readers
must skip them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from .dgg import emulated_grid
from .orbits import HalfOrbit

__all__ = [
    "FIELDS",
    "Field",
    "expected_value",
    "land_index",
    "product_bytes",
    "product_points",
]

_DAY0 = datetime(2000, 1, 1)


def _days(when: datetime) -> float:
    return (when - _DAY0).total_seconds() / 86400.0


def _xyz(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    phi, lam = np.radians(np.asarray(lat, np.float64)), np.radians(np.asarray(lon, np.float64))
    return np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)


def land_index(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """-1..1; SM is missing below -0.6 ("sea"), salinity above 0.6 ("land")."""
    phi, lam = np.radians(np.asarray(lat, np.float64)), np.radians(np.asarray(lon, np.float64))
    return np.sin(2 * phi) * np.cos(3 * lam)


Function = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


def _linear(base: float, cx: float, cy: float, cz: float, seasonal: float = 0.0) -> Function:
    def value(x: np.ndarray, y: np.ndarray, z: np.ndarray, days: float) -> np.ndarray:
        season = seasonal * math.cos(2 * math.pi * days / 365.25)
        return base + cx * x + cy * y + cz * z + season

    value.gradient = math.sqrt(cx * cx + cy * cy + cz * cz)  # type: ignore[attr-defined]
    return value


@dataclass(frozen=True)
class Field:
    """One variable of a product file: how it is stored and what its values are."""

    name: str
    dtype: str
    fill: float | int
    scale: float | None
    units: str | None
    function: Function
    missing_where: str | None = None  # "sea" or "land"

    @property
    def gradient(self) -> float:
        """Largest change of the value per radian of distance on the sphere."""
        return float(getattr(self.function, "gradient", 0.0))

    @property
    def step(self) -> float:
        """The quantisation step of the stored value (0 for floats)."""
        return self.scale if self.scale is not None else (1.0 if self.dtype[0] in "ui" else 0.0)


def _f(name, dtype, fill, scale, units, function, missing_where=None) -> Field:
    return Field(name, dtype, fill, scale, units, function, missing_where)


_SM_FIELDS = (
    _f(
        "Soil_Moisture",
        "float32",
        -999.0,
        None,
        "m3 m-3",
        _linear(0.25, 0.05, 0.03, 0.10, 0.02),
        "sea",
    ),
    _f(
        "Soil_Moisture_DQX", "float32", -999.0, None, "m3 m-3", _linear(0.04, 0.01, 0.0, 0.0), "sea"
    ),
    _f("Chi_2", "uint8", 0, 0.20784314954653382, None, _linear(1.5, 0.0, 0.0, 0.5)),
    _f("Chi_2_P", "uint8", 0, 0.003921568859368563, None, _linear(0.5, 0.0, 0.3, 0.0)),
    _f("N_RFI_X", "uint16", 0, None, None, _linear(5.0, 3.0, 0.0, 0.0)),
    _f("N_RFI_Y", "uint16", 0, None, None, _linear(5.0, 0.0, 3.0, 0.0)),
    _f("RFI_Prob", "uint8", 0, 0.004999999888241291, None, _linear(0.3, 0.0, 0.0, 0.2)),
    _f("X_Swath", "int16", 0, 0.032044436782598495, "km", _linear(200.0, 100.0, 0.0, 0.0)),
    # fields the cubes do not use, as in the real products
    _f("Altitude", "float32", -99999.0, None, "m", _linear(500.0, 200.0, 0.0, 0.0)),
    _f("Surface_Temperature", "float32", -999.0, None, "K", _linear(280.0, 0.0, 0.0, 20.0, 5.0)),
    _f("Optical_Thickness_Nad", "float32", -999.0, None, "Np", _linear(0.3, 0.1, 0.0, 0.0)),
    _f("Scattering_Albedo_H", "float32", -999.0, None, None, _linear(0.05, 0.0, 0.01, 0.0)),
    _f("Roughness_Param", "float32", -999.0, None, "K", _linear(0.2, 0.0, 0.05, 0.0)),
    _f("Dielect_Const_MD_RE", "float32", -999.0, None, "Fm-1", _linear(10.0, 2.0, 0.0, 0.0)),
    _f("Dielect_Const_MD_IM", "float32", -999.0, None, "Fm-1", _linear(2.0, 0.0, 0.5, 0.0)),
    _f("TB_ASL_Theta_B_H", "float32", -999.0, None, "K", _linear(200.0, 10.0, 0.0, 0.0)),
    _f("TB_ASL_Theta_B_V", "float32", -999.0, None, "K", _linear(220.0, 0.0, 10.0, 0.0)),
    _f("TB_TOA_Theta_B_H", "float32", -999.0, None, "K", _linear(205.0, 10.0, 0.0, 0.0)),
    _f("TB_TOA_Theta_B_V", "float32", -999.0, None, "K", _linear(225.0, 0.0, 10.0, 0.0)),
    _f("Science_Flags", "uint32", 0, None, None, _linear(1024.0, 0.0, 0.0, 0.0)),
    _f("Confidence_Flags", "uint16", 0, None, None, _linear(2.0, 0.0, 0.0, 0.0)),
    _f("Processing_Flags", "uint16", 0, None, None, _linear(4.0, 0.0, 0.0, 0.0)),
    _f("GQX", "uint8", 0, None, None, _linear(80.0, 0.0, 10.0, 0.0)),
    _f("S_Tree_1", "uint8", 0, None, None, _linear(20.0, 5.0, 0.0, 0.0)),
    _f("S_Tree_2", "uint8", 0, None, None, _linear(30.0, 0.0, 0.0, 5.0)),
)

_OS_FIELDS = (
    _f("Mean_acq_time", "float32", -999.0, None, "dd", _linear(0.0, 0.0, 0.0, 0.0)),
    _f("SSS_corr", "float32", -999.0, None, "psu", _linear(35.0, 1.0, 0.5, -2.0, 0.3), "land"),
    _f("Sigma_SSS_corr", "float32", -999.0, None, "psu", _linear(0.5, 0.1, 0.0, 0.0), "land"),
    _f("SSS_anom", "float32", -999.0, None, "psu", _linear(0.0, 0.5, -0.5, 0.0), "land"),
    _f("Sigma_SSS_anom", "float32", -999.0, None, "psu", _linear(0.6, 0.0, 0.1, 0.0), "land"),
    _f("Dg_chi2_corr", "uint16", 0, 0.009999999776482582, None, _linear(1.2, 0.0, 0.0, 0.3)),
    _f("Dg_quality_SSS_corr", "uint16", 999, None, None, _linear(50.0, 10.0, 0.0, 0.0)),
    _f("Dg_quality_SSS_anom", "uint16", 999, None, None, _linear(60.0, 0.0, 10.0, 0.0)),
    _f("Coast_distance", "uint8", 0, 20.0, None, _linear(500.0, 200.0, 100.0, 0.0)),
    _f("Dg_RFI_X", "uint16", 64537, None, None, _linear(8.0, 3.0, 0.0, 0.0)),
    _f("Dg_RFI_Y", "uint16", 64537, None, None, _linear(8.0, 0.0, 3.0, 0.0)),
    _f("X_swath", "float32", -999.0, None, "m", _linear(0.0, 0.0, 300000.0, 0.0)),
    # fields the cubes do not use
    _f("SSS_uncorr", "float32", -999.0, None, "psu", _linear(34.5, 1.0, 0.0, 0.0)),
    _f("Sigma_SSS_uncorr", "float32", -999.0, None, "psu", _linear(0.7, 0.0, 0.0, 0.1)),
    _f("WS", "float32", -999.0, None, "m s-1", _linear(7.0, 2.0, 0.0, 0.0)),
    _f("SST", "float32", -999.0, None, "degC", _linear(15.0, 0.0, 0.0, -10.0, 3.0)),
    _f("Tb_42.5H", "float32", -999.0, None, "K", _linear(100.0, 5.0, 0.0, 0.0)),
    _f("Tb_42.5V", "float32", -999.0, None, "K", _linear(110.0, 0.0, 5.0, 0.0)),
    _f("Equiv_ftprt_diam", "float32", -999.0, None, "km", _linear(40.0, 0.0, 0.0, 5.0)),
    _f("Control_Flags", "uint32", 0, None, None, _linear(16.0, 0.0, 0.0, 0.0)),
    _f("Science_Flags", "uint32", 0, None, None, _linear(64.0, 0.0, 0.0, 0.0)),
)

#: The fields of each product type (besides Grid_Point_ID, Latitude and Longitude).
FIELDS: dict[str, tuple[Field, ...]] = {"MIR_SMUDP2": _SM_FIELDS, "MIR_OSUDP2": _OS_FIELDS}
#: A product of an older processing version differs by this much in every float field.
OLD_VERSION_OFFSET = 1.0


def field(product_type: str, name: str) -> Field:
    return next(f for f in FIELDS[product_type] if f.name == name)


def expected_value(
    product_type: str, name: str, lat: np.ndarray, lon: np.ndarray, when: datetime
) -> np.ndarray:
    """The physical value of field ``name`` at positions ``lat``/``lon`` (degrees) in the
    product whose mid-time is ``when`` (NaN where the field is missing), before storage."""
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    return _values(field(product_type, name), lat, lon, _xyz(lat, lon), land_index(lat, lon), when)


def _values(
    spec: Field,
    lat: np.ndarray,
    lon: np.ndarray,
    xyz: tuple[np.ndarray, np.ndarray, np.ndarray],
    land: np.ndarray,
    when: datetime,
) -> np.ndarray:
    days = _days(when)
    if spec.name == "Mean_acq_time":
        return np.full(np.shape(lat), days, dtype=np.float64)
    x, y, z = xyz
    values = np.asarray(spec.function(x, y, z, days), dtype=np.float64)
    values = np.broadcast_to(values, np.shape(x)).copy()
    if spec.missing_where == "sea":
        values[land < -0.6] = np.nan
    elif spec.missing_where == "land":
        values[land > 0.6] = np.nan
    return values


def product_points(orbit: HalfOrbit) -> np.ndarray:
    """Indices into the emulated grid of the points of half orbit ``orbit``."""
    grid = emulated_grid()
    return np.flatnonzero(orbit.in_swath(grid.xyz))


def _encode(spec: Field, values: np.ndarray) -> np.ndarray:
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        stored = np.where(np.isnan(values), spec.fill, values)
        return stored.astype(dtype)
    scaled = values / spec.scale if spec.scale is not None else values
    info = np.iinfo(dtype)
    stored = np.clip(np.round(np.nan_to_num(scaled, nan=spec.fill)), info.min, info.max)
    stored = np.where(np.isnan(values), spec.fill, stored)
    return stored.astype(dtype)


def product_bytes(product_type: str, orbit: HalfOrbit, name: str, old_version: bool) -> bytes:
    """The NetCDF4 file of the ``product_type`` product of ``orbit``."""
    import h5netcdf

    grid = emulated_grid()
    points = product_points(orbit)
    lat = grid.lat[points].astype(np.float64)
    lon = grid.lon[points].astype(np.float64)
    junk = 2
    count = points.size + junk
    when = orbit.mid
    fraction = orbit.acquisition_fraction(grid.xyz[points].astype(np.float64))
    xyz, land = _xyz(lat, lon), land_index(lat, lon)
    seconds_in = fraction * (orbit.end - orbit.start).total_seconds()
    acquired = _days(orbit.start) + seconds_in / 86400.0

    def padded(values: np.ndarray, fill: float | int, dtype: str) -> np.ndarray:
        out = np.full(count, fill, dtype=dtype)
        out[: points.size] = values
        return out

    columns: list[tuple[str, np.ndarray, dict[str, object], float | int]] = []
    ids = padded(grid.ids[points], 0, "uint32")
    columns.append(("Grid_Point_ID", ids, {"_Unsigned": "true"}, np.uint32(0)))
    columns.append(("Latitude", padded(lat, -999.0, "float32"), {"units": "deg"}, np.float32(-999)))
    columns.append(
        ("Longitude", padded(lon, -999.0, "float32"), {"units": "deg"}, np.float32(-999))
    )
    if product_type == "MIR_SMUDP2":
        whole_days = np.floor(acquired)
        seconds = np.floor((acquired - whole_days) * 86400.0)
        columns.append(("Days", padded(whole_days, 0, "int32"), {"units": "days"}, np.int32(0)))
        columns.append(("Seconds", padded(seconds, 0, "uint32"), {"units": "s"}, np.uint32(0)))
        zeros = padded(np.zeros(points.size), 0, "uint32")
        columns.append(("Microseconds", zeros, {"units": "us"}, np.uint32(0)))
    for spec in FIELDS[product_type]:
        if spec.name == "Mean_acq_time":
            values = acquired.astype(np.float64)
        else:
            values = _values(spec, lat, lon, xyz, land, when)
            if old_version and spec.dtype.startswith("float"):
                values = values + OLD_VERSION_OFFSET
        stored = padded(_encode(spec, values), spec.fill, spec.dtype)
        attrs: dict[str, object] = {}
        if spec.units:
            attrs["units"] = spec.units
        if spec.scale is not None:
            attrs["scale_factor"] = np.float64(spec.scale)
            attrs["scale_offset"] = np.float64(0.0)
        if spec.dtype.startswith("uint"):
            attrs["_Unsigned"] = "true"
        columns.append((spec.name, stored, attrs, np.dtype(spec.dtype).type(spec.fill)))

    # Like the products' writer, all metadata first (it fills the first blocks of the
    # file), then the data of each variable.
    buffer = io.BytesIO()
    with h5netcdf.File(buffer, "w") as nc:
        nc.dimensions["n_grid_points"] = count
        nc.attrs.update(_header(product_type, orbit, name, count))
        variables = []
        for var, data, attrs, fill in columns:
            variable = nc.create_variable(
                var, ("n_grid_points",), data.dtype, fillvalue=fill, **_storage(data.dtype, count)
            )
            for key, value in attrs.items():
                variable.attrs[key] = value
            variables.append((variable, data))
        for variable, data in variables:
            variable[...] = data
    return buffer.getvalue()


def _storage(dtype: np.dtype, count: int) -> dict[str, Any]:
    """How a variable is stored: one-byte ones contiguous, others one deflated chunk."""
    if dtype.itemsize == 1:
        return {"chunks": None}
    return {"chunks": (count,), "compression": "gzip", "compression_opts": 5, "shuffle": True}


def _header(product_type: str, orbit: HalfOrbit, name: str, count: int) -> dict[str, str]:
    description = {
        "MIR_SMUDP2": "L2 Soil Moisture Output User Data Product",
        "MIR_OSUDP2": "L2 Ocean Salinity Output User Data Product",
    }[product_type]
    return {
        "total_number_of_grid_points": str(count),
        "FH:File_Name": name,
        "FH:File_Description": description,
        "FH:Mission": "SMOS",
        "FH:File_Class": name[3:7],
        "FH:File_Type": product_type,
        "FH:Validity_Period:Validity_Start": f"UTC={orbit.start:%Y-%m-%dT%H:%M:%S}",
        "FH:Validity_Period:Validity_Stop": f"UTC={orbit.end:%Y-%m-%dT%H:%M:%S}",
        "VH:SPH:MI:TI:Abs_Orbit_Start": f"+{orbit.orbit:05d}",
        "VH:SPH:MI:TI:Ascending_Flag": "A" if orbit.ascending else "D",
        "VH:SPH:MI:TI:Long_at_ANX": f"{orbit.node_lon:+.6f}",
    }
