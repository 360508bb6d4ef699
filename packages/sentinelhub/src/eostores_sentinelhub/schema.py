"""Store and open parameters: their schemas, and their interpretation into a cube request.

Everything here is checked before any request is made, so that a bad parameter fails at
once with an InvalidParameterError naming the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from eostores.errors import InvalidParameterError
from eostores.http import http_params_schema
from eostores.limits import max_bytes_schema
from eostores.schema import (
    JsonArraySchema,
    JsonBooleanSchema,
    JsonComplexSchema,
    JsonIntegerSchema,
    JsonNullSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonStringSchema,
    bbox_schema,
    crs_schema,
    parse_bbox,
    parse_time_period,
    parse_time_range,
    resolve_variable_names,
    spatial_res_schema,
    time_period_schema,
    time_range_schema,
    variable_names_schema,
)

from .catalog import BandInfo, DatasetInfo
from .config import (
    COLLECTION_ID_PATTERN,
    DEFAULT_INSTANCE,
    DEFAULT_MAX_REQUEST_BYTES,
    ERROR_POLICIES,
    HTTP_DEFAULTS,
    INSTANCES,
    MOSAICKING_ORDERS,
    OUTPUT_FORMATS,
    SAMPLE_TYPES,
    CubeRequest,
    GridCrs,
    VariableSpec,
)

__all__ = [
    "open_params_schema",
    "parse_crs",
    "parse_open_params",
    "parse_time_tolerance",
    "store_params_schema",
]

RESAMPLING = ("NEAREST", "BILINEAR", "BICUBIC")
MAX_TILE_SIZE = 2500
_TOLERANCE_PATTERN = r"^([1-9][0-9]*)?(S|s|M|m|min|H|h|D|d)$"
_TOLERANCE_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days"}
_RESERVED_SEARCH_KEYS = ("collections", "datetime", "bbox", "intersects", "next")


# --------------------------------------------------------------------------- store params


def store_params_schema() -> JsonObjectSchema:
    """The parameters of ``new_data_store("sentinelhub", ...)``."""
    url = dict(nullable=True, pattern=r"^https?://\S+$")
    return JsonObjectSchema(
        properties=dict(
            client_id=JsonStringSchema(
                nullable=True,
                min_length=1,
                title="OAuth client id",
                description="Sentinel Hub OAuth client id; if not given, the environment "
                "variable SH_CLIENT_ID or sentinelhub-py's config.toml is used.",
            ),
            client_secret=JsonStringSchema(
                nullable=True,
                min_length=1,
                title="OAuth client secret",
                description="Sentinel Hub OAuth client secret; if not given, the environment "
                "variable SH_CLIENT_SECRET or sentinelhub-py's config.toml is used.",
            ),
            instance=JsonStringSchema(
                enum=list(INSTANCES),
                default=DEFAULT_INSTANCE,
                title="Sentinel Hub deployment",
                description="Presets for api_url and oauth2_url: 'sentinel-hub' "
                "(services.sentinel-hub.com) or 'cdse' (Copernicus Data Space Ecosystem).",
            ),
            api_url=JsonStringSchema(
                **url,
                title="Sentinel Hub API URL",
                description="Base URL of the Sentinel Hub API (catalog and Process API); "
                "defaults to the instance's, 'https://services.sentinel-hub.com'. Access "
                "tokens are sent to this origin only.",
            ),
            oauth2_url=JsonStringSchema(
                **url,
                title="OAuth2 URL",
                description="Base URL of the OAuth2 service ('/token' is appended); defaults "
                "to the instance's, 'https://services.sentinel-hub.com/oauth'. The client "
                "credentials are sent here only.",
            ),
            output_format=JsonStringSchema(
                enum=list(OUTPUT_FORMATS),
                default=OUTPUT_FORMATS[0],
                title="Process API response format",
                description="GeoTIFF, or zlib-compressed raw little-endian samples "
                "(application/octet-stream, asked for with the Accept header as xcube-sh "
                "does; the request body always names GeoTIFF).",
            ),
            enable_warnings=JsonBooleanSchema(
                default=False,
                title="Warn about questionable requests",
                description="Warn when a search finds no time stamps or a sample type does "
                "not suit the unit of a band.",
            ),
            error_policy=JsonStringSchema(
                enum=list(ERROR_POLICIES),
                default="fail",
                title="Policy for failed chunk requests",
                description="fail: raise ServiceError with the service's message; warn: warn "
                "and fill the chunk with the fill value; ignore: fill silently. Wrong "
                "credentials always raise.",
            ),
            max_request_bytes=max_bytes_schema(DEFAULT_MAX_REQUEST_BYTES),
            **http_params_schema(**HTTP_DEFAULTS),
        ),
        additional_properties=False,
    )


# --------------------------------------------------------------------------- open params


def open_params_schema(info: DatasetInfo) -> JsonObjectSchema:
    """The open parameters of ``info``'s data id; built without any request."""
    names = info.band_names if info.bands else None
    units = sorted({unit for band in info.bands for unit in band.units}) or None
    nullable_list = dict(nullable=True, default=None)
    required = ["bbox", "spatial_res", "time_range"]
    if info.custom:
        required.append("collection_id")
    properties = dict(
        variable_names=variable_names_schema(
            names,
            description="Bands to include, one variable each (or one 'band_data' variable "
            "with four_d). null (the default) means all; [] none, keeping the dimensions.",
        ),
        bbox=bbox_schema(
            crs_units="units",
            description="xmin, ymin, xmax, ymax in units of crs; each side must be a whole "
            "number of spatial_res, since the grid is exactly this box.",
        ),
        crs=crs_schema(
            default="WGS84",
            description="CRS of bbox and spatial_res: WGS84 (lon/lat), EPSG:3857, UTM "
            "zones EPSG:326xx/327xx or any other EPSG code the service supports.",
        ),
        spatial_res=spatial_res_schema(crs_units="units of crs"),
        time_range=time_range_schema(required=True),
        time_period=time_period_schema(
            default="1D",
            nullable=True,
            description="Length of each time step of a regular time axis (such as 1D, 8D, "
            "1M); null: one step per acquisition found by a catalog search.",
        ),
        time_tolerance=JsonStringSchema(
            pattern=_TOLERANCE_PATTERN,
            default="10M",
            title="Time tolerance",
            description="Without time_period: acquisitions closer than this are merged into "
            "one time step. A count and S (seconds), M or min (minutes), H or D.",
        ),
        variable_fill_values=JsonArraySchema(
            items=JsonComplexSchema(any_of=[JsonNumberSchema(), JsonNullSchema()]),
            title="Fill values",
            description="One per variable_names entry (null: NaN); default NaN for float "
            "samples and 0 for integers.",
            **nullable_list,
        ),
        variable_sample_types=JsonArraySchema(
            items=JsonStringSchema(enum=list(SAMPLE_TYPES)),
            title="Sample types",
            description="One per variable_names entry; default: the natural type of the band "
            "in its unit.",
            **nullable_list,
        ),
        variable_units=JsonArraySchema(
            items=JsonStringSchema(enum=units) if units else JsonStringSchema(min_length=1),
            title="Units",
            description="One per variable_names entry, such as REFLECTANCE or DN; default: "
            "the band's default unit.",
            **nullable_list,
        ),
        tile_size=JsonArraySchema(
            items=[
                JsonIntegerSchema(minimum=1, maximum=MAX_TILE_SIZE, title="width"),
                JsonIntegerSchema(minimum=1, maximum=MAX_TILE_SIZE, title="height"),
            ],
            default=[1000, 1000],
            title="Tile size",
            description="Width and height of a chunk in pixels; one Process API request "
            "per chunk (partial edge tiles are requested at their own size).",
        ),
        upsampling=JsonStringSchema(enum=list(RESAMPLING), default="NEAREST", title="Upsampling"),
        downsampling=JsonStringSchema(
            enum=list(RESAMPLING), default="NEAREST", title="Downsampling"
        ),
        mosaicking_order=JsonStringSchema(
            enum=list(info.mosaicking_orders),
            default=MOSAICKING_ORDERS[0],
            title="Mosaicking order",
            description="Which acquisition a pixel shows when a time step has several; "
            "leastCC (least cloud cover) only for collections with cloud cover metadata.",
        ),
        collection_id=JsonStringSchema(
            nullable=True,
            default=None,
            pattern=COLLECTION_ID_PATTERN,
            title="Collection id",
            description="A BYOC ('byoc-<id>' or '<id>') or batch ('batch-<id>') collection "
            "to request instead of the data id's collection.",
        ),
        four_d=JsonBooleanSchema(
            default=False,
            title="Four-dimensional",
            description="Return one variable 'band_data' with a 'band' dimension instead "
            "of one variable per band.",
        ),
        extra_search_params=JsonObjectSchema(
            additional_properties=True,
            nullable=True,
            default=None,
            title="Extra catalog search parameters",
            description="Passed to the catalog search made without time_period, e.g. "
            "{'filter': 'eo:cloud_cover < 20'}.",
        ),
        max_cache_size=JsonIntegerSchema(
            minimum=0,
            nullable=True,
            default=None,
            title="Chunk cache size (bytes)",
            description="Keep up to this many bytes of fetched chunks in memory.",
        ),
    )
    return JsonObjectSchema(properties=properties, required=required, additional_properties=False)


