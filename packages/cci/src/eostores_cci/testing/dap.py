"""An OPeNDAP (DAP2) server over NetCDF files, built on pydap's own server handler.

Variables with coordinate variables are served as grids (as THREDDS does), with the
file's chunk sizes in the ``_ChunkSizes`` attribute. pydap answers ``.dds``, ``.das`` and
``.dods`` requests, hyperslabs ``[start:step:stop]`` with inclusive stops, in XDR.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dap_response"]

_KINDS = ("dds", "das", "dods")
#: Files kept open (their pydap datasets), as a data server keeps recently used files.
_OPEN_FILES = 64
_datasets: OrderedDict[tuple[str, int], Any] = OrderedDict()
_datasets_lock = threading.Lock()


def _cached_dataset(path: Path) -> Any:
    key = (str(path), path.stat().st_mtime_ns)
    with _datasets_lock:
        dataset = _datasets.get(key)
        if dataset is not None:
            _datasets.move_to_end(key)
            return dataset
    dataset = _dataset(path)
    with _datasets_lock:
        _datasets[key] = dataset
        while len(_datasets) > _OPEN_FILES:
            _datasets.popitem(last=False)
    return dataset


def _dataset(path: Path):
    """The pydap dataset of a NetCDF file, its arrays read into memory."""
    import h5netcdf
    from pydap.model import BaseType, DatasetType, GridType

    with h5netcdf.File(path, "r") as nc:
        dataset = DatasetType(path.name, attributes={"NC_GLOBAL": dict(nc.attrs)})
        coordinates = {}
        for name, variable in nc.variables.items():
            if variable.dimensions == (name,):
                coordinates[name] = (np.asarray(variable[...]), dict(variable.attrs))
        for name, (values, attrs) in coordinates.items():
            dataset[name] = BaseType(name, values, dimensions=(name,), attributes=_clean(attrs))
        for name, variable in nc.variables.items():
            if name in coordinates:
                continue
            attrs = _clean(dict(variable.attrs))
            chunks = variable.chunks
            if chunks:
                attrs["_ChunkSizes"] = [int(c) for c in chunks]
            values = np.asarray(variable[...])
            dims = tuple(variable.dimensions)
            if dims and all(d in coordinates for d in dims):
                grid = GridType(name, attributes=attrs)
                grid[name] = BaseType(name, values, dimensions=dims, attributes=attrs)
                for dim in dims:
                    grid[dim] = BaseType(dim, coordinates[dim][0], dimensions=(dim,))
                dataset[name] = grid
            else:
                dataset[name] = BaseType(name, values, dimensions=dims, attributes=attrs)
    return dataset


def _clean(attrs: dict) -> dict:
    """Attributes as DAP2 can carry them (no HDF5 bookkeeping)."""
    skip = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid"}
    result = {}
    for key, value in attrs.items():
        if key in skip or key.startswith("_Netcdf4"):
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        result[key] = value
    return result


def dap_response(path: Path, kind: str, query: str) -> tuple[int, bytes, str]:
    """(status, body, content type) of the DAP2 answer ``kind`` for the file at ``path``."""
    from pydap.handlers.lib import BaseHandler
    from webob import Request

    if kind not in _KINDS:
        return 400, f"Unsupported DAP response {kind!r}".encode(), "text/plain"
    handler = BaseHandler(_cached_dataset(path))
    request = Request.blank(f"/{path.name}.{kind}" + (f"?{query}" if query else ""))
    request.environ["x-wsgiorg.throw_errors"] = False
    response = request.get_response(handler)
    return response.status_code, response.body, response.content_type or "text/plain"
