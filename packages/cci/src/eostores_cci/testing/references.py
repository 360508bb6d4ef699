"""Kerchunk references (version 1) to NetCDF4 files, as the Open Data Portal publishes them.

A reference set covers several files of a dataset: every chunk of a data variable is a
``[url, offset, length]`` byte range of the file holding it, found with h5py's chunk
index; coordinates come from the first file and the time axis is inline. Compressed
variables carry their HDF5 filters as kerchunk writes them: ``filters`` shuffle then zlib,
``compressor`` null.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import SampleDataset, SampleFile

__all__ = ["dataset_references"]


def _zarray(
    shape: Sequence[int],
    chunks: Sequence[int],
    dtype: np.dtype,
    fill: Any,
    filters: list[dict[str, Any]] | None = None,
) -> str:
    if fill is not None:
        fill = fill.item() if hasattr(fill, "item") else fill
        if isinstance(fill, float) and fill != fill:
            fill = "NaN"
    return json.dumps(
        {
            "zarr_format": 2,
            "shape": list(shape),
            "chunks": list(chunks),
            "dtype": np.dtype(dtype).str,
            "fill_value": fill,
            "compressor": None,
            "filters": filters,
            "order": "C",
        }
    )


def _attrs(attrs: dict[str, Any], dims: Sequence[str]) -> str:
    skip = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_FillValue"}
    clean = {"_ARRAY_DIMENSIONS": list(dims)}
    for key, value in attrs.items():
        if key in skip or key.startswith("_Netcdf4"):
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        clean[key] = value.item() if hasattr(value, "item") and np.ndim(value) == 0 else value
        if isinstance(clean[key], np.ndarray):
            clean[key] = clean[key].tolist()
    return json.dumps(clean)


def _codecs(variable: Any) -> list[dict[str, Any]] | None:
    """The numcodecs filters of an h5py dataset's shuffle and deflate filters."""
    filters: list[dict[str, Any]] = []
    if variable.shuffle:
        filters.append({"id": "shuffle", "elementsize": variable.dtype.itemsize})
    if variable.compression == "gzip":
        filters.append({"id": "zlib", "level": int(variable.compression_opts)})
    elif variable.compression is not None:
        raise ValueError(f"{variable.name}: no codec for {variable.compression!r}")
    return filters or None


def dataset_references(
    dataset: SampleDataset,
    samples: Sequence[SampleFile],
    path_of: Callable[[SampleFile], Path],
    url_of: Callable[[SampleFile], str],
) -> dict[str, Any]:
    """The references of ``samples`` (in time order) of ``dataset``.

    ``path_of`` gives the local NetCDF file of a sample (written on demand), ``url_of``
    the URL the references name for it.
    """
    import h5py

    first = samples[0]
    refs: dict[str, Any] = {".zgroup": json.dumps({"zarr_format": 2})}
    west, south, east, north = dataset.bbox
    refs[".zattrs"] = json.dumps(
        {
            "title": dataset.title,
            "institution": dataset.institute,
            "Conventions": "CF-1.7",
            "time_coverage_start": f"{first.start:%Y%m%dT%H%M%SZ}",
            "time_coverage_end": f"{samples[-1].end:%Y%m%dT%H%M%SZ}",
            "geospatial_lon_min": west,
            "geospatial_lon_max": east,
            "geospatial_lat_min": south,
            "geospatial_lat_max": north,
        }
    )
    days = [
        (np.datetime64(s.midpoint, "s") - np.datetime64("1970-01-01", "s")) / np.timedelta64(1, "D")
        for s in samples
    ]
    time = np.asarray(days, dtype="<f8")
    refs["time/.zarray"] = _zarray([len(samples)], [len(samples)], time.dtype, None)
    refs["time/.zattrs"] = json.dumps(
        {
            "_ARRAY_DIMENSIONS": ["time"],
            "units": "days since 1970-01-01 00:00:00",
            "standard_name": "time",
        }
    )
    refs["time/0"] = "base64:" + base64.b64encode(time.tobytes()).decode("ascii")
    with h5py.File(path_of(first), "r") as h5:
        for name in ("lat", "lon"):
            variable = h5[name]
            refs[f"{name}/.zarray"] = _zarray(variable.shape, variable.shape, variable.dtype, None)
            refs[f"{name}/.zattrs"] = _attrs(dict(variable.attrs), [name])
            refs[f"{name}/0"] = [
                url_of(first),
                int(variable.id.get_offset()),
                int(variable.id.get_storage_size()),
            ]
        layouts = {}
        for spec in dataset.variables:
            variable = h5[spec.name]
            shape = (len(samples), *variable.shape[1:])
            refs[f"{spec.name}/.zarray"] = _zarray(
                shape, variable.chunks, variable.dtype, variable.fillvalue, _codecs(variable)
            )
            refs[f"{spec.name}/.zattrs"] = _attrs(dict(variable.attrs), ["time", "lat", "lon"])
            layouts[spec.name] = (variable.shape, variable.chunks)
    for t, sample in enumerate(samples):
        url = url_of(sample)
        with h5py.File(path_of(sample), "r") as h5:
            for name, (shape, chunks) in layouts.items():
                variable = h5[name]
                for i in range(-(-shape[1] // chunks[1])):
                    for j in range(-(-shape[2] // chunks[2])):
                        info = variable.id.get_chunk_info_by_coord(
                            (0, i * chunks[1], j * chunks[2])
                        )
                        refs[f"{name}/{t}.{i}.{j}"] = [url, int(info.byte_offset), int(info.size)]
    return {"version": 1, "refs": refs}
