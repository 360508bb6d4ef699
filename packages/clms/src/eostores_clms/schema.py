"""Parameter schemas of the clms store: store, open and preload parameters."""

from __future__ import annotations

from typing import Any

from eostores.http import http_params_schema
from eostores.schema import (
    JsonBooleanSchema,
    JsonComplexSchema,
    JsonNullSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonStringSchema,
)

from .config import (
    CREDENTIALS_ENV,
    DEFAULT_API_URL,
    DEFAULT_CACHE_STORE_ID,
    DEFAULT_CACHE_STORE_PARAMS,
    DEFAULT_CATALOG_TTL,
    DEFAULT_LINK_TTL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_REQUEST_DEADLINE,
    DEFAULT_STALE_TASK_AGE,
    HTTP_DEFAULTS,
)

__all__ = ["open_params_schema", "preload_params_schema", "store_params_schema"]

OPEN_DESCRIPTION = (
    "CLMS data cannot be read in parts from the service: preload_data() requests the file, "
    "waits for the service to prepare it, downloads and unpacks it and writes it to the "
    "cache store as Zarr. open_data() then opens that Zarr lazily with these parameters."
)


def credentials_schema() -> JsonComplexSchema:
    """The service key: the JSON object itself, the path of its file, or null."""
    text = JsonStringSchema(min_length=1)
    key = JsonObjectSchema(
        properties=dict(
            client_id=JsonStringSchema(min_length=1, title="Client id"),
            user_id=JsonStringSchema(min_length=1, title="User id"),
            token_uri=JsonStringSchema(min_length=1, pattern=r"^https?://", title="Token endpoint"),
            private_key=JsonStringSchema(min_length=1, title="Private key (PEM)"),
            issued=text,
            key_id=text,
            title=text,
        ),
        required=["client_id", "user_id", "token_uri", "private_key"],
        additional_properties=True,
        title="Service key",
    )
    return JsonComplexSchema(
        one_of=[
            key,
            JsonStringSchema(min_length=1, title="Path of the service key JSON file"),
            JsonNullSchema(),
        ],
        title="CLMS API credentials",
        description="The service key created in the CLMS portal profile (a dict, or the path "
        f"of its JSON file); when null, the file named by {CREDENTIALS_ENV}. Needed for "
        "preloading only.",
    )


def store_params_schema() -> JsonObjectSchema:
    seconds = "in seconds"
    return JsonObjectSchema(
        properties=dict(
            credentials=credentials_schema(),
            cache_store_id=JsonStringSchema(
                default=DEFAULT_CACHE_STORE_ID,
                min_length=1,
                title="Store id of the cache store",
                description="A filesystem store (file, memory, s3, ...) that receives the "
                "preloaded data as Zarr.",
            ),
            cache_store_params=JsonObjectSchema(
                default=DEFAULT_CACHE_STORE_PARAMS,
                additional_properties=True,
                title="Parameters of the cache store",
                description="For the file store its root defaults to the user cache folder "
                "(eostores.cache.default_cache_dir('clms')).",
            ),
            api_url=JsonStringSchema(
                default=DEFAULT_API_URL,
                pattern=r"^https?://[^\s]+$",
                title="CLMS API URL",
            ),
            request_deadline=JsonNumberSchema(
                default=DEFAULT_REQUEST_DEADLINE,
                exclusive_minimum=0,
                title="Longest time for preloading one data id",
                description=f"From the data request to the cached result, {seconds}, "
                "queueing at the service included.",
            ),
            poll_interval=JsonNumberSchema(
                default=DEFAULT_POLL_INTERVAL,
                exclusive_minimum=0,
                title="First wait between status queries",
                description=f"{seconds}; the wait grows to four times this value.",
            ),
            link_ttl=JsonNumberSchema(
                default=DEFAULT_LINK_TTL,
                minimum=0,
                title="How long a finished task's download link is trusted",
                description=f"{seconds} after the service finalised the task; older tasks are "
                "not reused (the service does not say when links expire). A reused link must "
                "also still answer.",
            ),
            stale_task_age=JsonNumberSchema(
                default=DEFAULT_STALE_TASK_AGE,
                exclusive_minimum=0,
                title="How long a task may stay queued before it counts as lost",
                description=f"{seconds} after the service registered it; such a task is "
                "cancelled and the file requested again instead of joining it.",
            ),
            catalog_ttl=JsonNumberSchema(
                default=DEFAULT_CATALOG_TTL,
                minimum=0,
                title="How long the dataset catalogue is cached on disk",
                description=seconds,
            ),
            **http_params_schema(**HTTP_DEFAULTS),
        ),
        additional_properties=False,
    )


def preload_params_schema() -> JsonObjectSchema:
    return JsonObjectSchema(
        properties=dict(
            blocking=JsonBooleanSchema(default=True, title="Wait until every data id is preloaded"),
            silent=JsonBooleanSchema(default=False, title="Do not display progress"),
            cleanup=JsonBooleanSchema(
                default=True,
                title="Delete downloaded archives and extracted files afterwards",
                description="Interrupted downloads are kept either way, so that a later "
                "preload resumes them.",
            ),
        ),
        additional_properties=False,
    )


def open_params_schema(cache_store: Any, opener_id: str) -> JsonObjectSchema:
    """The cache store's parameters for opening Zarr, described for this store."""
    schema = cache_store.get_open_data_params_schema(opener_id=opener_id)
    schema.description = OPEN_DESCRIPTION
    return schema
