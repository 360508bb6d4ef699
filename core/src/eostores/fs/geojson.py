"""GeoJSON feature collections as GeoDataFrames, through pyogrio on any fsspec filesystem."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import DataNotFoundError
from .formats import FormatHandler, is_local
from .vector import describe_vector, read_vector, vector_open_params_schema

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..descriptor import GeoDataFrameDescriptor
    from ..schema import JsonObjectSchema


def _check_exists(fs: AbstractFileSystem, path: str) -> None:
    if not fs.exists(path):
        raise DataNotFoundError(f"no file at {path!r}")


class GeoJsonHandler(FormatHandler):
    format_id = "geojson"
    data_types = ("geodataframe",)
    extensions = (".geojson",)
    writable_types = ("geodataframe",)

    def get_open_params_schema(self, data_type: str) -> JsonObjectSchema:
        return vector_open_params_schema()

    def _source(self, fs: AbstractFileSystem, path: str) -> Any:
        _check_exists(fs, path)
        # GeoJSON cannot be read in parts, so remote files are fetched whole.
        return path if is_local(fs) else fs.cat_file(path)

    def open(self, fs: AbstractFileSystem, path: str, data_type: str, params: Mapping) -> Any:
        return read_vector(self._source(fs, path), params, path)

    def describe(
        self, fs: AbstractFileSystem, path: str, data_id: str, data_type: str
    ) -> GeoDataFrameDescriptor:
        return describe_vector(self._source(fs, path), data_id, path)

    def write(self, data: Any, fs: AbstractFileSystem, path: str, params: Mapping) -> None:
        import pyogrio

        buffer = io.BytesIO()
        layer = posixpath.basename(path.rstrip("/")).rsplit(".", 1)[0].lstrip(".") or "features"
        pyogrio.write_dataframe(data, buffer, driver="GeoJSON", layer=layer)
        fs.pipe_file(path, buffer.getvalue())
