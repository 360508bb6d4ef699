"""Parameter schemas: the store's own, ``open_data``'s per data id, and shot features."""

from __future__ import annotations

import re
from collections.abc import Sequence

from eostores.schema import (
    JsonArraySchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonSchema,
    JsonStringSchema,
    bbox_schema,
    crs_schema,
    time_range_schema,
    variable_names_schema,
)

from .config import (
    DEFAULT_BUCKET,
    DEFAULT_CMR_URL,
    DEFAULT_ENDPOINT_URL,
    DEFAULT_REGION,
    HTTP_DEFAULTS,
    LEVEL_TITLES,
)
from .variables import ArrayInfo, VariableInfo

__all__ = [
    "CONDITION_PATTERN",
    "feature_schema",
    "open_params_schema",
    "store_params_schema",
]

_URL_PATTERN = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
_BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_VALUE = r"(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|'[A-Za-z0-9_ .-]*')"
_COMPARISON = rf"(?:==|!=|>=|<=|>|<)\s*{_VALUE}"
#: A quality filter condition: comparisons with numbers or quoted words, joined by ``and``.
CONDITION_PATTERN = rf"^\s*{_COMPARISON}(?:\s+[aA][nN][dD]\s+{_COMPARISON})*\s*$"
CONDITION_RE = re.compile(CONDITION_PATTERN)

_OPENING = (
    "The shots of a query are only known once it has run, so opening runs it (one TileDB "
    "query through gedidb: the array's tiles that intersect the area and the days, for the "
    "selected variables); the result's variables are dask arrays over the values read (in "
    "chunks of chunk_size shots, if given). Give either bbox (all shots inside) or point (the "
    "num_shots shots nearest to it within radius degrees)."
)


def store_params_schema() -> JsonObjectSchema:
    """The store parameters: S3 endpoint and bucket, CMR, the core's HTTP ones, cache."""
    from eostores.http import http_params_schema

    properties: dict[str, JsonSchema] = dict(
        endpoint_url=JsonStringSchema(
            pattern=_URL_PATTERN,
            default=DEFAULT_ENDPOINT_URL,
            title="S3 endpoint URL",
            description="The S3-compatible object store holding the gedidb array; http:// "
            "and https:// are honoured as given.",
        ),
        bucket=JsonStringSchema(
            pattern=_BUCKET_PATTERN,
            default=DEFAULT_BUCKET,
            title="Bucket",
            description="The public bucket whose array_uri is the gedidb TileDB array; "
            "read without credentials.",
        ),
        region=JsonStringSchema(
            pattern=r"^[a-z0-9-]{1,32}$", default=DEFAULT_REGION, title="S3 region"
        ),
        cmr_url=JsonStringSchema(
            pattern=_URL_PATTERN,
            default=DEFAULT_CMR_URL,
            title="CMR search API URL",
            description="NASA's Common Metadata Repository search API, for the time extent "
            "and footprint of each product level.",
        ),
    )
    properties.update(http_params_schema(**HTTP_DEFAULTS))
    properties.update(
        cache_dir=JsonStringSchema(
            nullable=True,
            default=None,
            title="Cache directory",
            description="Where collection records are kept, shareable by any number of "
            "threads and processes. Default: $EOSTORES_CACHE_DIR/gedidb, else eostores/gedidb "
            "in the user cache folder.",
        ),
        metadata_ttl=JsonNumberSchema(
            exclusive_minimum=0,
            default=86400.0,
            title="Collection record lifetime, s",
            description="A cached CMR record is fetched again after this time.",
        ),
    )
    return JsonObjectSchema(properties=properties, additional_properties=False)


