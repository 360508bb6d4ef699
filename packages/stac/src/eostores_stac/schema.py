"""Parameter schemas of the STAC stores (store parameters, open parameters per mode, search),
and the checks their interpretation shares (CRS, cql2 filters)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from eostores.errors import InvalidParameterError
from eostores.http import http_params_schema
from eostores.limits import max_bytes_schema
from eostores.schema import (
    JsonArraySchema,
    JsonBooleanSchema,
    JsonComplexSchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonStringSchema,
    bbox_schema,
    crs_schema,
    force_cube_schema,
    spatial_res_schema,
    time_period_schema,
    time_range_schema,
    variable_names_schema,
)

from .config import (
    CDSE_S3_ENDPOINT,
    CDSE_STAC_URL,
    DESTINE_STAC_URL,
    ERROR_POLICIES,
    HTTP_DEFAULTS,
    MAX_LISTED_ITEMS,
    MOSAIC_RULES,
    NARROW_SEARCH_STORES,
    RESAMPLING_METHODS,
)
from .convert import crs_is_geographic

__all__ = [
    "check_filter",
    "check_narrow_search",
    "crs_is_geographic",
    "item_open_params_schema",
    "search_params_schema",
    "stack_open_params_schema",
    "store_params_schema",
]

_SECRET = "A secret: never shown in reprs, logs or errors."
#: Search parameters that a narrow search (DestinE Cache-A) does not have.
_NOT_NARROW = ("query", "sortby", "intersects")
_NARROW_SEARCH = (
    "DestinE Cache-A searches by bbox, time_range, ids and eo:cloud_cover comparisons "
    "in filter only"
)
_CLOUD_COVER_OPERATORS = ("=", "<", "<=", ">", ">=")


def storage_properties() -> dict[str, Any]:
    """Parameters of asset access over https and s3 (as for the https and s3 stores)."""
    return dict(
        anon=JsonBooleanSchema(title="Read S3 assets anonymously"),
        key=JsonStringSchema(title="S3 access key id", description=_SECRET),
        secret=JsonStringSchema(title="S3 secret access key", description=_SECRET),
        token=JsonStringSchema(title="S3 session token", description=_SECRET),
        endpoint_url=JsonStringSchema(title="S3 endpoint URL (S3-compatible services)"),
        region_name=JsonStringSchema(title="S3 region"),
        client_kwargs=JsonObjectSchema(
            additional_properties=True, title="Further botocore client parameters"
        ),
        headers=JsonObjectSchema(
            additional_properties=JsonStringSchema(),
            title="Extra HTTP headers",
            description="Sent with requests to the catalog's origin and to asset_origins "
            "only. " + _SECRET,
        ),
    )


def common_properties(store_id: str | None = None) -> dict[str, Any]:
    cap = MAX_LISTED_ITEMS.get(store_id or "")
    return dict(
        stack_mode=JsonBooleanSchema(
            default=False,
            title="Analysis-ready cubes per collection",
            description="False: data ids are items, each opened as one dataset. True: data "
            "ids are collections; opening mosaics the matching items into a (time, y, x) cube.",
        ),
        page_size=JsonIntegerSchema(
            minimum=1, maximum=10000, default=100, title="Items per page of search results"
        ),
        max_workers=JsonIntegerSchema(
            minimum=1, default=8, title="Threads for reading asset headers in parallel"
        ),
        metadata_ttl=JsonNumberSchema(
            minimum=0,
            default=300.0,
            title="Seconds item and collection metadata are kept in memory",
        ),
        asset_origins=JsonArraySchema(
            items=JsonStringSchema(min_length=1),
            unique_items=True,
            title="Further origins that may receive the store's credentials",
            description="http(s) URLs (scheme, host and port count) of asset servers that "
            "need the headers or token the store sends to its catalog; by default these "
            "go to the catalog's own origin only.",
        ),
        max_request_bytes=max_bytes_schema(),
        max_listed_items=JsonIntegerSchema(
            minimum=1,
            nullable=True,
            default=cap,
            title="Most items get_data_ids lists (item mode)",
            description="Listing stops there, with a warning; search_data finds items by "
            f"collection, bbox and time instead. Default: {cap or 'null'}; null: no cap.",
        ),
    )


def store_params_schema(store_id: str) -> JsonObjectSchema:
    """The store parameters of ``store_id``."""
    url_default: dict[str, Any] = {}
    required = ["url"]
    if store_id == "stac-cdse":
        url_default = {"default": CDSE_STAC_URL}
        required = []
    elif store_id == "stac-destine":
        url_default = {"default": DESTINE_STAC_URL}
        required = []
    properties: dict[str, Any] = dict(
        url=JsonStringSchema(
            min_length=1,
            pattern="^[Hh][Tt][Tt][Pp][Ss]?://",
            title="URL of the STAC API landing page or of a static catalog's catalog.json",
            **url_default,
        ),
        **common_properties(store_id),
    )
    if store_id == "stac-destine":
        properties.update(
            token=JsonStringSchema(
                title="DestinE access token (Bearer)",
                description="Else the environment variable DESTINE_TOKEN, or the password of "
                "the catalog host in .netrc. Sent to the catalog's origin only. " + _SECRET,
            ),
            max_parallel_downloads=JsonIntegerSchema(
                minimum=1,
                default=2,
                title="Parallel downloads per user",
                description="Cache-A allows 2 parallel downloads per user.",
            ),
            cache_dir=JsonStringSchema(
                title="Directory for downloaded assets",
                description="Default: the eostores cache folder of stac-destine "
                "(eostores.cache.default_cache_dir).",
            ),
        )
    else:
        properties.update(storage_properties())
        if store_id == "stac-cdse":
            properties["endpoint_url"] = JsonStringSchema(
                default=CDSE_S3_ENDPOINT, title="S3 endpoint of the eodata bucket"
            )
            properties["key"] = JsonStringSchema(
                title="CDSE S3 access key",
                description="Else AWS_ACCESS_KEY_ID. " + _SECRET,
            )
            properties["secret"] = JsonStringSchema(
                title="CDSE S3 secret key",
                description="Else AWS_SECRET_ACCESS_KEY. " + _SECRET,
            )
    properties.update(http_params_schema(**HTTP_DEFAULTS))
    return JsonObjectSchema(properties=properties, required=required, additional_properties=False)


# -- open parameters ------------------------------------------------------------------------------


def _chunks_schema() -> JsonObjectSchema:
    positive = JsonIntegerSchema(minimum=1)
    return JsonObjectSchema(
        properties=dict(time=positive, y=positive, x=positive),
        additional_properties=False,
        title="Dask chunk sizes per dimension",
    )


def _tile_size_schema(default: Any = None) -> JsonComplexSchema:
    positive = JsonIntegerSchema(minimum=1)
    kwargs = {} if default is None else {"default": default}
    return JsonComplexSchema(
        any_of=[positive, JsonArraySchema(items=[positive, positive])],
        title="Spatial chunk size in pixels: one number or [width, height]",
        **kwargs,
    )


def _apply_scaling_schema() -> JsonBooleanSchema:
    return JsonBooleanSchema(
        default=True,
        title="Apply scale/offset and nodata -> NaN from the raster extension",
    )


def _filter_schema() -> JsonComplexSchema:
    return JsonComplexSchema(
        any_of=[
            JsonStringSchema(min_length=1),
            JsonObjectSchema(additional_properties=True),
        ],
        title="STAC filter: cql2-text (string) or cql2-json (object)",
    )


def error_policy_schema(default: str = "fail") -> JsonStringSchema:
    return JsonStringSchema(
        enum=list(ERROR_POLICIES),
        default=default,
        title="What to do when an asset cannot be read",
        description="fail: raise an error naming the asset href; warn: warn naming the href "
        "and continue without it; ignore: continue silently.",
    )


def item_open_params_schema(asset_names: Sequence[str] | None = None) -> JsonObjectSchema:
    """Open parameters of an item: which assets, where, at which overview, how scaled."""
    return JsonObjectSchema(
        properties=dict(
            variable_names=variable_names_schema(
                asset_names,
                description="The assets to open (the spec's older name: asset_names). null "
                "(the default) means every readable data asset; [] none, keeping the grid.",
            ),
            bbox=bbox_schema(
                crs_units="units",
                description="xmin, ymin, xmax, ymax in the units of crs (default: the "
                "item's own CRS); selects the native pixels inside, without reprojection.",
            ),
            crs=crs_schema(
                default=None,
                nullable=True,
                description="The CRS of bbox; null means the item's own CRS.",
            ),
            spatial_res=spatial_res_schema(
                crs_units="units",
                nullable=True,
                description="Read GeoTIFF assets from the coarsest overview whose pixels are "
                "no larger than this (in the item's CRS units); null: full resolution.",
            ),
            time_range=time_range_schema(
                description="Keep the item only if its time lies in the range (the time "
                "dimension is empty otherwise)."
            ),
            apply_scaling=_apply_scaling_schema(),
            tile_size=_tile_size_schema(),
            error_policy=error_policy_schema(),
        ),
        additional_properties=False,
    )


def stack_open_params_schema(
    variable_names: Sequence[str] | None = None, store_id: str | None = None
) -> JsonObjectSchema:
    """Open parameters of a collection cube (no ``query`` where the search is narrow)."""
    resampling = JsonStringSchema(enum=list(RESAMPLING_METHODS))
    result = JsonObjectSchema(
        properties=dict(
            variable_names=variable_names_schema(
                variable_names,
                description="The assets (bands) to include; null means every data asset.",
            ),
            bbox=bbox_schema(
                crs_units="units",
                description="xmin, ymin, xmax, ymax of the cube in the units of crs.",
            ),
            crs=crs_schema(
                description="CRS of the cube, e.g. EPSG:4326 or EPSG:32632.",
            ),
            spatial_res=spatial_res_schema(
                crs_units="units",
                nullable=True,
                description="Pixel size in units of crs; null: the finest native resolution.",
            ),
            time_range=time_range_schema(required=True),
            time_period=time_period_schema(
                nullable=True,
                description="Composite period, e.g. 8D; null: one time step per group "
                "(see groupby).",
            ),
            query=JsonObjectSchema(
                additional_properties=True,
                title="STAC query extension, e.g. {'eo:cloud_cover': {'lt': 20}}",
            ),
            filter=_filter_schema(),
            groupby=JsonStringSchema(
                default="solar_day",
                min_length=1,
                title="How items form time steps",
                description="solar_day (default), time, day (UTC day), id (one step per item) "
                "or the name of an item property.",
            ),
            mosaic=JsonStringSchema(
                enum=list(MOSAIC_RULES),
                default="first",
                title="How overlapping items of one time step combine",
                description="first: the first valid pixel in time order; median: the median.",
            ),
            resampling=JsonComplexSchema(
                any_of=[resampling, JsonObjectSchema(additional_properties=resampling)],
                default="nearest",
                title="Resampling: one method or one per variable ('*' for the rest)",
            ),
            apply_scaling=_apply_scaling_schema(),
            tile_size=_tile_size_schema(),
            chunks=_chunks_schema(),
            error_policy=error_policy_schema(),
            force_cube=force_cube_schema(default=True),
        ),
        required=["bbox", "time_range"],
        additional_properties=False,
    )
    if store_id in NARROW_SEARCH_STORES:
        del result.properties["query"]
    return result


def search_params_schema(stack_mode: bool, store_id: str | None = None) -> JsonObjectSchema:
    """Parameters of ``search_data`` (no ``query`` or ``sortby`` where the search is narrow)."""
    properties: dict[str, Any] = dict(
        collections=JsonArraySchema(
            items=JsonStringSchema(min_length=1),
            unique_items=True,
            title="Collections to search",
        ),
        bbox=bbox_schema(description="Only data intersecting this lon/lat box."),
        time_range=time_range_schema(description="Only data overlapping this time range."),
    )
    if not stack_mode:
        properties.update(
            ids=JsonArraySchema(items=JsonStringSchema(min_length=1), title="Item ids"),
            query=JsonObjectSchema(additional_properties=True, title="STAC query extension"),
            filter=_filter_schema(),
            sortby=JsonComplexSchema(
                any_of=[
                    JsonStringSchema(min_length=1),
                    JsonArraySchema(items=JsonObjectSchema(additional_properties=True)),
                ],
                title="Sort order, e.g. '-properties.datetime'",
            ),
        )
    properties["limit"] = JsonIntegerSchema(minimum=1, title="Maximum number of results")
    if store_id in NARROW_SEARCH_STORES:
        for name in _NOT_NARROW:
            properties.pop(name, None)
    return JsonObjectSchema(properties=properties, additional_properties=False)


# -- interpretation -------------------------------------------------------------------------------


def check_filter(value: Any, store_id: str | None = None, data_id: str | None = None) -> Any:
    """Parse a cql2-text (string) or cql2-json (object) filter; InvalidParameterError if bad
    (for a narrow search: anything but ``eo:cloud_cover`` comparisons)."""
    import cql2

    try:
        if isinstance(value, str):
            expression = cql2.parse_text(value)
        else:
            expression = cql2.parse_json(json.dumps(value))
    except (cql2.ParseError, cql2.ValidationError, ValueError, TypeError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = " ".join(lines[:4]) or type(error).__name__
        raise InvalidParameterError(
            f"filter = {value!r} is not valid CQL2: {detail}",
            store_id=store_id,
            data_id=data_id,
            parameter="filter",
        ) from None
    if store_id in NARROW_SEARCH_STORES and not _cloud_cover_only(expression.to_json()):
        raise InvalidParameterError(
            f"filter = {value!r}: {_NARROW_SEARCH}; a filter compares eo:cloud_cover with a "
            f"number ({', '.join(_CLOUD_COVER_OPERATORS)}, joined by 'and'), "
            "e.g. 'eo:cloud_cover < 20'",
            store_id=store_id,
            data_id=data_id,
            parameter="filter",
        )
    return expression


def check_narrow_search(
    params: Mapping[str, Any], store_id: str, data_id: str | None = None
) -> None:
    """Refuse search parameters a narrow search does not have, naming what it has."""
    if store_id not in NARROW_SEARCH_STORES:
        return
    for name in _NOT_NARROW:
        if params.get(name) is not None:
            raise InvalidParameterError(
                f"{name} is not supported: {_NARROW_SEARCH}",
                store_id=store_id,
                data_id=data_id,
                parameter=name,
            )


def _cloud_cover_only(node: Any) -> bool:
    """Whether a cql2-json expression only compares ``eo:cloud_cover`` with numbers."""
    if not isinstance(node, Mapping) or not isinstance(node.get("args"), list):
        return False
    args = node["args"]
    if node.get("op") == "and":
        return all(_cloud_cover_only(arg) for arg in args)
    return (
        node.get("op") in _CLOUD_COVER_OPERATORS
        and len(args) == 2
        and args[0] == {"property": "eo:cloud_cover"}
        and isinstance(args[1], int | float)
        and not isinstance(args[1], bool)
    )
