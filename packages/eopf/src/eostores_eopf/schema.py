"""Store-, open- and search-parameter schemas, and the checks that run before any request.

:func:`parse_open_params` turns open parameters into an :class:`OpenRequest`: the variables
resolved from names, regular expressions or common band names; the bbox in the output CRS
and in longitude/latitude (for the search); the output resolution; the resampling method
per variable. Anything wrong fails here with InvalidParameterError, naming the parameter
and what is allowed, before the service is asked anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eostores.errors import InvalidParameterError
from eostores.schema import (
    JsonArraySchema,
    JsonComplexSchema,
    JsonIntegerSchema,
    JsonNullSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonStringSchema,
    TimeRange,
    apply_parameter_aliases,
    bbox_schema,
    force_cube_schema,
    parse_bbox,
    parse_time_range,
    time_range_schema,
)

from .config import (
    CONVERSION_FACTOR_DEG_METER,
    DEFAULT_STAC_URL,
    DEFAULT_TILE_SIZE,
    ERROR_POLICIES,
    HTTP_DEFAULTS,
    OPEN_PARAM_ALIASES,
    STORE_ID,
)
from .products import COLLECTIONS, COMMON_BAND_NAMES, ProductType, Variable

__all__ = [
    "AGG_METHODS",
    "INTERP_METHODS",
    "OpenRequest",
    "open_params_schema",
    "parse_open_params",
    "search_params_schema",
    "store_params_schema",
]

#: Interpolation methods (for output cells finer than the source), as xarray-eopf names them.
INTERP_METHODS: dict[Any, str] = {0: "nearest", 1: "bilinear", "nearest": "nearest",
                                  "bilinear": "bilinear"}  # fmt: skip
#: Aggregation methods (for output cells coarser than the source).
AGG_METHODS = ("center", "mean", "median", "min", "max", "sum", "mode")
_SWATH_TILE_SIZE = 1024


# --------------------------------------------------------------------------- store params


def store_params_schema() -> JsonObjectSchema:
    from eostores.http import http_params_schema
    from eostores.limits import max_bytes_schema

    return JsonObjectSchema(
        properties=dict(
            url=JsonStringSchema(
                default=DEFAULT_STAC_URL,
                format="uri",
                title="STAC API of the EOPF Sentinel Zarr Samples",
                description="Where the collections and items are found; the products are "
                "read from the hrefs of the items.",
            ),
            storage_options=JsonObjectSchema(
                additional_properties=True,
                title="Options for reading products on s3://",
                description="s3fs options (anon, key, secret, endpoint_url, client_kwargs) "
                "for items whose products are on S3; anonymous by default. Products on "
                "https are read through the store's own HTTP session.",
            ),
            max_request_bytes=max_bytes_schema(),
            max_workers=JsonIntegerSchema(
                minimum=1,
                maximum=64,
                default=8,
                title="Products opened at once",
                description="Threads opening product metadata while a cube is built.",
            ),
            **http_params_schema(**HTTP_DEFAULTS),
        ),
        additional_properties=False,
    )


# --------------------------------------------------------------------------- open params


def _methods_schema(title: str, values: Sequence[Any], description: str) -> JsonComplexSchema:
    numbers = [v for v in values if isinstance(v, int)]
    names = [v for v in values if isinstance(v, str)]
    single: list[Any] = [JsonStringSchema(enum=names)]
    if numbers:
        single.append(JsonIntegerSchema(enum=numbers))
    return JsonComplexSchema(
        any_of=[
            *single,
            JsonObjectSchema(
                additional_properties=JsonComplexSchema(any_of=list(single)),
                description="Per variable name or dtype (e.g. 'uint8').",
            ),
        ],
        title=title,
        description=description,
    )


def open_params_schema(product: ProductType | None = None) -> JsonObjectSchema:
    """The open parameters of ``product`` (all product types when None)."""
    names = list(product.variables) if product is not None else None
    crs_description = "Identifier of the output CRS, e.g. EPSG:4326 or EPSG:32632."
    if product is None or product.is_tiled:
        crs_description += (
            " 'native': the UTM zone the bbox lies in (bbox then in longitude/latitude, "
            "spatial_res in metres); Sentinel-2 only."
        )
    listing = ", ".join(names) if names else "the product type's variables"
    variables = JsonComplexSchema(
        any_of=[
            JsonStringSchema(min_length=1),
            JsonArraySchema(items=JsonStringSchema(min_length=1), unique_items=True),
            JsonNullSchema(),
        ],
        default=None,
        title="Variables",
        description="A name, a regular expression or a list of these; null (the default) "
        "means all, [] none (the grid only). Known: "
        + listing
        + (
            "; Sentinel-2 bands also by common name (blue, red, nir, ...)"
            if product is None or product.is_tiled
            else ""
        ),
    )
    default_res = product.default_resolution if product is not None else None
    res_description = "Cell size in units of the output CRS (degrees for EPSG:4326)."
    if default_res is not None:
        res_description += f" Default: {default_res} m, in degrees at 111320 m per degree."
    tile_default = DEFAULT_TILE_SIZE if product is None or product.is_tiled else _SWATH_TILE_SIZE
    schema = JsonObjectSchema(
        properties=dict(
            variable_names=variables,
            bbox=bbox_schema(crs_units="units of crs (longitude/latitude for 'native')"),
            crs=JsonStringSchema(
                default="EPSG:4326", min_length=1, title="Output CRS", description=crs_description
            ),
            spatial_res=JsonNumberSchema(
                exclusive_minimum=0,
                nullable=True,
                title="Spatial resolution",
                description=res_description,
            ),
            time_range=time_range_schema(required=True),
            query=JsonObjectSchema(
                additional_properties=True,
                title="STAC query",
                description="Conditions on item properties (STAC query extension), e.g. "
                '{"eo:cloud_cover": {"lt": 20}}.',
            ),
            tile_size=JsonComplexSchema(
                any_of=[
                    JsonIntegerSchema(minimum=16, maximum=16384),
                    JsonArraySchema(items=[JsonIntegerSchema(minimum=16, maximum=16384)] * 2),
                ],
                default=tile_default,
                title="Chunk size of the cube",
                description="Pixels per dask chunk in x and y (one number or [x, y]).",
            ),
            agg_methods=_methods_schema(
                "Aggregation methods",
                AGG_METHODS,
                "How source pixels are combined where output cells are coarser: one "
                "method, or one per variable name or dtype. Default: 'center' for "
                "integer variables (classes), else 'mean'.",
            ),
            interp_methods=_methods_schema(
                "Interpolation methods",
                list(INTERP_METHODS),
                "How values are interpolated where output cells are finer: 0 or "
                "'nearest', 1 or 'bilinear'; one method, or one per variable name or "
                "dtype. Default: nearest for integer variables (classes), else bilinear.",
            ),
            force_cube=force_cube_schema(),
            error_policy=JsonStringSchema(
                enum=list(ERROR_POLICIES),
                default=ERROR_POLICIES[0],
                title="What to do with an item whose product is missing",
                description="The service may list products it has removed or not yet "
                "converted. warn: leave the item out with an ItemLeftOutWarning naming it; "
                "fail: raise DataNotFoundError naming it.",
            ),
        ),
        required=["bbox", "time_range"],
        additional_properties=False,
        description="Products are read lazily: searching the items and reading each "
        "product's metadata happen when the cube is opened, pixels when they are computed.",
    )
    return schema


def search_params_schema() -> JsonObjectSchema:
    """Parameters of ``search_data``: items of collections in a bbox and time range."""
    return JsonObjectSchema(
        properties=dict(
            collections=JsonArraySchema(
                items=JsonStringSchema(enum=sorted(COLLECTIONS)),
                min_items=1,
                unique_items=True,
                title="Collections",
                description="Collections to search; default: every collection of the store.",
            ),
            bbox=bbox_schema(description="Items whose footprint intersects this lon/lat box."),
            time_range=time_range_schema(description="Items acquired in this time range."),
            query=JsonObjectSchema(
                additional_properties=True,
                title="STAC query",
                description="Conditions on item properties (STAC query extension).",
            ),
            limit=JsonIntegerSchema(minimum=1, title="Maximum number of items"),
        ),
        additional_properties=False,
    )


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class OpenRequest:
    """Open parameters checked and parsed: everything a cube needs besides the items."""

    product: ProductType
    variables: dict[str, Variable]  # output name -> variable
    bbox: tuple[float, float, float, float]  # in crs
    lonlat_bbox: tuple[float, float, float, float]
    crs: str
    geographic: bool
    resolution: float  # in crs units
    time_range: TimeRange
    tile_size: tuple[int, int]
    query: Mapping[str, Any] | None
    force_cube: bool
    error_policy: str = ERROR_POLICIES[0]
    methods: dict[str, str] = field(default_factory=dict)  # output name -> method
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def resolution_m(self) -> float:
        return self.resolution * CONVERSION_FACTOR_DEG_METER if self.geographic else self.resolution

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the output grid."""
        x0, y0, x1, y1 = self.bbox
        rows = max(1, math.ceil((y1 - y0) / self.resolution - 1e-9))
        columns = max(1, math.ceil((x1 - x0) / self.resolution - 1e-9))
        return rows, columns