# --------------------------------------------------------------------------- interpretation


_CRS_ALIASES = {
    "WGS84": 4326,
    "WGS-84": 4326,
    "WGS 84": 4326,
    "CRS84": 4326,
    "OGC:CRS84": 4326,
    "HTTP://WWW.OPENGIS.NET/DEF/CRS/OGC/1.3/CRS84": 4326,
}
_EPSG_URI = re.compile(r"^https?://www\.opengis\.net/def/crs/epsg/0/(\d+)$", re.IGNORECASE)
_EPSG_CODE = re.compile(r"^(?:epsg:)?(\d+)$", re.IGNORECASE)


def parse_crs(value: Any) -> GridCrs:
    """A CRS from a name such as WGS84, EPSG:32633 or an OGC CRS URI."""
    text = str(value).strip()
    code = _CRS_ALIASES.get(text.upper())
    if code is None:
        match = _EPSG_URI.match(text) or _EPSG_CODE.match(text)
        code = int(match.group(1)) if match else None
    error = None
    if code is not None:
        try:
            from sentinelhub import CRS

            crs = CRS(code)
            geographic = bool(crs.pyproj_crs().is_geographic)
        except Exception as caught:  # pyproj and enum errors alike mean "unknown CRS"
            error = caught
        else:
            return GridCrs(int(crs.epsg), crs.opengis_string, geographic)
    reason = f" ({type(error).__name__})" if error else ""
    raise InvalidParameterError(
        f"crs = {value!r}: unknown coordinate reference system{reason}; use WGS84, "
        "EPSG:<code> or http://www.opengis.net/def/crs/EPSG/0/<code>",
        parameter="crs",
    )


