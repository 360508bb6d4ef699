"""ESRI Shapefiles as GeoDataFrames: plain (``.shp`` with its sidecar files) or zipped.

A plain shapefile is several files with one stem: ``.shp`` (geometries), ``.shx``
(index), ``.dbf`` (attributes), ``.prj`` (CRS), ``.cpg`` (text encoding) and optional
spatial indexes. Its data id is the ``.shp`` path; the sidecars travel with it when it is
moved or deleted (``move``, ``delete``). Zipped shapefiles (``.shp.zip`` or ``.shz``, as
GDAL reads and writes them) are single files and the better choice for object stores,
since they are written atomically.

Reading from a non-local filesystem copies the files to a temporary directory first,
since a shapefile cannot be read in parts.

Writing goes through a temporary local directory: a zipped shapefile is then uploaded as
one file; a plain one as its sidecars first and the ``.shp`` last, so that a reader who
sees the ``.shp`` sees complete data. Attribute names are limited to 10 characters by
the format (longer ones are truncated by GDAL) and text is written as UTF-8.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import DataNotFoundError, InvalidParameterError
from .formats import FormatHandler, is_local
from .vector import describe_vector, read_vector, vector_open_params_schema

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..descriptor import GeoDataFrameDescriptor
    from ..schema import JsonObjectSchema

ZIPPED_EXTENSIONS = (".shp.zip", ".shz")
#: Files that belong to a plain shapefile, besides the .shp itself.
SIDECAR_EXTENSIONS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml")


def is_zipped(path: str) -> bool:
    return path.lower().endswith(ZIPPED_EXTENSIONS)


def _stem(path: str) -> tuple[str, bool]:
    """The path without ``.shp`` and whether the extension was upper case."""
    return path[: -len(".shp")], path.endswith(".SHP")


def shapefile_paths(fs: AbstractFileSystem, path: str) -> list[str]:
    """The existing files of the shapefile at ``path``, the ``.shp`` (or zip) last."""
    if is_zipped(path) or not path.lower().endswith(".shp"):
        return [path] if fs.exists(path) else []
    stem, upper = _stem(path)
    found = []
    for extension in SIDECAR_EXTENSIONS:
        candidate = stem + (extension.upper() if upper else extension)
        if fs.exists(candidate):
            found.append(candidate)
    if fs.exists(path):
        found.append(path)
    return found


class ShapefileHandler(FormatHandler):
    format_id = "shapefile"
    data_types = ("geodataframe",)
    extensions = (".shp", *ZIPPED_EXTENSIONS)
    writable_types = ("geodataframe",)

    def get_open_params_schema(self, data_type: str) -> JsonObjectSchema:
        from ..schema import JsonStringSchema

        return vector_open_params_schema(
            encoding=JsonStringSchema(
                title="Text encoding of the attributes",
                description="Default: from the .cpg file, else ISO-8859-1 as GDAL assumes.",
            )
        )

    def open(self, fs: AbstractFileSystem, path: str, data_type: str, params: Mapping) -> Any:
        kwargs = {"encoding": params["encoding"]} if params.get("encoding") else {}
        with _local_copy(fs, path) as local:
            return read_vector(local, params, path, **kwargs)

    def describe(
        self, fs: AbstractFileSystem, path: str, data_id: str, data_type: str
    ) -> GeoDataFrameDescriptor:
        with _local_copy(fs, path) as local:
            return describe_vector(local, data_id, path)

    def write(self, data: Any, fs: AbstractFileSystem, path: str, params: Mapping) -> None:
        import pyogrio

        name = posixpath.basename(path)
        zipped = is_zipped(name)
        if not zipped and not name.lower().endswith(".shp"):
            raise InvalidParameterError(
                f"a shapefile data id ends with .shp, .shp.zip or .shz, got {name!r}",
                parameter="data_id",
            )
        layer = _layer_name(name)
        with tempfile.TemporaryDirectory(prefix="eostores-shp-") as tmp:
            suffix = ".shz" if name.lower().endswith(".shz") else ".shp.zip"
            local = os.path.join(tmp, layer + (suffix if zipped else ".shp"))
            pyogrio.write_dataframe(
                data, local, driver="ESRI Shapefile", layer=layer, encoding="UTF-8"
            )
            if zipped:
                fs.put_file(local, path)
                return
            stem, upper = _stem(path)
            written = sorted(os.listdir(tmp), key=lambda f: f.lower().endswith(".shp"))
            for file_name in written:
                extension = file_name[len(layer) :]
                fs.put_file(
                    os.path.join(tmp, file_name), stem + (extension.upper() if upper else extension)
                )

    def move(self, fs: AbstractFileSystem, source: str, target: str) -> None:
        """Move the shapefile at ``source`` with its sidecars to ``target`` (a .shp path)."""
        files = shapefile_paths(fs, source)
        if not files:
            raise DataNotFoundError(f"no shapefile at {source!r}")
        if is_zipped(source):
            fs.mv(source, target)
            return
        source_stem, target_stem = source[: -len(".shp")], target[: -len(".shp")]
        for file_path in files:
            fs.mv(file_path, target_stem + file_path[len(source_stem) :])

    def delete(self, fs: AbstractFileSystem, path: str) -> None:
        """Delete the shapefile at ``path`` with its sidecars."""
        files = shapefile_paths(fs, path)
        if not files:
            raise DataNotFoundError(f"no shapefile at {path!r}")
        for file_path in reversed(files):  # the .shp first: readers stop seeing it
            fs.rm_file(file_path)


def _layer_name(file_name: str) -> str:
    lower = file_name.lower()
    for extension in (*ZIPPED_EXTENSIONS, ".shp"):
        if lower.endswith(extension):
            file_name = file_name[: -len(extension)]
            break
    return file_name.lstrip(".") or "features"


@contextmanager
def _local_copy(fs: AbstractFileSystem, path: str) -> Iterator[str]:
    """A local path for the shapefile at ``path``: itself, or a copy in a temporary dir."""
    files = shapefile_paths(fs, path)
    if not files or files[-1] != path:
        raise DataNotFoundError(f"no shapefile at {path!r}")
    if is_local(fs):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="eostores-shp-") as tmp:
        for file_path in files:
            fs.get_file(file_path, os.path.join(tmp, posixpath.basename(file_path)))
        yield os.path.join(tmp, posixpath.basename(path))
