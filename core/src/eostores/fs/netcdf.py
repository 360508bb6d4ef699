"""NetCDF4/HDF5 datasets, read lazily through h5netcdf on any fsspec filesystem."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .formats import FormatHandler, compute_and_wait, is_local
from .xarray_params import dataset_open_params_schema, xarray_open_kwargs

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..schema import JsonObjectSchema


class NetcdfHandler(FormatHandler):
    format_id = "netcdf"
    data_types = ("dataset",)
    extensions = (".nc", ".nc4", ".netcdf", ".h5", ".hdf5")
    writable_types = ("dataset",)

    def get_open_params_schema(self, data_type: str) -> JsonObjectSchema:
        from ..schema import JsonStringSchema

        return dataset_open_params_schema(
            group=JsonStringSchema(title="Group path inside the file"),
        )

    def open(self, fs: AbstractFileSystem, path: str, data_type: str, params: Mapping) -> Any:
        import xarray as xr

        kwargs = xarray_open_kwargs(params)
        kwargs.setdefault("chunks", {})
        if params.get("group"):
            kwargs["group"] = params["group"]
        source = path if is_local(fs) else fs.open(path, "rb", cache_type="readahead")
        return xr.open_dataset(source, engine="h5netcdf", **kwargs)

    def write(self, data: Any, fs: AbstractFileSystem, path: str, params: Mapping) -> None:
        if is_local(fs):
            compute_and_wait(data.to_netcdf(path, engine="h5netcdf", compute=False))
            return
        handle, local = tempfile.mkstemp(suffix=".nc")
        os.close(handle)
        try:
            compute_and_wait(data.to_netcdf(local, engine="h5netcdf", compute=False))
            fs.put_file(local, path)
        finally:
            os.unlink(local)