def parse_time_tolerance(value: str) -> timedelta:
    """A tolerance such as ``10M`` (minutes), ``30S``, ``1H`` or ``2D``."""
    match = re.match(_TOLERANCE_PATTERN, value or "")
    if match is None:
        raise InvalidParameterError(
            f"time_tolerance = {value!r}: must be a count and a unit S, M (minutes), H or D, "
            "such as 10M",
            parameter="time_tolerance",
        )
    count = int(match.group(1) or 1)
    return timedelta(**{_TOLERANCE_UNITS[match.group(2).lower()]: count})


def _grid_size(extent: float, res: float, axis: str, bbox: Sequence[float]) -> int:
    pixels = extent / res
    count = round(pixels)
    if count < 1 or abs(pixels - count) > 1e-6 * max(1.0, pixels):
        lower = max(1, math.floor(pixels))
        raise InvalidParameterError(
            f"bbox = {list(bbox)}: its {axis} extent {extent:g} is {pixels:.4f} times "
            f"spatial_res {res:g}; the grid is exactly the bbox, so the extent must be a whole "
            f"number of pixels (e.g. {lower} or {lower + 1} pixels: extent {lower * res:g} or "
            f"{(lower + 1) * res:g})",
            parameter="bbox",
        )
    return count


def _per_variable(
    params: Mapping[str, Any], key: str, names: list[str], explicit: bool
) -> list[Any] | None:
    values = params.get(key)
    if values is None:
        return None
    if not explicit:
        raise InvalidParameterError(
            f"{key} needs variable_names: give the variables the values belong to",
            parameter=key,
        )
    if len(values) != len(names):
        raise InvalidParameterError(
            f"{key} = {values!r}: must have one value per variable_names entry "
            f"({len(names)}: {names})",
            parameter=key,
        )
    return list(values)


def _variable_specs(
    params: Mapping[str, Any], bands: Sequence[BandInfo], custom: bool
) -> tuple[VariableSpec, ...]:
    requested = params.get("variable_names")
    if custom and not bands:
        names = resolve_variable_names(requested, list(requested or []))
        known = {name: BandInfo(name, ("DN",), ("FLOAT32",)) for name in names}
    else:
        names = resolve_variable_names(requested, [band.name for band in bands])
        known = {band.name: band for band in bands}
    explicit = requested is not None
    units = _per_variable(params, "variable_units", names, explicit)
    sample_types = _per_variable(params, "variable_sample_types", names, explicit)
    fill_values = _per_variable(params, "variable_fill_values", names, explicit)
    specs = []
    for index, name in enumerate(names):
        band = known[name]
        unit = units[index] if units else band.default_unit
        if bands and unit not in band.units:
            raise InvalidParameterError(
                f"variable_units[{index}] = {unit!r}: band {name!r} is available in "
                + ", ".join(band.units),
                parameter="variable_units",
            )
        sample_type = sample_types[index] if sample_types else band.sample_type_for(unit)
        fill = fill_values[index] if fill_values else None
        fill = band.fill_value_for(sample_type) if fill is None else fill
        _check_fill(fill, sample_type, index)
        specs.append(VariableSpec(name, unit, sample_type, fill, band.resolution_m))
    return tuple(specs)


