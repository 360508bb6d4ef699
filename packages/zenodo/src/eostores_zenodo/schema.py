"""Parameter schemas of the Zenodo store: store, open (per format) and preload parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api import DEFAULT_API_URL
from .catalog import FileFormat

if TYPE_CHECKING:
    from eostores.schema import JsonObjectSchema

__all__ = [
    "DEFAULT_CACHE_STORE_PARAMS",
    "TARGET_FORMATS",
    "open_params_schema",
    "preload_params_schema",
    "store_params_schema",
]

DEFAULT_CACHE_STORE_PARAMS = {"root": "zenodo_cache", "max_depth": 10}
TARGET_FORMATS = ("zarr",)


def store_params_schema() -> JsonObjectSchema:
    from eostores.schema import (
        JsonComplexSchema,
        JsonIntegerSchema,
        JsonNumberSchema,
        JsonObjectSchema,
        JsonStringSchema,
    )

    return JsonObjectSchema(
        properties=dict(
            root=JsonComplexSchema(
                any_of=[JsonStringSchema(min_length=1), JsonIntegerSchema(minimum=1)],
                title="Zenodo record",
                description="A record id, a DOI (10.5281/zenodo.N or any DOI of a Zenodo "
                "record) or a record URL. A concept id (or concept DOI) means the latest "
                "version.",
                examples=["8154445", "10.5281/zenodo.8154445"],
            ),
            api_url=JsonStringSchema(
                default=DEFAULT_API_URL,
                title="Base URL of the Zenodo REST API",
                description="E.g. https://sandbox.zenodo.org/api, or a local emulator.",
            ),
            access_token=JsonStringSchema(
                title="Personal access token",
                description="Needed for restricted files only. Default: the environment "
                "variable ZENODO_ACCESS_TOKEN, else the .netrc entry of the API host. "
                "A secret: never shown in reprs, logs or errors.",
            ),
            cache_store_id=JsonStringSchema(
                default="file",
                title="Store id of the cache store for preloaded data",
                description="A filesystem store: file, memory, s3, abfs...",
            ),
            cache_store_params=JsonObjectSchema(
                additional_properties=True,
                default=dict(DEFAULT_CACHE_STORE_PARAMS),
                title="Parameters of the cache store",
                description="Preloaded files of record N go below '<root>/N'.",
            ),
            num_retries=JsonIntegerSchema(
                minimum=0,
                default=5,
                title="Retries of failed requests (429, 5xx, broken connections)",
            ),
            retry_backoff_max=JsonNumberSchema(
                minimum=0,
                default=60.0,
                title="Longest wait before a retry, in seconds",
                description="Also caps how long a Retry-After header is honoured.",
            ),
        ),
        required=["root"],
        additional_properties=False,
    )


def _dataset_schema(fmt: FileFormat, data_type: str) -> JsonObjectSchema:
    from eostores.fs.formats import get_handler

    if fmt.format_id == "netcdf":
        from eostores.fs.xarray_params import dataset_open_params_schema
        from eostores.schema import JsonStringSchema

        return dataset_open_params_schema(
            group=JsonStringSchema(title="Group path inside the file")
        )
    handler = get_handler(fmt.format_id if fmt.format_id != "zip" else "zarr")
    return handler.get_open_params_schema(data_type)


def _vector_schema(fmt: FileFormat) -> JsonObjectSchema:
    from eostores.fs.formats import get_handler
    from eostores.fs.geojson import vector_open_params_schema
    from eostores.schema import JsonStringSchema

    if fmt.format_id in ("geojson", "shapefile"):
        return get_handler(fmt.format_id).get_open_params_schema("geodataframe")
    if fmt.format_id == "geopackage":
        return vector_open_params_schema(
            layer=JsonStringSchema(title="Layer to read", description="Default: the first.")
        )
    return vector_open_params_schema(
        x_column=JsonStringSchema(
            title="Column of the x coordinates (longitudes)",
            description="Default: the first of lon, longitude, x (any case).",
        ),
        y_column=JsonStringSchema(
            title="Column of the y coordinates (latitudes)",
            description="Default: the first of lat, latitude, y (any case).",
        ),
        source_crs=JsonStringSchema(default="EPSG:4326", title="CRS of the coordinate columns"),
    )


def open_params_schema(fmt: FileFormat, data_type: str) -> JsonObjectSchema:
    """The open parameters of a file of format ``fmt`` opened as ``data_type``."""
    from eostores.schema import JsonObjectSchema

    if fmt.format_id == "tar":
        return JsonObjectSchema(
            additional_properties=False,
            description="Tar archives cannot be read in parts: preload them with "
            "preload_data() and open their content from the handle's store.",
        )
    if data_type == "geodataframe" and not fmt.archive:
        return _vector_schema(fmt)
    schema = _dataset_schema(fmt, data_type)
    if fmt.archive:
        schema.description = (
            "A zip archive is opened directly only when it holds a Zarr (read over HTTP "
            "ranges with these parameters); any other archive must be preloaded with "
            "preload_data() and its content opened from the handle's store."
        )
    return schema


def preload_params_schema() -> JsonObjectSchema:
    from eostores.schema import (
        JsonBooleanSchema,
        JsonIntegerSchema,
        JsonObjectSchema,
        JsonStringSchema,
    )

    return JsonObjectSchema(
        properties=dict(
            blocking=JsonBooleanSchema(default=True, title="Wait until preloading has finished"),
            silent=JsonBooleanSchema(default=True, title="Do not display progress"),
            cleanup=JsonBooleanSchema(
                default=True,
                title="Delete downloaded archives and converted source files afterwards",
            ),
            target_format=JsonStringSchema(
                enum=list(TARGET_FORMATS),
                nullable=True,
                default=None,
                title="Convert NetCDF and GeoTIFF files to this format",
                description="zarr: NetCDF files of one folder that fit together become one "
                "Zarr (combined by their coordinates), other NetCDF and GeoTIFF files one "
                "Zarr each. null (the default) keeps the files as published.",
            ),
            max_workers=JsonIntegerSchema(
                minimum=1,
                maximum=16,
                default=2,
                title="Files preloaded at the same time",
            ),
        ),
        additional_properties=False,
    )
