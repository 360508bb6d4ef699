"""What the store knows about each EOPF product type: the analysis-mode conventions.

xarray-eopf's analysis mode turns an EOPF product (a Zarr DataTree) into a flat dataset:
lower-case band names (``b02``, ``b8a``, ``scl``, ``oa01_radiance``), one resolution for
all bands, each band taken from the first resolution group in an order that depends on
the target resolution, flag attributes on classification layers. This module holds those
conventions as data for every collection the store can cube; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import CONVERSION_FACTOR_DEG_METER

__all__ = [
    "COLLECTIONS",
    "COMMON_BAND_NAMES",
    "S2_RESOLUTIONS",
    "ProductType",
    "Variable",
    "component_groups",
    "product_type",
    "s2_source_resolution",
]

#: Sentinel-2 resolution groups and, per target resolution, the order in which their
#: groups contribute a band (xarray-eopf's ``RESOLUTION_ORDERS``).
S2_RESOLUTIONS = (10, 20, 60)
_S2_RESOLUTION_ORDERS = {10: (10, 20, 60), 20: (20, 10, 60), 60: (60, 20, 10)}

#: Common band names accepted in ``variables`` for Sentinel-2 bands.
COMMON_BAND_NAMES = {
    "coastal": "b01",
    "blue": "b02",
    "green": "b03",
    "red": "b04",
    "rededge071": "b05",
    "rededge075": "b06",
    "rededge078": "b07",
    "nir": "b08",
    "nir08": "b8a",
    "nir09": "b09",
    "cirrus": "b10",
    "swir16": "b11",
    "swir22": "b12",
}
_COMMON_BY_BAND = {band: name for name, band in COMMON_BAND_NAMES.items()}
_WAVELENGTHS = {
    "b01": 0.443, "b02": 0.490, "b03": 0.560, "b04": 0.665, "b05": 0.705, "b06": 0.740,
    "b07": 0.783, "b08": 0.842, "b8a": 0.865, "b09": 0.945, "b10": 1.375, "b11": 1.610,
    "b12": 2.190,
}  # fmt: skip

SCL_FLAGS: dict[str, Any] = {
    "flag_values": list(range(12)),
    "flag_meanings": (
        "no_data sat_or_defect_pixel topo_casted_shadows cloud_shadows vegetation "
        "not_vegetation water unclassified cloud_medium_prob cloud_high_prob thin_cirrus "
        "snow_or_ice"
    ),
    "flag_colors": (
        "#000000 #ff0000 #2f2f2f #643200 #00a000 #ffe65a #0000ff #808080 #c0c0c0 #ffffff "
        "#64c8ff #ff96ff"
    ),
}


@dataclass(frozen=True)
class Variable:
    """One variable of a product type as the analysis mode shows it.

    ``groups`` maps a resolution in metres to the DataTree group holding the variable at
    that resolution (Sentinel-2), or holds one group (swaths, key = native resolution).
    ``geolocation`` is the group with the latitude/longitude of a swath variable.
    ``component`` names a product component (a Sentinel-1 polarisation, ``VV``) whose
    group is found in each product by :func:`component_groups`; the paths of ``groups``
    and ``geolocation`` are then relative to that group.
    """

    name: str
    groups: Mapping[int, str]
    dtype: str
    units: str | None = None
    long_name: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    geolocation: str | None = None
    categorical: bool = False
    array: str | None = None  # the array's name in the product, if not ``name``
    component: str | None = None

    @property
    def native_resolution(self) -> int:
        return min(self.groups)

    def path(self, resolution: int) -> str:
        """The path of the variable's array inside the product at ``resolution``."""
        return f"{self.groups[resolution]}/{self.array or self.name}"

    def describe(self) -> dict[str, Any]:
        """Attributes for a variable descriptor (no I/O)."""
        attrs: dict[str, Any] = {
            "native_resolution": self.native_resolution,
            "resolutions": sorted(self.groups),
        }
        if self.units:
            attrs["units"] = self.units
        if self.long_name:
            attrs["long_name"] = self.long_name
        attrs.update(self.attrs)
        return attrs