def _fail(message: str, parameter: str, data_id: str) -> InvalidParameterError:
    return InvalidParameterError(message, store_id=STORE_ID, data_id=data_id, parameter=parameter)


def resolve_variables(value: Any, product: ProductType, data_id: str) -> dict[str, Variable]:
    """Output name -> variable for a name, regex, common band name, or a list of these."""
    known = product.variables
    if value is None:
        return dict(known)
    items = [value] if isinstance(value, str) else list(value)
    chosen: dict[str, Variable] = {}
    allowed = ", ".join(known)
    for index, item in enumerate(items):
        where = "variable_names" if isinstance(value, str) else f"variable_names[{index}]"
        if item in known:
            chosen.setdefault(item, known[item])
            continue
        if product.is_tiled and item in COMMON_BAND_NAMES and COMMON_BAND_NAMES[item] in known:
            chosen.setdefault(item, known[COMMON_BAND_NAMES[item]])
            continue
        try:
            pattern = re.compile(item)
        except re.error as error:
            raise _fail(
                f"{where} = {item!r} is neither a variable nor a valid regular expression "
                f"({error}); allowed: {allowed}",
                "variable_names",
                data_id,
            ) from None
        matched = [name for name in known if pattern.fullmatch(name)]
        if not matched:
            raise _fail(
                f"{where} = {item!r} names no variable (as a name or a regular expression); "
                f"allowed: {allowed}",
                "variable_names",
                data_id,
            )
        for name in matched:
            chosen.setdefault(name, known[name])
    return chosen


