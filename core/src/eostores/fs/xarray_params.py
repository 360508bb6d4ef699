"""The xarray decoding parameters shared by the dataset formats, and the common ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DECODE_FLAGS = ("decode_cf", "mask_and_scale", "decode_times", "decode_coords")


def dataset_open_params_schema(**format_properties: Any) -> Any:
    """The open parameters of a dataset format: common ones, decoding, then its own."""
    from ..schema import (
        JsonArraySchema,
        JsonBooleanSchema,
        JsonComplexSchema,
        JsonIntegerSchema,
        JsonNullSchema,
        JsonObjectSchema,
        JsonStringSchema,
        bbox_schema,
        time_range_schema,
        variable_names_schema,
    )

    chunk_size = JsonComplexSchema(
        any_of=[JsonIntegerSchema(minimum=-1), JsonStringSchema(enum=["auto"]), JsonNullSchema()]
    )
    properties = dict(
        variable_names=variable_names_schema(),
        bbox=bbox_schema(
            crs_units="units",
            description="Subset to this box, in the units of the x/y coordinates.",
        ),
        time_range=time_range_schema(),
        chunks=JsonObjectSchema(
            additional_properties=chunk_size,
            title="Dask chunk sizes per dimension",
            description="An integer, 'auto', or null per dimension; -1 means one chunk. "
            "Default: the chunking of the stored data.",
        ),
        decode_cf=JsonBooleanSchema(default=True, title="Decode CF conventions"),
        mask_and_scale=JsonBooleanSchema(
            default=True,
            title="Replace fill values with NaN and apply scale_factor and add_offset",
        ),
        decode_times=JsonBooleanSchema(default=True, title="Decode times to datetime64"),
        decode_coords=JsonBooleanSchema(
            default=True, title="Decode the 'coordinates' attribute into coordinates"
        ),
        drop_variables=JsonArraySchema(
            items=JsonStringSchema(), unique_items=True, title="Variables to leave out"
        ),
    )
    properties.update(format_properties)
    return JsonObjectSchema(properties=properties, additional_properties=False)


def xarray_open_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``xarray.open_*`` from validated open parameters."""
    kwargs: dict[str, Any] = {k: params[k] for k in _DECODE_FLAGS if k in params}
    if params.get("drop_variables"):
        kwargs["drop_variables"] = list(params["drop_variables"])
    if params.get("chunks") is not None:
        kwargs["chunks"] = dict(params["chunks"])
    return kwargs
