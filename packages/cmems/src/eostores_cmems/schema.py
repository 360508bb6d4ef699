"""Schemas of the store parameters and of the open parameters of each dataset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eostores.errors import InvalidParameterError
from eostores.http import http_params_schema
from eostores.schema import (
    JsonArraySchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonStringSchema,
    TimeRange,
    apply_parameter_aliases,
    bbox_schema,
    crs_schema,
    force_cube_schema,
    parse_bbox,
    parse_time_range,
    resolve_variable_names,
    spatial_res_schema,
    time_period_schema,
    time_range_schema,
    variable_names_schema,
)

from .config import (
    DEFAULT_AUTH_URL,
    DEFAULT_CATALOGUE_TTL,
    DEFAULT_CONFIG_URL,
    HTTP_DEFAULTS,
    RETIRED_PARAMETERS,
    STORE_ID,
)

if TYPE_CHECKING:
    from .catalog import DatasetSummary

__all__ = [
    "AUTO",
    "SERVICE_NAMES",
    "OpenRequest",
    "open_params_schema",
    "parse_open_params",
    "static_open_params_schema",
    "store_params_schema",
]

AUTO = "auto"
#: Accepted ``service`` values: the toolbox's names and short names of the ARCO services.
SERVICE_NAMES = {
    "arco-geo-series": "arco-geo-series",
    "geoseries": "arco-geo-series",
    "arco-time-series": "arco-time-series",
    "timeseries": "arco-time-series",
}
ALIASES = {"variables": "variable_names"}


# --------------------------------------------------------------------------- store params


def store_params_schema() -> JsonObjectSchema:
    """The parameters of ``new_data_store("cmems", ...)``."""
    retired = {
        name: JsonStringSchema(
            nullable=True,
            title=f"Retired: {name}",
            description=f"Refused: {advice}.",
        )
        for name, advice in RETIRED_PARAMETERS.items()
    }
    return JsonObjectSchema(
        properties=dict(
            cmems_username=JsonStringSchema(
                nullable=True,
                default=None,
                title="Copernicus Marine user name",
                description="Else COPERNICUSMARINE_SERVICE_USERNAME, CMEMS_USERNAME or the "
                "toolbox's credentials file; needed to open data only.",
            ),
            cmems_password=JsonStringSchema(
                nullable=True,
                default=None,
                title="Copernicus Marine password",
                description="Else COPERNICUSMARINE_SERVICE_PASSWORD, CMEMS_PASSWORD or the "
                "toolbox's credentials file; needed to open data only.",
            ),
            config_url=JsonStringSchema(
                format="uri",
                default=DEFAULT_CONFIG_URL,
                title="Client configuration URL",
                description="The toolbox's client configuration naming the STAC catalogue; "
                "point it at a mirror or an emulator.",
            ),
            auth_url=JsonStringSchema(
                format="uri",
                default=DEFAULT_AUTH_URL,
                title="OpenID Connect URL",
                description="Base of the authentication endpoints: the token is requested "
                "from '<auth_url>/token', the user read from '<auth_url>/userinfo'.",
            ),
            catalogue_ttl=JsonNumberSchema(
                minimum=0,
                default=DEFAULT_CATALOGUE_TTL,
                title="Catalogue cache lifetime (s)",
                description="How long a catalogue walk stays valid in the cache folder; "
                "0 walks again on every call.",
            ),
            cache_dir=JsonStringSchema(
                nullable=True,
                default=None,
                title="Cache folder",
                description="Where the catalogue is cached; default: the eostores cache "
                "folder of the store.",
            ),
            **http_params_schema(**HTTP_DEFAULTS),
            **retired,
        ),
        additional_properties=False,
        title="Copernicus Marine Service store parameters",
    )


# --------------------------------------------------------------------------- open params


def _depth_range_schema(summary: DatasetSummary | None) -> JsonArraySchema:
    description = "[minimum, maximum] depth in metres (positive down), both inclusive."
    if summary is not None and summary.depth_range is not None:
        low, high = summary.depth_range
        description += f" The dataset has depths {low:g} to {high:g} m."
    return JsonArraySchema(
        items=[
            JsonNumberSchema(minimum=0, title="Minimum depth"),
            JsonNumberSchema(minimum=0, title="Maximum depth"),
        ],
        nullable=True,
        default=None,
        title="Depth range",
        description=description,
    )


def _service_schema(summary: DatasetSummary | None) -> JsonStringSchema:
    if summary is None:
        names = [AUTO, *SERVICE_NAMES]
    else:
        names = [AUTO] + [k for k, v in SERVICE_NAMES.items() if v in summary.services]
    return JsonStringSchema(
        enum=names,
        default=AUTO,
        title="ARCO service",
        description="auto: the service that needs the fewest chunks for the request, as the "
        "toolbox chooses. 'arco-geo-series' (STAC asset 'timeChunked') holds maps: one time "
        "step per chunk; 'arco-time-series' (asset 'geoChunked') holds long series over "
        "small areas. The dataset's attribute 'cmems_service' names the one used.",
    )


def open_params_schema(summary: DatasetSummary | None) -> JsonObjectSchema:
    """The open parameters of a dataset (or, without ``summary``, of any dataset)."""
    properties: dict[str, Any] = {}
    if summary is None:
        properties["variable_names"] = variable_names_schema()
    else:
        properties["variable_names"] = variable_names_schema(
            list(summary.variables),
            titles={
                name: info.get("standard_name") or name for name, info in summary.variables.items()
            },
        )
    properties["bbox"] = bbox_schema(
        description="xmin, ymin, xmax, ymax in degrees (longitudes -180..360); the data of "
        "every grid cell centre inside the box, edges included."
    )
    properties["crs"] = crs_schema(enum=["EPSG:4326"])
    native_res = summary.spatial_res if summary is not None else None
    properties["spatial_res"] = (
        spatial_res_schema(
            default=native_res,
            enum=[native_res],
            description="The native grid spacing in degrees; data are not resampled.",
        )
        if native_res
        else spatial_res_schema(
            nullable=True, description="The native grid; data are not resampled."
        )
    )
    time_limits = summary.time_range if summary is not None else None
    properties["time_range"] = time_range_schema(*(time_limits or (None, None)))
    native_period = summary.time_step if summary is not None else None
    properties["time_period"] = (
        time_period_schema(
            enum=[native_period],
            default=native_period,
            description="The native time step; data are not aggregated.",
        )
        if native_period
        else time_period_schema(nullable=True, description="The native time step.")
    )
    if summary is None or summary.depth is not None:
        properties["depth_range"] = _depth_range_schema(summary)
    properties["service"] = _service_schema(summary)
    versions = summary.versions if summary is not None else None
    properties["dataset_version"] = JsonStringSchema(
        enum=versions,
        nullable=True,
        default=None,
        title="Dataset version",
        description="A version label such as 202311; null: the toolbox's default (the "
        "newest released version).",
    )
    parts = sorted({p for ps in summary.parts.values() for p in ps}) if summary else None
    properties["dataset_part"] = JsonStringSchema(
        enum=parts,
        nullable=True,
        default=None,
        title="Dataset part",
        description="A part of the version, such as 'default'; null: the default part.",
    )
    properties["force_cube"] = force_cube_schema()
    return JsonObjectSchema(properties=properties, additional_properties=False)


def static_open_params_schema() -> JsonObjectSchema:
    """The open parameters any dataset may take: checked before anything is requested."""
    return open_params_schema(None)


@dataclass(frozen=True)
class OpenRequest:
    """Validated open parameters."""

    variable_names: list[str] | None
    bbox: tuple[float, float, float, float] | None
    time_range: TimeRange
    depth_range: tuple[float, float] | None
    service: str
    dataset_version: str | None
    dataset_part: str | None
    force_cube: bool

    @property
    def start(self) -> datetime | None:
        return self.time_range.start

    @property
    def end(self) -> datetime | None:
        return self.time_range.end


def check_syntax(open_params: dict[str, Any], data_id: str) -> dict[str, Any]:
    """Names, types and syntax of ``open_params``: no request needed."""
    params = apply_parameter_aliases(open_params, ALIASES)
    validated = static_open_params_schema().validate_params(
        params, store_id=STORE_ID, data_id=data_id
    )
    _parse_common(validated, data_id)
    return params


def _parse_common(validated: dict[str, Any], data_id: str) -> tuple[Any, Any, Any]:
    try:
        bbox = parse_bbox(validated["bbox"]) if validated.get("bbox") is not None else None
        time_range = parse_time_range(validated.get("time_range"))
    except InvalidParameterError as error:
        raise InvalidParameterError(
            error.message, store_id=STORE_ID, data_id=data_id, parameter=error.parameter
        ) from None
    depth = validated.get("depth_range")
    if depth is not None:
        low, high = float(depth[0]), float(depth[1])
        if low > high:
            raise InvalidParameterError(
                f"depth_range = {list(depth)}: the minimum must not exceed the maximum",
                store_id=STORE_ID,
                data_id=data_id,
                parameter="depth_range",
            )
        depth = (low, high)
    return bbox, time_range, depth


def parse_open_params(params: dict[str, Any], summary: DatasetSummary, data_id: str) -> OpenRequest:
    """Validate ``params`` (aliases applied) against the dataset's own schema."""
    validated = open_params_schema(summary).validate_params(
        params, store_id=STORE_ID, data_id=data_id
    )
    bbox, time_range, depth = _parse_common(validated, data_id)
    try:
        names = validated.get("variable_names")
        if names is not None:
            names = resolve_variable_names(names, list(summary.variables))
    except InvalidParameterError as error:
        raise InvalidParameterError(
            error.message, store_id=STORE_ID, data_id=data_id, parameter="variable_names"
        ) from None
    version = validated.get("dataset_version")
    part = validated.get("dataset_part")
    if part is not None:
        version_label = version or summary.default_version
        if part not in summary.parts.get(version_label, []):
            raise InvalidParameterError(
                f"dataset_part = {part!r}: version {version_label} has the parts "
                + ", ".join(summary.parts.get(version_label, [])),
                store_id=STORE_ID,
                data_id=data_id,
                parameter="dataset_part",
            )
    return OpenRequest(
        variable_names=names,
        bbox=bbox,
        time_range=time_range,
        depth_range=depth,
        service=SERVICE_NAMES.get(validated.get("service") or AUTO, AUTO),
        dataset_version=version,
        dataset_part=part,
        force_cube=bool(validated.get("force_cube", False)),
    )
