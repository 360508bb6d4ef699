"""Parameter schemas: the store's own and, per data id, those of ``open_data``.

Open parameters come from the dataset's catalogue record and request form: variables
with their titles and units, product types, pressure levels, the dataset's own choices
(daily statistic, sensor type, ...), the time extent and the native grid.
"""

from __future__ import annotations

from eostores.schema import (
    JsonArraySchema,
    JsonBooleanSchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonSchema,
    JsonStringSchema,
    bbox_schema,
    crs_schema,
    spatial_res_schema,
    time_period_schema,
    time_range_schema,
    variable_names_schema,
)

from .catalog import DatasetInfo
from .config import DEFAULT_CALL_DEADLINE, DEFAULT_ENDPOINT_URL, HTTP_DEFAULTS

__all__ = ["open_params_schema", "preload_params_schema", "store_params_schema"]

_NOT_LAZY = (
    "The CDS answers requests through a job queue, so opening waits until the jobs have "
    "finished and their files are downloaded; the result is cached and read lazily. "
    "Use preload_data for long requests."
)


def store_params_schema() -> JsonObjectSchema:
    """The store parameters: the service's, the core's HTTP ones, jobs, cache and limits."""
    from eostores.http import http_params_schema
    from eostores.limits import MAX_BYTES_PARAMETER, max_bytes_schema

    properties: dict[str, JsonSchema] = dict(
        cds_api_key=JsonStringSchema(
            nullable=True,
            default=None,
            title="CDS API key",
            description="Personal access token. Default: CDSAPI_KEY, the key in "
            "~/.cdsapirc (CDSAPI_RC), ECMWF_DATASTORES_KEY or ~/.ecmwfdatastoresrc.",
        ),
        endpoint_url=JsonStringSchema(
            nullable=True,
            default=None,
            title="API endpoint URL",
            description=f"Default: CDSAPI_URL, the url in ~/.cdsapirc, else "
            f"{DEFAULT_ENDPOINT_URL}.",
        ),
        normalize_names=JsonBooleanSchema(
            default=False,
            title="Normalise variable names",
            description="Replace characters that are not letters, digits or underscores "
            "and prefix names starting with a digit.",
        ),
    )
    properties.update(http_params_schema(**HTTP_DEFAULTS))
    properties.update(
        call_deadline=JsonNumberSchema(
            exclusive_minimum=0,
            default=DEFAULT_CALL_DEADLINE,
            title="Longest time of one call, s",
            description="Bounds each call of the store (an open, a listing, the preload of "
            "one data id) with all its requests, retries and the wait in the CDS job queue; "
            "jobs still running are resumed by the next identical call.",
        ),
        poll_interval=JsonNumberSchema(
            exclusive_minimum=0, default=1.0, title="First job poll interval (s)"
        ),
        poll_interval_max=JsonNumberSchema(
            exclusive_minimum=0,
            default=60.0,
            title="Poll interval cap (s)",
            description="The poll interval grows by half each time up to this value.",
        ),
        max_concurrent_jobs=JsonIntegerSchema(
            minimum=1,
            maximum=32,
            default=4,
            title="Jobs in flight at once",
            description="Keep within the service's limit of running requests per user.",
        ),
        cache_dir=JsonStringSchema(
            nullable=True,
            default=None,
            title="Cache directory",
            description="Catalogue, downloads and results, shareable by any number of "
            "threads, processes and stores. Default: $EOSTORES_CACHE_DIR/cds, else "
            "eostores/cds in the user cache folder (~/.cache on Linux).",
        ),
        catalogue_ttl=JsonNumberSchema(
            minimum=0,
            default=86400.0,
            title="Catalogue cache lifetime (s)",
        ),
    )
    properties[MAX_BYTES_PARAMETER] = max_bytes_schema()
    return JsonObjectSchema(properties=properties, additional_properties=False)


