"""Store and open parameters: their schemas, and their interpretation.

Everything here is checked before any request, so that a bad parameter fails at once with
an InvalidParameterError naming the parameter, the value and what is allowed.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from eostores.credentials import Secret, is_secret_name
from eostores.errors import InvalidParameterError
from eostores.http import HttpConfig, http_params_schema
from eostores.limits import max_bytes_schema
from eostores.schema import (
    JsonIntegerSchema,
    JsonObjectSchema,
    JsonStringSchema,
    bbox_schema,
    crs_schema,
    parse_bbox,
    parse_time_range,
    resolve_variable_names,
    spatial_res_schema,
    time_period_schema,
    time_range_schema,
    variable_names_schema,
)

from .config import (
    BLOCK_SIZE,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_SOURCE_PATH,
    DEFAULT_STAC_URL,
    HTTP_DEFAULTS,
    LEVEL0_RES,
    NUM_LEVELS,
    SOURCE_PROTOCOLS,
    STORE_ID,
    ArchiveSpec,
    CubeRequest,
    DatasetInfo,
)

__all__ = [
    "LEVEL_RESOLUTIONS",
    "STORE_PARAMS",
    "STORE_PARAM_ALIASES",
    "archive_spec",
    "check_xarray_kwargs",
    "open_params_schema",
    "parse_open_params",
    "store_params_schema",
]

#: Pixel size of each res_level, in degrees.
LEVEL_RESOLUTIONS = [LEVEL0_RES * (1 << level) for level in range(NUM_LEVELS)]
#: The store's own parameters; any other store parameter is a storage option.
STORE_PARAMS = (
    "stac_url",
    "source_path",
    "source_protocol",
    "source_storage_options",
    "cache_path",
    "xarray_kwargs",
    "max_request_bytes",
)
#: Other names of store parameters: those of xcube-smos.
STORE_PARAM_ALIASES = {"stac_smos_url": "stac_url"}
#: xarray.open_dataset arguments the store sets itself, to read raw values by range reads.
_FIXED_XARRAY_KWARGS = ("filename_or_obj", "decode_cf", "mask_and_scale", "chunks", "cache")


# --------------------------------------------------------------------------- store


def store_params_schema() -> JsonObjectSchema:
    """The parameters of ``new_data_store("smos", ...)``."""
    return JsonObjectSchema(
        properties=dict(
            stac_url=JsonStringSchema(
                default=DEFAULT_STAC_URL,
                pattern=r"^https?://\S+$",
                title="URL of the SMOS collection in a STAC API",
                description="Items are searched at <stac_url>/items. The default is the "
                "CREODIAS datahub's catalogue, next to the archive; the legacy catalogue of "
                "the Copernicus Data Space Ecosystem "
                "(https://catalogue.dataspace.copernicus.eu/stac/collections/SMOS) serves "
                "the same items. Its successor, stac.dataspace.copernicus.eu/v1, has "
                "another item model, which this store does not read. Alias: stac_smos_url "
                "(xcube-smos's name).",
            ),
            source_path=JsonStringSchema(
                default=DEFAULT_SOURCE_PATH,
                min_length=1,
                title="Path or URL into the SMOS archive",
                description="The archive's top folder: a bucket (s3://eodata), an https URL "
                "of a mirror, or a local folder. Products are looked up below it by their "
                "path in the catalogue (without its first folder, the bucket).",
            ),
            source_protocol=JsonStringSchema(
                enum=list(SOURCE_PROTOCOLS),
                nullable=True,
                default=None,
                title="Protocol of the archive",
                description="s3, https, http or file; null: from source_path.",
            ),
            source_storage_options=JsonObjectSchema(
                additional_properties=True,
                nullable=True,
                default=None,
                title="Options of the archive's filesystem",
                description="fsspec options of the protocol. For s3: endpoint_url (default "
                "https://eodata.cloudferro.com), key and secret (default: the environment "
                "variables CREODIAS_S3_KEY and CREODIAS_S3_SECRET), client_kwargs, ... For "
                "https: headers, block_size. Further store parameters override these.",
            ),
            cache_path=JsonStringSchema(
                nullable=True,
                default=None,
                min_length=1,
                title="Local cache folder",
                description="Where the variables read from products are kept, so that each is "
                "read from the archive once; shared safely by threads and processes. null: "
                "no cache on disk.",
            ),
            xarray_kwargs=JsonObjectSchema(
                additional_properties=True,
                nullable=True,
                default=None,
                title="Extra arguments of xarray.open_dataset",
                description="When given, products are read with xarray.open_dataset (engine "
                "h5netcdf) and these arguments; otherwise with h5py directly, which is faster. "
                "decode_cf, mask_and_scale, chunks and cache are set by the store.",
            ),
            max_request_bytes=max_bytes_schema(DEFAULT_MAX_REQUEST_BYTES),
            **http_params_schema(**HTTP_DEFAULTS),
        ),
        additional_properties=True,
        description="Store parameters other than these are options of the archive's "
        "filesystem, overriding source_storage_options; any other name is refused.",
    )


def _protocol_and_root(params: Mapping[str, Any]) -> tuple[str, str]:
    source_path = params.get("source_path") or DEFAULT_SOURCE_PATH
    given = params.get("source_protocol")
    scheme, sep, rest = source_path.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme and scheme not in SOURCE_PROTOCOLS:
        raise InvalidParameterError(
            f"source_path = {source_path!r}: protocol {scheme!r} is not supported; allowed: "
            f"{', '.join(SOURCE_PROTOCOLS)}",
            store_id=STORE_ID,
            parameter="source_path",
        )
    if scheme and given and {scheme, given} != {"http", "https"} and scheme != given:
        raise InvalidParameterError(
            f"source_protocol = {given!r} contradicts source_path = {source_path!r}",
            store_id=STORE_ID,
            parameter="source_protocol",
        )
    protocol = given or scheme or "file"
    if protocol in ("http", "https"):
        parts = urlsplit(source_path)
        if not sep or not parts.hostname or parts.query or parts.fragment:
            raise InvalidParameterError(
                f"source_path = {source_path!r}: must be an http(s) URL without query",
                store_id=STORE_ID,
                parameter="source_path",
            )
        return protocol, source_path.rstrip("/")
    root = rest if sep else source_path
    if protocol == "s3":
        root = root.strip("/")
        if not root:
            raise InvalidParameterError(
                f"source_path = {source_path!r}: must name a bucket, e.g. s3://eodata",
                store_id=STORE_ID,
                parameter="source_path",
            )
    return protocol, root


def _storage_options(params: Mapping[str, Any], protocol: str) -> dict[str, Any]:
    """source_storage_options with the extra store parameters merged in, validated."""
    from eostores.fs.storage_options import storage_options_schema

    options = dict(params.get("source_storage_options") or {})
    extra = {k: v for k, v in params.items() if k not in _known_store_params()}
    schema = storage_options_schema(protocol)
    unknown = sorted(set(extra) - set(schema.properties))
    if unknown:
        raise InvalidParameterError(
            f"unknown store parameter {unknown[0]!r}: neither a parameter of the store nor an "
            f"option of the {protocol!r} filesystem of source_path. The catalogue is given "
            "by stac_url, the archive by source_path and source_storage_options (options: "
            f"{', '.join(schema.properties)})",
            store_id=STORE_ID,
            parameter=unknown[0],
        )
    options.update(extra)
    try:
        return schema.validate_instance(options, name="source_storage_options")
    except InvalidParameterError as error:
        raise InvalidParameterError(
            error.message, store_id=STORE_ID, parameter="source_storage_options"
        ) from None


def _known_store_params() -> set[str]:
    return set(STORE_PARAMS) | set(http_params_schema())


def archive_spec(params: Mapping[str, Any]) -> ArchiveSpec:
    """The archive of validated store parameters (no request is made)."""
    protocol, root = _protocol_and_root(params)
    options = _storage_options(params, protocol)
    wrapped = tuple(
        sorted(
            (k, Secret(v) if is_secret_name(k) and isinstance(v, str) else v)
            for k, v in options.items()
        )
    )
    xarray_kwargs = check_xarray_kwargs(params.get("xarray_kwargs"))
    block_size = options.get("block_size", BLOCK_SIZE)
    http = HttpConfig.from_params({**HTTP_DEFAULTS, **params}, store_id=STORE_ID)
    cache_path = params.get("cache_path")
    return ArchiveSpec(
        protocol=protocol,
        root=root,
        storage_options=wrapped,
        http=http,
        cache_path=os.path.expanduser(str(cache_path)) if cache_path else None,
        xarray_kwargs=tuple(sorted(xarray_kwargs.items())),
        block_size=int(block_size),
    )


def check_xarray_kwargs(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """``xarray_kwargs`` checked against xarray.open_dataset and its h5netcdf backend."""
    kwargs = dict(value or {})
    if not kwargs:
        return kwargs
    fixed = sorted(set(kwargs) & set(_FIXED_XARRAY_KWARGS))
    if fixed:
        raise InvalidParameterError(
            f"xarray_kwargs: {', '.join(fixed)} cannot be given; the store reads raw values "
            "lazily and decodes them itself",
            store_id=STORE_ID,
            parameter="xarray_kwargs",
        )
    engine = kwargs.get("engine", "h5netcdf")
    if engine != "h5netcdf":
        raise InvalidParameterError(
            f"xarray_kwargs: engine = {engine!r}; only 'h5netcdf' reads products by range requests",
            store_id=STORE_ID,
            parameter="xarray_kwargs",
        )
    import xarray as xr
    from xarray.backends import H5netcdfBackendEntrypoint

    allowed = set(inspect.signature(xr.open_dataset).parameters)
    allowed |= set(inspect.signature(H5netcdfBackendEntrypoint.open_dataset).parameters)
    allowed -= {"self", "kwargs", "filename_or_obj"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise InvalidParameterError(
            f"xarray_kwargs: unknown argument(s) {', '.join(unknown)} of xarray.open_dataset "
            "(engine h5netcdf)",
            store_id=STORE_ID,
            parameter="xarray_kwargs",
        )
    return kwargs


# --------------------------------------------------------------------------- open


def open_params_schema(info: DatasetInfo, *, multi_level: bool = False) -> JsonObjectSchema:
    """The open parameters of ``info``'s cubes (``multi_level``: of its pyramids)."""
    properties: dict[str, Any] = dict(
        variable_names=variable_names_schema(
            info.variable_names,
            description="Variables to include (float32, NaN where missing). null (the "
            "default) means all; [] none, keeping the dimensions. Alias: variables.",
        ),
        bbox=bbox_schema(
            nullable=True,
            default=None,
            description="xmin, ymin, xmax, ymax in degrees. The cube covers the pixels whose "
            "cells overlap it; longitudes in 0..360 make a box across the antimeridian. "
            "null: the whole globe.",
        ),
        crs=crs_schema(enum=["EPSG:4326"], description="Always geographic (EPSG:4326)."),
        time_range=time_range_schema(
            required=True,
            description="[start, end]; an end date includes its whole day. A product belongs "
            "to the range holding its mid-time.",
        ),
        time_period=time_period_schema(
            nullable=True,
            default=None,
            const=None,
            description="Always null: one time step per half-orbit product.",
        ),
    )
    if not multi_level:
        properties.update(
            res_level=JsonIntegerSchema(
                minimum=0,
                maximum=NUM_LEVELS - 1,
                default=0,
                title="Resolution level",
                description="0 (0.0439453125 degrees, the finest) to 4; each level doubles "
                "the pixel size.",
            ),
            spatial_res=spatial_res_schema(
                enum=LEVEL_RESOLUTIONS,
                nullable=True,
                default=None,
                description="The pixel size of a resolution level, instead of res_level.",
            ),
        )
    else:
        properties.update(
            spatial_res=spatial_res_schema(
                enum=[LEVEL0_RES],
                nullable=True,
                default=None,
                description="The pixel size of level 0 (each level doubles it).",
            ),
        )
    return JsonObjectSchema(
        properties=properties,
        required=["time_range"],
        additional_properties=False,
        title=f"Open parameters of {info.data_id}"
        + (" as a multi-level dataset" if multi_level else ""),
    )


