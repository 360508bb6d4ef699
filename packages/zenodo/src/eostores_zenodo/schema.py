"""Parameter schemas of the Zenodo store, and the checks that need no request.

Store parameters (with the core's HTTP parameters), open parameters per file format, and
preload parameters. :func:`check_open_params` checks what the schemas cannot express —
box coordinates in degrees, CRS names, variables and dimensions a file is known to have —
before the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eostores.errors import InvalidParameterError

from .config import (
    DEFAULT_API_URL,
    DEFAULT_CACHE_STORE_PARAMS,
    HTTP_DEFAULTS,
    TARGET_FORMATS,
    FileFormat,
)

if TYPE_CHECKING:
    from eostores.schema import JsonObjectSchema

__all__ = [
    "KnownLayout",
    "check_open_params",
    "open_params_schema",
    "preload_params_schema",
    "store_params_schema",
]

#: Geographic CRS of GeoJSON files (RFC 7946: longitudes and latitudes on WGS 84).
GEOJSON_CRS = "EPSG:4326"
_LON_NAMES = ("lon", "longitude")
_X_NAMES = ("lon", "longitude", "x")
_Y_NAMES = ("lat", "latitude", "y")
_TIME_NAMES = ("time", "t", "valid_time")


def store_params_schema() -> JsonObjectSchema:
    """The store parameters: the record, endpoint, token, cache store, HTTP behaviour."""
    from eostores.http import http_params_schema
    from eostores.schema import (
        JsonComplexSchema,
        JsonIntegerSchema,
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
                pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
                title="Base URL of the Zenodo REST API",
                description="E.g. https://sandbox.zenodo.org/api, or a local emulator.",
            ),
            access_token=JsonStringSchema(
                nullable=True,
                default=None,
                title="Personal access token",
                description="Needed for restricted files only; sent to the origin of "
                "api_url and nowhere else. null or absent: the environment variable "
                "ZENODO_ACCESS_TOKEN, else the .netrc entry of the API host, else none. "
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
                description="Preloaded files of record N go below '<root>/N'. Without a "
                "root, the file store uses the cache folder of eostores "
                "($EOSTORES_CACHE_DIR/zenodo, else e.g. ~/.cache/eostores/zenodo), other "
                "stores 'zenodo_cache'.",
            ),
            **http_params_schema(**HTTP_DEFAULTS),
        ),
        required=["root"],
        additional_properties=False,
    )


# --------------------------------------------------------------------------- open


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


@dataclass(frozen=True)
class KnownLayout:
    """What the store learnt about a file from describing or opening it.

    ``geographic`` tells whether a ``bbox`` is in degrees (None: not known);
    ``has_xy``/``has_time`` whether ``bbox``/``time_range`` can be applied.
    """

    variables: frozenset[str] | None = None
    geographic: bool | None = None
    has_xy: bool | None = None
    has_time: bool | None = None

    @classmethod
    def of_dataset(cls, dataset: Any) -> KnownLayout:
        """From an opened ``xarray.Dataset``."""

        def one_d(names: tuple[str, ...]) -> str | None:
            for name in names:
                if name in dataset.coords and dataset[name].ndim == 1:
                    return name
            return None

        x_name, y_name = one_d(_X_NAMES), one_d(_Y_NAMES)
        return cls(
            variables=frozenset(map(str, dataset.data_vars)),
            # x/y coordinates: the CRS decides, which the descriptor knows
            geographic=True if x_name in _LON_NAMES else None,
            has_xy=x_name is not None and y_name is not None,
            has_time=one_d(_TIME_NAMES) is not None,
        )

    @classmethod
    def of_descriptor(cls, descriptor: Any) -> KnownLayout | None:
        """From a dataset descriptor with dimensions; None for other descriptors."""
        dims = getattr(descriptor, "dims", None)
        data_vars = getattr(descriptor, "data_vars", None)
        if not dims:
            return None
        x_name = next((name for name in _X_NAMES if name in dims), None)
        y_name = next((name for name in _Y_NAMES if name in dims), None)
        geographic: bool | None = x_name in _LON_NAMES if x_name else None
        crs = getattr(descriptor, "crs", None)
        if x_name == "x" and crs:
            geographic = _crs_is_geographic(crs)
        return cls(
            variables=frozenset(data_vars) if data_vars is not None else None,
            geographic=geographic,
            has_xy=x_name is not None and y_name is not None,
            has_time=any(name in dims for name in _TIME_NAMES),
        )


def _crs_is_geographic(crs: Any) -> bool | None:
    import pyproj

    try:
        return bool(pyproj.CRS.from_user_input(crs).is_geographic)
    except pyproj.exceptions.CRSError:
        return None


def _parse_crs(value: str, parameter: str) -> Any:
    import pyproj

    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as error:
        raise InvalidParameterError(
            f"{parameter} {value!r} is not a known coordinate reference system: {error}",
            parameter=parameter,
        ) from None


def check_open_params(
    fmt: FileFormat,
    data_type: str,
    params: Mapping[str, Any],
    known: KnownLayout | None = None,
    *,
    store_id: str,
    data_id: str,
) -> None:
    """Refuse, without any request, what validated ``params`` cannot mean for this file.

    Boxes must be in order, and in degrees within [-90, 90] latitude where the CRS of the
    box is geographic: the ``crs`` asked for, GeoJSON's WGS 84, a CSV's ``source_crs``,
    or a file's CRS once the store has described or opened it. CRS names must be known to
    PROJ. Variables and dimensions are checked against what the store knows of the file.
    """
    from eostores.schema import parse_bbox, parse_time_range

    try:
        bbox_geographic = known.geographic if known is not None else None
        if data_type == "geodataframe":
            bbox_crs = None
            if params.get("crs"):
                bbox_crs = _parse_crs(params["crs"], "crs")
            source_crs = None
            if fmt.format_id == "csv":
                source_crs = _parse_crs(params.get("source_crs") or "EPSG:4326", "source_crs")
            elif fmt.format_id == "geojson":
                source_crs = _parse_crs(GEOJSON_CRS, "crs")
            crs = bbox_crs or source_crs
            bbox_geographic = bool(crs.is_geographic) if crs is not None else None
        if params.get("bbox") is not None:
            parse_bbox(params["bbox"], geographic=bool(bbox_geographic))
            if known is not None and known.has_xy is False:
                raise InvalidParameterError(
                    "bbox cannot be applied: the data has no 1-D x/y or lon/lat coordinates",
                    parameter="bbox",
                )
        if params.get("time_range") is not None:
            parse_time_range(params["time_range"])
            if known is not None and known.has_time is False:
                raise InvalidParameterError(
                    "time_range cannot be applied: the data has no time coordinate",
                    parameter="time_range",
                )
        names = params.get("variable_names")
        if data_type == "dataset" and known is not None and known.variables is not None and names:
            unknown = [name for name in names if name not in known.variables]
            if unknown:
                raise InvalidParameterError(
                    f"unknown variable(s) {', '.join(map(repr, unknown))}; allowed: "
                    + ", ".join(sorted(known.variables)),
                    parameter="variable_names",
                )
    except InvalidParameterError as error:
        raise InvalidParameterError(
            error.message, parameter=error.parameter, store_id=store_id, data_id=data_id
        ) from None


# --------------------------------------------------------------------------- preload


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