def _crs(text: str, data_id: str) -> Any:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(text)
    except CRSError as error:
        raise _fail(f"crs = {text!r} is not a known CRS ({error})", "crs", data_id) from None


def utm_zone_crs(lonlat: tuple[float, float, float, float], data_id: str) -> str:
    """The UTM zone CRS of a lon/lat bbox; InvalidParameterError if it spans two zones."""
    west, south, east, north = lonlat

    def zone(lon: float) -> int:
        return min(60, math.floor(((lon + 180) % 360) / 6) + 1)

    west_zone, east_zone = zone(west), zone(min(east, west + 359.999) - 1e-9)
    hemispheres = {south >= 0, north > 0}
    if west_zone != east_zone or len(hemispheres) != 1:
        raise _fail(
            f"crs = 'native' needs a bbox within one UTM zone; {list(lonlat)} spans zones "
            f"{west_zone} and {east_zone}"
            + (" and both hemispheres" if len(hemispheres) != 1 else "")
            + "; give a crs such as EPSG:4326 to mosaic across zones",
            "crs",
            data_id,
        )
    return f"EPSG:{(32600 if north > 0 else 32700) + west_zone}"


def _method_table(
    value: Any, variables: Mapping[str, Variable], parameter: str, data_id: str
) -> dict[str, Any]:
    """Per output variable, the method the user chose (absent: the default)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return {name: value for name in variables}
    dtypes = {variable.dtype for variable in variables.values()}
    for key in value:
        if key not in variables and key not in dtypes:
            raise _fail(
                f"{parameter} names {key!r}, which is neither a chosen variable nor the dtype "
                f"of one; allowed: {', '.join([*variables, *sorted(dtypes)])}",
                parameter,
                data_id,
            )
    table = {}
    for name, variable in variables.items():
        if name in value:
            table[name] = value[name]
        elif variable.dtype in value:
            table[name] = value[variable.dtype]
    return table


def resampling_methods(
    params: Mapping[str, Any],
    variables: Mapping[str, Variable],
    source_resolution_m: Mapping[str, float],
    target_resolution_m: float,
    data_id: str,
) -> dict[str, str]:
    """The method per output variable: the interpolation method where the output is finer
    than (or as fine as) the source, the aggregation method where it is coarser."""
    interp = _method_table(params.get("interp_methods"), variables, "interp_methods", data_id)
    agg = _method_table(params.get("agg_methods"), variables, "agg_methods", data_id)
    methods = {}
    for name, variable in variables.items():
        coarser = target_resolution_m > source_resolution_m[name] * 1.5
        if coarser:
            methods[name] = agg.get(name) or ("center" if variable.categorical else "mean")
        else:
            chosen = interp.get(name)
            if chosen is None:
                methods[name] = "nearest" if variable.categorical else "bilinear"
            else:
                methods[name] = INTERP_METHODS[chosen]
    return methods


def parse_open_params(
    open_params: Mapping[str, Any], product: ProductType, data_id: str
) -> OpenRequest:
    """Check and parse open parameters (no I/O)."""
    params = apply_parameter_aliases(open_params, OPEN_PARAM_ALIASES)
    params = open_params_schema(product).validate_params(params, store_id=STORE_ID, data_id=data_id)
    variables = resolve_variables(params.get("variable_names"), product, data_id)
    for name in ("interp_methods", "agg_methods"):
        _method_table(params.get(name), variables, name, data_id)
    crs_text = params.get("crs") or "EPSG:4326"
    native = crs_text.lower() == "native"
    if native and not product.is_tiled:
        raise _fail(
            "crs = 'native' is for Sentinel-2 tiles only; swath products are rectified onto "
            "the requested grid (give e.g. EPSG:4326 or a UTM zone)",
            "crs",
            data_id,
        )
    crs = None if native else _crs(crs_text, data_id)
    geographic_input = native or crs.is_geographic
    try:
        bbox = parse_bbox(params["bbox"], geographic=geographic_input)
        time_range = parse_time_range(params["time_range"])
    except InvalidParameterError as error:
        raise _fail(error.message, error.parameter or "bbox", data_id) from None
    if native:
        crs_text = utm_zone_crs(bbox, data_id)
        crs = _crs(crs_text, data_id)
        lonlat = bbox
        bbox = _transform_bbox(bbox, "EPSG:4326", crs_text)
    else:
        crs_text = crs.to_string()
        lonlat = bbox if crs.is_geographic else _transform_bbox(bbox, crs_text, "EPSG:4326")
    geographic = bool(crs.is_geographic)
    resolution = params.get("spatial_res")
    if resolution is None:
        resolution = product.default_resolution
        if geographic:
            resolution = resolution / CONVERSION_FACTOR_DEG_METER
    if not math.isfinite(resolution) or resolution <= 0:
        raise _fail(
            f"spatial_res = {resolution!r} must be a positive number", "spatial_res", data_id
        )
    if resolution > min(bbox[2] - bbox[0], bbox[3] - bbox[1]) * 1.0001:
        raise _fail(
            f"spatial_res = {resolution!r} is larger than the bbox {list(bbox)} is wide or "
            "high; give spatial_res in units of crs"
            + (" (degrees)" if geographic else " (metres)"),
            "spatial_res",
            data_id,
        )
    size = params.get("tile_size")
    tile = (size, size) if isinstance(size, int) else tuple(size)
    request = OpenRequest(
        product=product,
        variables=variables,
        bbox=bbox,
        lonlat_bbox=lonlat,
        crs=crs_text,
        geographic=geographic,
        resolution=float(resolution),
        time_range=time_range,
        tile_size=(int(tile[0]), int(tile[1])),
        query=params.get("query"),
        force_cube=bool(params.get("force_cube")),
        error_policy=params.get("error_policy") or ERROR_POLICIES[0],
        params=params,
    )
    return request


def _transform_bbox(
    bbox: tuple[float, float, float, float], source: str, target: str
) -> tuple[float, float, float, float]:
    from pyproj import Transformer

    transformer = Transformer.from_crs(source, target, always_xy=True)
    x0, y0, x1, y1 = transformer.transform_bounds(*bbox, densify_pts=21)
    return (float(x0), float(y0), float(x1), float(y1))
