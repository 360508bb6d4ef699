"""An OPeNDAP (DAP2) server over NetCDF files, built on pydap's own server handler.

Variables with coordinate variables are served as grids (as THREDDS does), with the
file's chunk sizes in the ``_ChunkSizes`` attribute. pydap answers ``.dds``, ``.das`` and
``.dods`` requests, hyperslabs ``[start:step:stop]`` with inclusive stops, in XDR.

DAP2 has no signed 8-bit type. THREDDS serves a NetCDF ``byte`` variable as ``Byte`` (the
same bits, read as unsigned) with the attribute ``_Unsigned "false"``, and its byte
attributes as ``Int16`` when one of their values is negative; pydap's and Hyrax's servers
upcast the variable to ``Int16`` instead. ``signed_bytes`` chooses: "thredds" or "int16".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SIGNED_BYTES", "dap_response"]

_KINDS = ("dds", "das", "dods")
SIGNED_BYTES = ("thredds", "int16")
#: Files kept open (their pydap datasets), as a data server keeps recently used files.
_OPEN_FILES = 64
_datasets: OrderedDict[tuple[str, int, str], Any] = OrderedDict()
_datasets_lock = threading.Lock()


def _cached_dataset(path: Path, signed_bytes: str) -> Any:
    key = (str(path), path.stat().st_mtime_ns, signed_bytes)
    with _datasets_lock:
        dataset = _datasets.get(key)
        if dataset is not None:
            _datasets.move_to_end(key)
            return dataset
    dataset = _dataset(path, signed_bytes)
    with _datasets_lock:
        _datasets[key] = dataset
        while len(_datasets) > _OPEN_FILES:
            _datasets.popitem(last=False)
    return dataset


def _dataset(path: Path, signed_bytes: str):
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
            if values.dtype == np.int8:
                values, attrs = _signed_bytes(values, attrs, signed_bytes)
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


def _signed_bytes(values: np.ndarray, attrs: dict, style: str) -> tuple[np.ndarray, dict]:
    """An int8 variable as the server serves it: THREDDS' ``Byte`` or an ``Int16``."""
    if style == "int16":
        return values.astype("int16"), {k: _int16(v) for k, v in attrs.items()}
    served = {"_Unsigned": "false"}
    for key, value in attrs.items():
        if key == "_Unsigned":
            continue
        if _is_int8(value):
            value = _int16(value) if np.any(np.asarray(value) < 0) else value.astype("uint8")
        served[key] = value
    return values.view("uint8"), served


def _is_int8(value: Any) -> bool:
    return isinstance(value, np.ndarray | np.generic) and value.dtype == np.int8


def _int16(value: Any) -> Any:
    return value.astype("int16") if _is_int8(value) else value


def dap_response(
    path: Path, kind: str, query: str, signed_bytes: str = "thredds"
) -> tuple[int, bytes, str]:
    """(status, body, content type) of the DAP2 answer ``kind`` for the file at ``path``;
    ``signed_bytes`` (one of SIGNED_BYTES) says how int8 variables are served."""
    from pydap.handlers.lib import BaseHandler
    from webob import Request

    if kind not in _KINDS:
        return 400, f"Unsupported DAP response {kind!r}".encode(), "text/plain"
    handler = BaseHandler(_cached_dataset(path, signed_bytes))
    request = Request.blank(f"/{path.name}.{kind}" + (f"?{query}" if query else ""))
    request.environ["x-wsgiorg.throw_errors"] = False
    response = request.get_response(handler)
    return response.status_code, response.body, response.content_type or "text/plain"