def _check_fill(fill: float | int, sample_type: str, index: int) -> None:
    import numpy as np

    dtype = np.dtype(SAMPLE_TYPES[sample_type])
    if dtype.kind == "f":
        return
    info = np.iinfo(dtype)
    if isinstance(fill, float) and (not math.isfinite(fill) or not fill.is_integer()):
        ok = False
    else:
        ok = info.min <= fill <= info.max
    if not ok:
        raise InvalidParameterError(
            f"variable_fill_values[{index}] = {fill!r}: does not fit sample type {sample_type} "
            f"({info.min}..{info.max})",
            parameter="variable_fill_values",
        )


def _extra_search_params(value: Mapping[str, Any] | None) -> dict[str, Any]:
    extra = dict(value or {})
    for key in _RESERVED_SEARCH_KEYS:
        if key in extra:
            raise InvalidParameterError(
                f"extra_search_params may not set {key!r}: the store sets it from the data id, "
                "bbox and time_range",
                parameter="extra_search_params",
            )
    if "query" in extra:
        raise InvalidParameterError(
            "extra_search_params: 'query' was replaced by 'filter' (CQL2) in Catalog API 1.0.0, "
            "e.g. {'filter': 'eo:cloud_cover < 20'}",
            parameter="extra_search_params",
        )
    limit = extra.get("limit")
    if limit is not None and not (isinstance(limit, int) and 1 <= limit <= 100):
        raise InvalidParameterError(
            f"extra_search_params: limit = {limit!r}: must be an integer 1..100",
            parameter="extra_search_params",
        )
    return extra


def parse_open_params(info: DatasetInfo, params: Mapping[str, Any]) -> CubeRequest:
    """Interpret validated open parameters (defaults filled in) into a CubeRequest."""
    crs = parse_crs(params["crs"])
    bbox = parse_bbox(params["bbox"], geographic=crs.geographic)
    res = float(params["spatial_res"])
    width = _grid_size(bbox[2] - bbox[0], res, "x", bbox)
    height = _grid_size(bbox[3] - bbox[1], res, "y", bbox)
    time_range = parse_time_range(params["time_range"])
    if time_range.start is None:
        raise InvalidParameterError(
            "time_range needs a start date, e.g. ['2021-06-01', '2021-06-30']",
            parameter="time_range",
        )
    period = params.get("time_period")
    time_period = parse_time_period(period) if period is not None else None
    variables = _variable_specs(params, info.bands, info.custom)
    four_d = bool(params.get("four_d"))
    if four_d and len({v.sample_type for v in variables}) > 1:
        raise InvalidParameterError(
            "four_d puts all bands into one variable, so they need one sample type; got "
            + ", ".join(f"{v.name}: {v.sample_type}" for v in variables)
            + " (set variable_sample_types)",
            parameter="variable_sample_types",
        )
    if four_d and len({_fill_key(v.fill_value) for v in variables}) > 1:
        raise InvalidParameterError(
            "four_d puts all bands into one variable, so they need one fill value; got "
            + ", ".join(f"{v.name}: {v.fill_value}" for v in variables),
            parameter="variable_fill_values",
        )
    collection_id = params.get("collection_id")
    if collection_id is not None:
        info.data_collection(collection_id)  # validates the id's form
    tile_w, tile_h = (int(n) for n in params["tile_size"])
    cache = params.get("max_cache_size")
    return CubeRequest(
        data_id=info.data_id,
        variables=variables,
        bbox=bbox,
        crs=crs,
        spatial_res=res,
        width=width,
        height=height,
        tile_size=(tile_w, tile_h),
        time_range=time_range,
        time_period=time_period,
        time_tolerance=parse_time_tolerance(params["time_tolerance"]),
        upsampling=params["upsampling"],
        downsampling=params["downsampling"],
        mosaicking_order=params["mosaicking_order"],
        collection_id=collection_id,
        four_d=four_d,
        extra_search_params=_extra_search_params(params.get("extra_search_params")),
        max_cache_size=int(cache or 0),
    )


def _fill_key(value: float | int) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value
