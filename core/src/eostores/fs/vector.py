"""What the vector formats (GeoJSON, shapefile) share, through pyogrio.

Their open parameters (``columns``, ``bbox``, ``crs``), reading a GeoDataFrame with them,
and describing a file from its metadata alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import DataStoreError, InvalidParameterError

if TYPE_CHECKING:
    from ..descriptor import GeoDataFrameDescriptor
    from ..schema import JsonObjectSchema, JsonSchema


def vector_open_params_schema(**format_properties: JsonSchema) -> JsonObjectSchema:
    """The open parameters of a vector format: ``columns``, ``bbox``, ``crs``, then its own."""
    from ..schema import JsonArraySchema, JsonObjectSchema, JsonStringSchema, bbox_schema

    properties: dict[str, JsonSchema] = dict(
        columns=JsonArraySchema(
            items=JsonStringSchema(),
            unique_items=True,
            nullable=True,
            default=None,
            title="Feature properties to include",
            description="null (the default) means all; an empty list means geometries only.",
        ),
        bbox=bbox_schema(
            crs_units="units",
            description="xmin, ymin, xmax, ymax: keep the features that intersect this box, "
            "given in crs if that is set, else in the CRS of the data.",
        ),
        crs=JsonStringSchema(
            title="Reproject the geometries to this CRS",
            description="Any form pyproj understands, e.g. 'EPSG:4326'. Default: the CRS of "
            "the data.",
        ),
    )
    properties.update(format_properties)
    return JsonObjectSchema(properties=properties, additional_properties=False)


def _library_error(error: Exception, path: str) -> DataStoreError:
    return DataStoreError(f"cannot read {path!r}: {error}")


def _parse_crs(value: str) -> Any:
    import pyproj

    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as error:
        raise InvalidParameterError(
            f"crs {value!r} is not a known coordinate reference system: {error}",
            parameter="crs",
        ) from None


def read_vector(source: Any, params: Mapping, path: str, **read_kwargs: Any) -> Any:
    """Read a GeoDataFrame from a pyogrio source with validated ``columns``/``bbox``/``crs``."""
    import pyogrio
    import shapely

    from ..schema import parse_bbox

    try:
        info = pyogrio.read_info(source, **read_kwargs)
        columns = params.get("columns")
        if columns is not None:
            fields = [str(f) for f in info["fields"]]
            unknown = [c for c in columns if c not in fields]
            if unknown:
                raise InvalidParameterError(
                    f"unknown column(s) {', '.join(map(repr, unknown))}; allowed: "
                    f"{', '.join(fields) or 'none'}",
                    parameter="columns",
                )
            columns = list(columns)
        target_crs = _parse_crs(params["crs"]) if params.get("crs") else None
        bbox = parse_bbox(params["bbox"], geographic=False) if params.get("bbox") else None
        read_bbox = bbox
        if bbox is not None and target_crs is not None and info["crs"]:
            read_bbox = _transform_bounds(bbox, target_crs, info["crs"])
        gdf = pyogrio.read_dataframe(source, columns=columns, bbox=read_bbox, **read_kwargs)
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
    ) as error:
        raise _library_error(error, path) from error
    if target_crs is not None:
        if gdf.crs is None:
            raise InvalidParameterError(
                "the data has no CRS, so it cannot be reprojected", parameter="crs"
            )
        gdf = gdf.to_crs(target_crs)
    if bbox is not None:
        # The reader filters by envelopes only; keep what really intersects the box.
        gdf = gdf[gdf.intersects(shapely.box(*bbox))]
    return gdf


def _transform_bounds(bbox: tuple[float, float, float, float], source: Any, target: Any) -> Any:
    import pyproj

    transformer = pyproj.Transformer.from_crs(
        source, pyproj.CRS.from_user_input(target), always_xy=True
    )
    return transformer.transform_bounds(*bbox, densify_pts=21)


def describe_vector(
    source: Any, data_id: str, path: str, **read_kwargs: Any
) -> GeoDataFrameDescriptor:
    """Describe a vector file from its metadata (feature count, bounds, CRS, fields)."""
    import numpy as np
    import pyogrio

    from .._describe import feature_property_schema
    from ..descriptor import GeoDataFrameDescriptor
    from ..schema import JsonObjectSchema, JsonStringSchema

    try:
        info = pyogrio.read_info(
            source, force_feature_count=True, force_total_bounds=True, **read_kwargs
        )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise _library_error(error, path) from error
    properties: dict[str, Any] = {}
    for name, dtype in zip(info["fields"], info["dtypes"], strict=True):
        kind = np.dtype(dtype).kind
        properties[str(name)] = (
            JsonStringSchema(format="date-time", nullable=True)
            if kind == "M"
            else feature_property_schema(kind)
        )
    count = info.get("features")
    bounds = info.get("total_bounds")
    bbox = None
    if count and bounds is not None and all(np.isfinite(bounds)):
        bbox = tuple(float(v) for v in bounds)
    return GeoDataFrameDescriptor(
        data_id=data_id,
        crs=_crs_name(info.get("crs")),
        bbox=bbox,
        num_features=int(count) if count is not None and count >= 0 else None,
        feature_schema=JsonObjectSchema(properties=properties),
    )


def _crs_name(crs: str | None) -> str | None:
    if not crs:
        return None
    import pyproj

    from .._describe import crs_code

    try:
        return crs_code(pyproj.CRS.from_user_input(crs))
    except pyproj.exceptions.CRSError:
        return str(crs)