def parse_open_params(
    info: DatasetInfo, params: Mapping[str, Any], *, multi_level: bool = False
) -> CubeRequest:
    """The cube request of validated open parameters."""
    names = resolve_variable_names(params.get("variable_names"), info.variable_names)
    bbox = params.get("bbox")
    bbox = parse_bbox(bbox) if bbox is not None else None
    time_range = parse_time_range(params["time_range"])
    if time_range.start is None:
        raise InvalidParameterError(
            "time_range needs a start date; the archive holds products since 2010",
            store_id=STORE_ID,
            data_id=info.data_id,
            parameter="time_range",
        )
    level: int | None = None
    if not multi_level:
        level = int(params.get("res_level", 0))
        spatial_res = params.get("spatial_res")
        if spatial_res is not None:
            from_res = LEVEL_RESOLUTIONS.index(spatial_res)
            if level not in (0, from_res):
                raise InvalidParameterError(
                    f"spatial_res = {spatial_res} is res_level {from_res}, but res_level = "
                    f"{level} was given; give one of them",
                    store_id=STORE_ID,
                    data_id=info.data_id,
                    parameter="spatial_res",
                )
            level = from_res
    return CubeRequest(
        data_id=info.data_id,
        variable_names=tuple(names),
        bbox=bbox,
        time_start=time_range.start,
        time_end=time_range.end,
        level=level,
    )
