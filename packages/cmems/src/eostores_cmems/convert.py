"""ARCO Zarr content -> the dataset a user asked for.

Subsetting is the toolbox's own (``copernicusmarine``'s ``subset_xarray.subset``), so that
the values and coordinates are those ``copernicusmarine.open_dataset`` returns for the same
request. What follows is eostores': an empty variable list keeps only the coordinates,
the attributes say which version, part and service the data came from, and
``force_cube`` lays the dataset out by the cube convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eostores.errors import DataStoreError, ServiceError

from .config import STORE_ID

if TYPE_CHECKING:
    import xarray

__all__ = ["subset", "to_cube", "with_attrs"]

_CUBE_NAMES = {"latitude": "lat", "longitude": "lon"}
_CUBE_ORDER = ("time", "depth", "lat", "lon")


def subset(dataset: xarray.Dataset, arguments: Mapping[str, Any]) -> xarray.Dataset:
    """Cut ``dataset`` with the toolbox's subsetting (variables, box, time, depth)."""
    from copernicusmarine.download_functions.subset_xarray import subset as toolbox_subset

    for variable in dataset.variables.values():
        variable.encoding.pop("chunks", None)
    try:
        return toolbox_subset(dataset=dataset, **arguments)
    except DataStoreError:
        raise
    except Exception as error:
        raise ServiceError(
            f"the data of the service do not match its catalogue: {type(error).__name__}: {error}",
            store_id=STORE_ID,
        ) from error


def with_attrs(
    dataset: xarray.Dataset, variable_names: list[str] | None, attrs: Mapping[str, Any]
) -> xarray.Dataset:
    """Keep only ``variable_names`` ([] keeps none, None all) and add ``attrs``."""
    if variable_names is not None and not variable_names:
        dataset = dataset.drop_vars(list(dataset.data_vars))
    dataset.attrs.update(attrs)
    return dataset


def to_cube(dataset: xarray.Dataset) -> xarray.Dataset:
    """``lat``/``lon`` names, ascending coordinates, dimensions ordered time, depth, lat, lon."""
    dataset = dataset.rename({k: v for k, v in _CUBE_NAMES.items() if k in dataset.dims})
    for name in ("lat", "lon", "time"):
        if name in dataset.dims and dataset.sizes[name] > 1:
            values = dataset[name].values
            if values[0] > values[-1]:
                dataset = dataset.isel({name: slice(None, None, -1)})
    order = [d for d in _CUBE_ORDER if d in dataset.dims]
    order += [d for d in dataset.dims if d not in order]
    dataset = dataset.transpose(*order)
    if "lat" in dataset.coords and "lon" in dataset.coords:
        dataset.attrs.setdefault("geospatial_lat_min", float(dataset["lat"].min()))
        dataset.attrs.setdefault("geospatial_lat_max", float(dataset["lat"].max()))
        dataset.attrs.setdefault("geospatial_lon_min", float(dataset["lon"].min()))
        dataset.attrs.setdefault("geospatial_lon_max", float(dataset["lon"].max()))
    return dataset
