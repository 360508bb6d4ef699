"""The emulated ARCO data: Zarr v2 stores computed on demand, served as S3 objects.

Both services of a dataset version part hold the same values, chunked differently:
``timeChunked`` (one time step per chunk, wide areas) and ``geoChunked`` (long series per
chunk, small areas). Stores are consolidated (``.zmetadata``), little-endian, with
xarray's ``_ARRAY_DIMENSIONS`` convention, as the toolbox opens them; the arrays of a
dataset with a ``compressor`` are compressed with it (numcodecs), the others are not.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from threading import Lock
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from .sampledata import VERTICAL, SampleDataset, expected_value

__all__ = ["ZarrLayout", "list_objects_xml", "s3_error_xml"]

_COORD_ATTRS: dict[str, dict[str, Any]] = {
    "time": {
        "units": "seconds since 1970-01-01 00:00:00",
        "calendar": "gregorian",
        "standard_name": "time",
        "long_name": "Time",
        "axis": "T",
    },
    VERTICAL: {
        "units": "m",
        "positive": "up",
        "standard_name": "elevation",
        "long_name": "Elevation",
        "axis": "Z",
    },
    "latitude": {
        "units": "degrees_north",
        "standard_name": "latitude",
        "long_name": "Latitude",
        "axis": "Y",
    },
    "longitude": {
        "units": "degrees_east",
        "standard_name": "longitude",
        "long_name": "Longitude",
        "axis": "X",
    },
}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=1).encode("utf-8")


class ZarrLayout:
    """The keys and bytes of one ARCO Zarr store, computed on demand."""

    def __init__(self, dataset: SampleDataset, version: str, part: str, asset: str):
        self.dataset = dataset
        self.offset = dataset.offset(version, part)
        self.chunks = dataset.chunks[asset]
        self.compressor: Any = None
        if dataset.compressor is not None:
            import numcodecs

            self.compressor = numcodecs.get_codec(dict(dataset.compressor))
        self.metadata: dict[str, Any] = {
            ".zgroup": {"zarr_format": 2},
            ".zattrs": {
                "title": dataset.title,
                "Conventions": "CF-1.8",
                "product_id": dataset.product_id,
                "dataset_id": dataset.dataset_id,
                "dataset_version": version,
                "dataset_part": part,
            },
        }
        for dim in dataset.dims:
            size = len(dataset.axis(dim))
            self.metadata[f"{dim}/.zarray"] = self._zarray(
                (size,), (size,), "<f8" if dim == "time" else "<f4", None, dataset.compressor
            )
            self.metadata[f"{dim}/.zattrs"] = {"_ARRAY_DIMENSIONS": [dim], **_COORD_ATTRS[dim]}
        chunk_shape = tuple(self.chunks[dim] for dim in dataset.dims)
        for variable in dataset.variables:
            self.metadata[f"{variable.name}/.zarray"] = self._zarray(
                dataset.shape, chunk_shape, "<f4", "NaN", dataset.compressor
            )
            self.metadata[f"{variable.name}/.zattrs"] = {
                "_ARRAY_DIMENSIONS": list(dataset.dims),
                "standard_name": variable.standard_name,
                "long_name": variable.long_name,
                "units": variable.units,
            }
        consolidated = {"zarr_consolidated_format": 1, "metadata": self.metadata}
        self._documents = {key: _dumps(value) for key, value in self.metadata.items()}
        self._documents[".zmetadata"] = _dumps(consolidated)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._lock = Lock()

    @staticmethod
    def _zarray(
        shape: tuple[int, ...],
        chunks: tuple[int, ...],
        dtype: str,
        fill: Any,
        compressor: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return {
            "zarr_format": 2,
            "shape": list(shape),
            "chunks": list(chunks),
            "dtype": dtype,
            "compressor": dict(compressor) if compressor is not None else None,
            "fill_value": fill,
            "order": "C",
            "filters": None,
            "dimension_separator": ".",
        }

    def all_keys(self) -> Iterator[str]:
        """Every key of the store, metadata first, then chunks in order."""
        yield from sorted(self._documents)
        for dim in self.dataset.dims:
            yield f"{dim}/0"
        for variable in self.dataset.variables:
            grid = [
                range(math.ceil(n / self.chunks[d]))
                for d, n in zip(self.dataset.dims, self.dataset.shape, strict=True)
            ]
            for index in np.ndindex(*[len(r) for r in grid]):
                yield f"{variable.name}/" + ".".join(str(i) for i in index)

    def size(self, key: str) -> int:
        """The size in bytes of ``key`` (without computing chunks, unless compressed)."""
        if key in self._documents:
            return len(self._documents[key])
        if self.compressor is not None:
            return len(self.get(key) or b"")
        name = key.rpartition("/")[0]
        if name in self.dataset.dims:
            return len(self.dataset.axis(name)) * (8 if name == "time" else 4)
        return 4 * math.prod(self.chunks[d] for d in self.dataset.dims)

    def get(self, key: str) -> bytes | None:
        """The bytes of ``key``, or None when the store has no such key."""
        if key in self._documents:
            return self._documents[key]
        name, _, index_text = key.rpartition("/")
        if not name or not index_text:
            return None
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        data = self._compute(name, index_text)
        if data is not None and self.compressor is not None:
            data = bytes(self.compressor.encode(data))
        if data is not None:
            with self._lock:
                self._cache[key] = data
                while len(self._cache) > 64:
                    self._cache.popitem(last=False)
        return data

    def _compute(self, name: str, index_text: str) -> bytes | None:
        dataset = self.dataset
        try:
            index = tuple(int(i) for i in index_text.split("."))
        except ValueError:
            return None
        if name in dataset.dims:
            if index != (0,):
                return None
            dtype = "<f8" if name == "time" else "<f4"
            return dataset.axis(name).astype(dtype).tobytes()
        try:
            variable = dataset.variable(name)
        except KeyError:
            return None
        if len(index) != len(dataset.dims):
            return None
        coords = []
        for dim, i, size in zip(dataset.dims, index, dataset.shape, strict=True):
            chunk = self.chunks[dim]
            if i < 0 or i * chunk >= size:
                return None
            values = np.full(chunk, np.nan)
            part = dataset.axis(dim)[i * chunk : (i + 1) * chunk]
            values[: len(part)] = part
            coords.append(values)
        grids = np.meshgrid(*coords, indexing="ij", sparse=True)
        named = dict(zip(dataset.dims, grids, strict=True))
        block = expected_value(
            variable,
            named["time"],
            named["latitude"],
            named["longitude"],
            -named[VERTICAL] if VERTICAL in named else 0.0,
            self.offset,
        )
        block = np.broadcast_to(block, tuple(len(c) for c in coords))
        return np.ascontiguousarray(block, dtype="<f4").tobytes()


def s3_error_xml(code: str, message: str, **fields: str) -> str:
    """An S3 error document."""
    extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>{extra}"
        "<RequestId>emulated</RequestId></Error>"
    )


def list_objects_xml(
    bucket: str,
    prefix: str,
    entries: list[tuple[str, int]],
    *,
    max_keys: int,
    truncated: bool,
    next_token: str | None,
) -> str:
    """A ListObjectsV2 result document."""
    contents = "".join(
        f"<Contents><Key>{escape(key)}</Key><Size>{size}</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for key, size in entries
    )
    token = (
        f"<NextContinuationToken>{escape(next_token)}</NextContinuationToken>" if next_token else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
        f"<KeyCount>{len(entries)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{token}{contents}"
        "</ListBucketResult>"
    )