@dataclass(frozen=True)
class ProductType:
    """A collection of the sample service and the conventions of its products."""

    collection: str
    product_type: str
    family: str  # "msi" (Sentinel-2 tiles), "swath" (Sentinel-3 and Sentinel-1)
    title: str
    variables: Mapping[str, Variable]
    default_resolution: int
    tile_property: str | None = None

    @property
    def is_tiled(self) -> bool:
        return self.family == "msi"


def _s2_band(name: str, resolutions: tuple[int, ...], level: str) -> Variable:
    attrs: dict[str, Any] = {"wavelength": _WAVELENGTHS[name]}
    if name in _COMMON_BY_BAND:
        attrs["common_name"] = _COMMON_BY_BAND[name]
    kind = "Bottom-of-atmosphere" if level == "L2A" else "Top-of-atmosphere"
    return Variable(
        name=name,
        groups={r: f"measurements/reflectance/r{r}m" for r in resolutions},
        dtype="float32",
        units="1",
        long_name=f"{kind} reflectance of band {name.upper()}",
        attrs=attrs,
    )


def _s2_l2a() -> dict[str, Variable]:
    all_res = (10, 20, 60)
    bands = {
        "b01": (20, 60), "b02": all_res, "b03": all_res, "b04": all_res, "b05": (20, 60),
        "b06": (20, 60), "b07": (20, 60), "b08": (10,), "b8a": (20, 60), "b09": (60,),
        "b11": (20, 60), "b12": (20, 60),
    }  # fmt: skip
    variables = {name: _s2_band(name, res, "L2A") for name, res in bands.items()}
    variables["scl"] = Variable(
        name="scl",
        groups={20: "conditions/mask/l2a_classification/r20m",
                60: "conditions/mask/l2a_classification/r60m"},
        dtype="uint8",
        units="1",
        long_name="Scene classification data, based on Sen2Cor processor",
        attrs=SCL_FLAGS,
        categorical=True,
    )  # fmt: skip
    for name, what in (("cld", "Cloud"), ("snw", "Snow")):
        variables[name] = Variable(
            name=name,
            groups={20: "quality/probability/r20m", 60: "quality/probability/r60m"},
            dtype="uint8",
            units="percent",
            long_name=f"{what} probability, based on Sen2Cor processor",
            categorical=True,
        )
    return variables


def _s2_l1c() -> dict[str, Variable]:
    bands = {
        "b01": (60,), "b02": (10,), "b03": (10,), "b04": (10,), "b05": (20,), "b06": (20,),
        "b07": (20,), "b08": (10,), "b8a": (20,), "b09": (60,), "b10": (60,), "b11": (20,),
        "b12": (20,),
    }  # fmt: skip
    return {name: _s2_band(name, res, "L1C") for name, res in bands.items()}


def _swath(
    names: list[str],
    group: str,
    resolution: int,
    dtype: str = "float32",
    units: str | None = None,
    long_names: Mapping[str, str] | None = None,
    geolocation: str | None = None,
) -> dict[str, Variable]:
    return {
        name: Variable(
            name=name,
            groups={resolution: group},
            dtype=dtype,
            units=units,
            long_name=(long_names or {}).get(name),
            geolocation=geolocation or group,
        )
        for name in names
    }


def _olci_efr() -> dict[str, Variable]:
    names = [f"oa{i:02d}_radiance" for i in range(1, 22)]
    long_names = {n: f"TOA radiance of OLCI band Oa{n[2:4]}" for n in names}
    return _swath(names, "measurements", 300, units="mW.m-2.sr-1.nm-1", long_names=long_names)


def _olci_lfr() -> dict[str, Variable]:
    long_names = {
        "gifapar": "Green instantaneous fraction of absorbed photosynthetically active radiation",
        "iwv": "Integrated water vapour column",
        "otci": "OLCI terrestrial chlorophyll index",
        "rc681": "Rectified reflectance at 681 nm",
        "rc865": "Rectified reflectance at 865 nm",
    }
    return _swath(list(long_names), "measurements", 300, long_names=long_names)