def open_params_schema(info: DatasetInfo, product_type: str | None) -> JsonObjectSchema:
    """The open parameters of a dataset (with ``product_type`` fixed by a virtual id)."""
    variables = info.allowed("variable", product_type) if product_type else list(info.variables)
    titles = {}
    for name in variables:
        variable = info.variables[name]
        titles[name] = f"{variable.title} [{variable.units}]" if variable.units else variable.title
    properties: dict[str, JsonSchema] = {}
    if product_type is None and len(info.product_types) > 1:
        properties["product_type"] = JsonStringSchema(
            enum=list(info.product_types),
            default=next(iter(info.product_types)),
            title="Product type",
            description="; ".join(f"{k}: {v}" for k, v in info.product_types.items()),
        )
    properties["variable_names"] = variable_names_schema(variables, titles=titles)
    west, south, east, north = info.bbox
    properties["bbox"] = bbox_schema(
        nullable=True,
        default=None,
        description=f"xmin, ymin, xmax, ymax in degrees; longitudes -180..180 or 0..360 "
        f"(the result uses the box's convention). Default: the whole extent "
        f"{[west, south, east, north]}.",
    )
    properties["crs"] = crs_schema(enum=["EPSG:4326"])
    properties["spatial_res"] = _spatial_res_schema(info)
    start, end = _day(info.start), _day(info.end)
    properties["time_range"] = time_range_schema(start, end, required=True)
    periods = info.time_periods(product_type)
    properties["time_period"] = time_period_schema(
        enum=periods,
        default=periods[0],
        description="Time step of the result: "
        + (
            f"the service's {info.period_key}"
            if info.period_key
            else "hours of the day sampled at this step"
            if periods[0].endswith("H")
            else "the dataset's own step"
        ),
    )
    if info.levels:
        levels = info.allowed("pressure_level", product_type)
        properties["pressure_level"] = JsonArraySchema(
            items=JsonStringSchema(enum=levels),
            unique_items=True,
            min_items=1,
            nullable=True,
            default=None,
            title="Pressure levels (hPa)",
            description="null means all levels.",
        )
    for key, choice in info.choices.items():
        item = JsonStringSchema(enum=list(choice.values))
        description = "; ".join(f"{k}: {v}" for k, v in choice.values.items())
        if choice.multiple:
            properties[key] = JsonArraySchema(
                items=item,
                unique_items=True,
                min_items=1,
                nullable=True,
                default=choice.default if isinstance(choice.default, list) else None,
                title=choice.title,
                description=description,
            )
        else:
            properties[key] = JsonStringSchema(
                enum=list(choice.values),
                default=choice.default,
                title=choice.title,
                description=description,
            )
    properties["split_requests"] = JsonBooleanSchema(
        default=True,
        title="Split large requests",
        description="Fetch month by month (year by year for monthly data), and split further "
        "when the service's cost limit requires; off: one request, refused if too large.",
    )
    return JsonObjectSchema(
        properties=properties,
        required=["time_range"],
        additional_properties=False,
        title=info.title + (f" ({info.product_types[product_type]})" if product_type else ""),
        description=_NOT_LAZY,
    )


def _spatial_res_schema(info: DatasetInfo) -> JsonSchema:
    """``spatial_res``: the native grid by default; other grids where the service regrids.

    Where the native grid is not known (see :func:`.catalog.native_grid`), null stands
    for it.
    """
    native = info.native_res
    if native is None and info.supports_area:
        return spatial_res_schema(
            default=None,
            maximum=10.0,
            nullable=True,
            description="Grid spacing in degrees; null: the dataset's native grid (the "
            "catalogue does not state it); other spacings are interpolated by the service.",
        )
    if native is None:
        return spatial_res_schema(
            default=None,
            nullable=True,
            description="Must be null: the dataset comes on its native grid only (the "
            "catalogue does not state it).",
        )
    if info.supports_area:
        return spatial_res_schema(
            default=native,
            minimum=native,
            maximum=10.0,
            description=f"Grid spacing in degrees (native {native}); coarser grids are "
            "interpolated by the service.",
        )
    return spatial_res_schema(
        default=native,
        enum=[native],
        description=f"Grid spacing in degrees: the dataset comes on its native {native} grid only.",
    )


def preload_params_schema(base: JsonObjectSchema) -> JsonObjectSchema:
    """The preload parameters: the defaults plus open parameters shared by every data id."""
    return base.with_properties(
        variable_names=JsonArraySchema(
            items=JsonStringSchema(min_length=1),
            unique_items=True,
            nullable=True,
            default=None,
            title="Variable names",
        ),
        bbox=bbox_schema(nullable=True, default=None),
        spatial_res=spatial_res_schema(nullable=True, default=None),
        time_range=time_range_schema(required=True),
        time_period=time_period_schema(nullable=True, default=None),
        open_params=JsonObjectSchema(
            additional_properties=True,
            title="Further open parameters",
            description="Dataset-specific open parameters (product_type, pressure_level...).",
            default={},
        ),
    )


def _day(text: str | None) -> str | None:
    return text[:10] if text else None
