"""Parameter schemas of the ``cciodp`` store: store, open and search parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from eostores.http import http_params_schema
from eostores.schema import (
    JsonArraySchema,
    JsonBooleanSchema,
    JsonComplexSchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonStringSchema,
    bbox_schema,
    time_range_schema,
    variable_names_schema,
)

from .config import (
    DEFAULT_CATALOGUE_TTL,
    DESCRIPTION_URL,
    ENDPOINT_URL,
    FACETS,
    HTTP_DEFAULTS,
)

if TYPE_CHECKING:
    from .catalog import DatasetInfo

__all__ = ["open_params_schema", "search_params_schema", "store_params_schema"]


def store_params_schema() -> JsonObjectSchema:
    """The ``cciodp`` store parameters."""
    http = http_params_schema(**HTTP_DEFAULTS)
    http["num_retries"].description = (
        "Retries of a request answered with 429, 500, 502, 503 or 504, dropped or cut "
        "short. A 404 (no such file) is never retried."
    )
    return JsonObjectSchema(
        properties=dict(
            endpoint_url=JsonStringSchema(
                default=ENDPOINT_URL,
                title="OpenSearch request URL",
                description="Where collections and files are searched.",
            ),
            endpoint_description_url=JsonStringSchema(
                default=DESCRIPTION_URL,
                title="OpenSearch description URL",
                description="The description document listing the data ids and facets.",
            ),
            enable_warnings=JsonBooleanSchema(
                default=False,
                title="Whether to output warnings",
                description="Warn about files the service lists but cannot serve.",
            ),
            cache_dir=JsonStringSchema(
                nullable=True,
                default=None,
                title="Folder of the metadata cache",
                description="The catalogue, ISO records, searches and DAP metadata are kept "
                "here; null: the user cache folder (eostores/cciodp); '' keeps nothing.",
            ),
            catalogue_ttl=JsonNumberSchema(
                minimum=0,
                default=DEFAULT_CATALOGUE_TTL,
                title="Seconds cached metadata stay valid",
                description="0 fetches everything afresh each time.",
            ),
            **http,
        ),
        additional_properties=False,
    )


def open_params_schema(info: DatasetInfo | None = None) -> JsonObjectSchema:
    """The open parameters; with ``info``, limited to the dataset's variables and time."""
    names: Sequence[str] | None = list(info.variables) if info is not None else None
    return JsonObjectSchema(
        properties=dict(
            variable_names=variable_names_schema(names),
            bbox=bbox_schema(
                description="[xmin, ymin, xmax, ymax] in degrees: the cells that overlap it."
            ),
            time_range=time_range_schema(
                description="[start, end]: the files whose period overlaps it. An end date "
                "covers that whole day.",
            ),
            normalize_data=JsonBooleanSchema(
                default=True,
                title="Whether to normalize and sanitize the data",
                description="Time from the files' dates (period centres) with time_bnds, CF "
                "attributes, longitudes in -180..180 and latitudes ascending.",
            ),
        ),
        additional_properties=False,
        description="Opening is lazy: each chunk is one OPeNDAP hyperslab request, made when "
        "the chunk is computed.",
    )


def _facet(title: str) -> JsonComplexSchema:
    return JsonComplexSchema(
        any_of=[
            JsonStringSchema(min_length=1),
            JsonArraySchema(items=JsonStringSchema(min_length=1), min_items=1),
        ],
        title=title,
        description="A value of the facet in the OpenSearch description, or a list of them.",
    )


def search_params_schema() -> JsonObjectSchema:
    """The search parameters: facets of the description, extent and time."""
    facets = {name: _facet(name.replace("_", " ").capitalize()) for name in FACETS}
    return JsonObjectSchema(
        properties=dict(
            **facets,
            pattern=JsonStringSchema(
                title="Data id pattern",
                description="Shell-style pattern the data id must match.",
            ),
            bbox=bbox_schema(description="Only data whose extent intersects this box."),
            time_range=time_range_schema(
                description="Only data whose time range overlaps this range."
            ),
            limit=JsonIntegerSchema(minimum=1, title="Maximum number of results"),
        ),
        additional_properties=False,
    )
