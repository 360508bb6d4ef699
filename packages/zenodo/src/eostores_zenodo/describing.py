"""Describing record files from the record's metadata and, where cheap, the file's header.

Lazily readable files (NetCDF4/HDF5, zipped Zarr, GeoTIFF) are opened over HTTP ranges,
which reads their header and 1-D coordinates only. Zip archives have their central
directory read. Feature collections and tar archives are described from the record
alone: reading them would mean downloading them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog import FileFormat, RecordFile
from .opening import inspect_zip, open_dataset

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor

    from .store import ZenodoDataStore

__all__ = ["describe_file"]

_MAX_LISTED_MEMBERS = 200


def _file_attrs(store: ZenodoDataStore, file: RecordFile, fmt: FileFormat) -> dict[str, Any]:
    return {
        **store.record.attrs(),
        "file_key": file.key,
        "file_size": file.size,
        "checksum": file.checksum,
        "format": fmt.format_id,
        "download_url": file.url,
        "lazy": fmt.lazy,
        "preload_required": fmt.archive,
    }


def describe_file(
    store: ZenodoDataStore, file: RecordFile, fmt: FileFormat, data_type: str
) -> DataDescriptor:
    """The descriptor of ``file`` as ``data_type``."""
    from eostores.descriptor import (
        DatasetDescriptor,
        GeoDataFrameDescriptor,
        new_data_descriptor,
    )

    from .schema import open_params_schema

    schema = open_params_schema(fmt, data_type)
    attrs = _file_attrs(store, file, fmt)
    if data_type == "geodataframe":
        return GeoDataFrameDescriptor(data_id=file.key, open_params_schema=schema)
    contents = None
    if fmt.format_id == "zip":
        contents = inspect_zip(store.file_system, file.key)
        attrs["archive_members"] = list(contents.names[:_MAX_LISTED_MEMBERS])
        if contents.zarr_root is not None:
            attrs.update(lazy=True, preload_required=False)
    if fmt.archive and (contents is None or contents.zarr_root is None):
        return DatasetDescriptor(data_id=file.key, attrs=attrs, open_params_schema=schema)
    data = open_dataset(store.file_system, file, fmt, data_type, {}, zip_contents=contents)
    try:
        descriptor = new_data_descriptor(file.key, data)
    finally:
        close = getattr(data, "close", None)
        if close is not None:
            close()
    descriptor.attrs = {**attrs, **(descriptor.attrs or {})}
    descriptor.open_params_schema = schema
    return descriptor