def _slstr_rbt() -> dict[str, Variable]:
    variables: dict[str, Variable] = {}
    for view in ("n", "o"):
        group = f"measurements/a{view}adir" if view == "n" else "measurements/aoblique"
        names = [f"s{i}_radiance_a{view}" for i in range(1, 7)]
        variables.update(_swath(names, group, 500, units="mW.m-2.sr-1.nm-1"))
        group = f"measurements/i{view}adir" if view == "n" else "measurements/ioblique"
        names = [f"s{i}_bt_i{view}" for i in range(7, 10)]
        variables.update(_swath(names, group, 1000, units="K"))
    return variables


def _slstr_lst() -> dict[str, Variable]:
    return _swath(
        ["lst"], "measurements", 1000, units="K", long_names={"lst": "Land surface temperature"}
    )


def _s1_grd() -> dict[str, Variable]:
    return {
        pol: Variable(
            name=pol,
            groups={10: "measurements"},
            dtype="float32",
            units="1",
            long_name=f"Ground range detected amplitude, {pol.upper()} polarisation",
            geolocation="conditions/gcp",
            array="grd",
            component=pol.upper(),
        )
        for pol in ("vv", "vh")
    }


_TYPES = [
    ProductType(
        "sentinel-2-l2a", "MSIL2A", "msi", "Sentinel-2 Level-2A", _s2_l2a(), 10, "grid:code"
    ),
    ProductType(
        "sentinel-2-l1c", "MSIL1C", "msi", "Sentinel-2 Level-1C", _s2_l1c(), 10, "grid:code"
    ),
    ProductType(
        "sentinel-3-olci-l1-efr",
        "OL_1_EFR",
        "swath",
        "Sentinel-3 OLCI Level-1 EFR",
        _olci_efr(),
        300,
    ),
    ProductType(
        "sentinel-3-olci-l2-lfr",
        "OL_2_LFR",
        "swath",
        "Sentinel-3 OLCI Level-2 LFR",
        _olci_lfr(),
        300,
    ),
    ProductType(
        "sentinel-3-slstr-l1-rbt",
        "SL_1_RBT",
        "swath",
        "Sentinel-3 SLSTR Level-1 RBT",
        _slstr_rbt(),
        500,
    ),
    ProductType(
        "sentinel-3-slstr-l2-lst",
        "SL_2_LST",
        "swath",
        "Sentinel-3 SLSTR Level-2 LST",
        _slstr_lst(),
        1000,
    ),
    ProductType("sentinel-1-l1-grd", "IW_GRDH", "swath", "Sentinel-1 Level-1 GRD", _s1_grd(), 20),
]

#: The collections the store can cube, by collection id.
COLLECTIONS: dict[str, ProductType] = {t.collection: t for t in _TYPES}


def product_type(collection: str) -> ProductType | None:
    """The conventions of ``collection``; None if the store cannot cube it."""
    return COLLECTIONS.get(collection)


def component_groups(children: Iterable[str], component: str) -> list[str]:
    """The top-level groups of a product that hold ``component`` (e.g. ``VV``).

    EOPF names the group of a Sentinel-1 polarisation after its component product
    (``S01SIWGRH_<start>_..._VV``): the groups whose name ends in ``_VV``, in any case; if
    there is none, a group named ``vv`` (any case). Several matches are returned as found.
    """
    names = list(children)
    wanted = component.lower()
    by_suffix = [name for name in names if name.lower().endswith(f"_{wanted}")]
    return by_suffix or [name for name in names if name.lower() == wanted]


def s2_source_resolution(resolution: float, geographic: bool) -> int:
    """The Sentinel-2 resolution group serving a target ``resolution``: the nearest equal
    or coarser of 10, 20, 60 m (60 m for anything coarser), as the analysis mode picks it.
    """
    metres = resolution * CONVERSION_FACTOR_DEG_METER if geographic else resolution
    for candidate in S2_RESOLUTIONS:
        if metres <= candidate * (1 + 1e-9):
            return candidate
    return S2_RESOLUTIONS[-1]


def s2_resolution_order(source_resolution: int) -> tuple[int, ...]:
    """The resolution groups, in the order they contribute bands for ``source_resolution``."""
    return _S2_RESOLUTION_ORDERS[source_resolution]
