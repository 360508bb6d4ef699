"""eostores: one Python interface to Earth-observation and climate data services.

Names are imported on first use, so that ``import eostores`` and listing the store ids
stay fast and import neither numpy, xarray, dask nor zarr.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__

_EXPORTS: dict[str, str] = {
    # registry
    "new_data_store": "registry",
    "list_data_store_ids": "registry",
    "find_data_store_extensions": "registry",
    "get_data_store_class": "registry",
    "get_data_store_params_schema": "registry",
    "new_data_opener": "registry",
    "new_data_writer": "registry",
    "find_data_opener_extensions": "registry",
    "find_data_writer_extensions": "registry",
    "Extension": "registry",
    "new_fs_data_store": "fs.stores",
    "get_filename_extensions": "fs.stores",
    # store pools
    "DataStoreConfig": "storepool",
    "DataStoreInstance": "storepool",
    "DataStorePool": "storepool",
    "get_data_store_instance": "storepool",
    # protocol
    "DataStore": "store",
    "MutableDataStore": "store",
    "DataOpener": "store",
    "DataWriter": "store",
    "DataDeleter": "store",
    "DataSearcher": "store",
    "DataPreloader": "store",
    # data types, accessors, descriptors
    "DataType": "datatype",
    "DataTypeLike": "datatype",
    "register_data_type": "datatype",
    "AccessorId": "accessor",
    "parse_accessor_id": "accessor",
    "format_accessor_id": "accessor",
    "DataDescriptor": "descriptor",
    "DatasetDescriptor": "descriptor",
    "VariableDescriptor": "descriptor",
    "MultiLevelDatasetDescriptor": "descriptor",
    "GeoDataFrameDescriptor": "descriptor",
    "new_data_descriptor": "descriptor",
    "MultiLevelDataset": "mldataset",
    # parameter schemas
    "UNDEFINED": "schema",
    "JsonArraySchema": "schema",
    "JsonBooleanSchema": "schema",
    "JsonComplexSchema": "schema",
    "JsonDateSchema": "schema",
    "JsonDatetimeSchema": "schema",
    "JsonIntegerSchema": "schema",
    "JsonNullSchema": "schema",
    "JsonNumberSchema": "schema",
    "JsonObject": "schema",
    "JsonObjectSchema": "schema",
    "JsonSchema": "schema",
    "JsonSimpleSchema": "schema",
    "JsonStringSchema": "schema",
    # errors
    "DataStoreError": "errors",
    "DataNotFoundError": "errors",
    "InvalidParameterError": "errors",
    "AuthenticationError": "errors",
    "ServiceError": "errors",
    "QuotaExceededError": "errors",
    "DataStoreTimeoutError": "errors",
    # preload
    "PreloadHandle": "preload",
    "PreloadStatus": "preload",
    "PreloadState": "preload",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eostores' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .accessor import AccessorId, format_accessor_id, parse_accessor_id
    from .datatype import DataType, DataTypeLike, register_data_type
    from .descriptor import (
        DataDescriptor,
        DatasetDescriptor,
        GeoDataFrameDescriptor,
        MultiLevelDatasetDescriptor,
        VariableDescriptor,
        new_data_descriptor,
    )
    from .errors import (
        AuthenticationError,
        DataNotFoundError,
        DataStoreError,
        DataStoreTimeoutError,
        InvalidParameterError,
        QuotaExceededError,
        ServiceError,
    )
    from .fs.stores import get_filename_extensions, new_fs_data_store
    from .mldataset import MultiLevelDataset
    from .preload import PreloadHandle, PreloadState, PreloadStatus
    from .registry import (
        Extension,
        find_data_opener_extensions,
        find_data_store_extensions,
        find_data_writer_extensions,
        get_data_store_class,
        get_data_store_params_schema,
        list_data_store_ids,
        new_data_opener,
        new_data_store,
        new_data_writer,
    )
    from .schema import (
        UNDEFINED,
        JsonArraySchema,
        JsonBooleanSchema,
        JsonComplexSchema,
        JsonDateSchema,
        JsonDatetimeSchema,
        JsonIntegerSchema,
        JsonNullSchema,
        JsonNumberSchema,
        JsonObject,
        JsonObjectSchema,
        JsonSchema,
        JsonSimpleSchema,
        JsonStringSchema,
    )
    from .store import (
        DataDeleter,
        DataOpener,
        DataPreloader,
        DataSearcher,
        DataStore,
        DataWriter,
        MutableDataStore,
    )
    from .storepool import (
        DataStoreConfig,
        DataStoreInstance,
        DataStorePool,
        get_data_store_instance,
    )