def open_params_schema(data_id: str, info: ArrayInfo | None = None) -> JsonObjectSchema:
    """The open parameters of a data id; without ``info`` the variables are not enumerated
    (the schema that checks everything that needs no request)."""
    variables = quality = None
    if info is not None:
        names = info.names(data_id)
        titles = {n: _title(info.variables[n]) for n in names}
        variables = variable_names_schema(
            names,
            titles=titles,
            description="The variables to read (also accepted as 'variables'). null (the "
            "default) means all variables of the level; an empty list none, keeping the "
            "shots' coordinates.",
        )
        scalar = info.scalar_names()
        quality = JsonObjectSchema(
            properties={name: _condition(titles.get(name, name)) for name in scalar},
            additional_properties=False,
            nullable=True,
            default=None,
            title="Quality filters",
            description=_FILTERS,
        )
        first, last = (d.isoformat() for d in info.domain.dates())
        time_note = f" The database holds the days {first} to {last}; outside them no shots."
    else:
        time_note = ""
    properties: dict[str, JsonSchema] = dict(
        variable_names=variables or variable_names_schema(),
        bbox=bbox_schema(
            items=[
                JsonNumberSchema(title="xmin", minimum=-180, maximum=180),
                JsonNumberSchema(title="ymin", minimum=-90, maximum=90),
                JsonNumberSchema(title="xmax", minimum=-180, maximum=180),
                JsonNumberSchema(title="ymax", minimum=-90, maximum=90),
            ],
            nullable=True,
            default=None,
            description="xmin, ymin, xmax, ymax in degrees (longitudes -180..180): all shots "
            "inside, edges included. Give bbox or point.",
        ),
        point=JsonArraySchema(
            items=[
                JsonNumberSchema(title="longitude", minimum=-180, maximum=180),
                JsonNumberSchema(title="latitude", minimum=-90, maximum=90),
            ],
            nullable=True,
            default=None,
            title="Reference point",
            description="longitude, latitude in degrees: the shots nearest to it. Give point "
            "or bbox.",
        ),
        num_shots=JsonIntegerSchema(
            minimum=1,
            maximum=1_000_000,
            default=10,
            title="Number of shots",
            description="With point: the number of nearest shots.",
        ),
        radius=JsonNumberSchema(
            exclusive_minimum=0,
            maximum=10,
            default=0.1,
            title="Search radius, degrees",
            description="With point: only shots within point +- radius (a square) are considered.",
        ),
        time_range=time_range_schema(
            required=True,
            description="[start, end] as dates (the database stores the day of each shot); "
            "an end date covers that whole day." + time_note,
        ),
        crs=crs_schema(enum=["EPSG:4326"]),
        quality_filters=quality
        or JsonObjectSchema(
            additional_properties=_condition("condition"),
            nullable=True,
            default=None,
            title="Quality filters",
            description=_FILTERS,
        ),
        chunk_size=JsonIntegerSchema(
            minimum=1,
            nullable=True,
            default=None,
            title="Shots per chunk",
            description="Chunk size of the result's dask arrays along shot_number; null "
            "(the default): one chunk, since the values are in memory already.",
        ),
    )
    return JsonObjectSchema(
        properties=properties,
        required=["time_range"],
        additional_properties=False,
        title=LEVEL_TITLES.get(data_id, "GEDI L2A, L2B, L4A and L4C shots"),
        description=_OPENING,
    )


_FILTERS = (
    "Conditions on scalar variables that a shot must meet, applied by TileDB while reading: "
    "{variable: condition}, a condition being comparisons (==, !=, >=, <=, >, <) with a "
    'number or a quoted word joined by \'and\', e.g. {"sensitivity": ">= 0.9 and <= 1.0", '
    '"beam_type": "== \'full\'"}. The variables need not be among those read.'
)


def _condition(title: str) -> JsonStringSchema:
    return JsonStringSchema(pattern=CONDITION_PATTERN, title=title)


def _title(variable: VariableInfo) -> str:
    text = variable.description or variable.name
    return f"{text} [{variable.units}]" if variable.units else text


def feature_schema(variables: Sequence[VariableInfo]) -> JsonObjectSchema:
    """The properties of a shot in the GeoDataFrame: shot number, day, the variables
    (profiles as one column per label, ``<variable>_p<label>``)."""
    properties: dict[str, JsonSchema] = dict(
        shot_number=JsonIntegerSchema(minimum=0, title="GEDI shot number"),
        time=JsonStringSchema(title="Day of the shot (UTC)"),
    )
    for variable in variables:
        columns = (
            [f"{variable.name}_p{label}" for label in variable.profile.labels]
            if variable.profile
            else [variable.name]
        )
        for column in columns:
            properties[column] = _json_type(variable.dtype, _title(variable))
    return JsonObjectSchema(properties=properties, additional_properties=False)


def _json_type(dtype: str, title: str) -> JsonSchema:
    if dtype == "object" or dtype.startswith("<U"):
        return JsonStringSchema(title=title)
    if dtype.startswith(("int", "uint")):
        return JsonIntegerSchema(title=title)
    return JsonNumberSchema(title=title)
