"""Openers and writers ``<data_type>:<format>:<protocol>`` for the filesystem formats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameterError
from ..store import DataOpener, DataWriter

if TYPE_CHECKING:
    from ..datatype import DataTypeLike
    from ..schema import JsonObjectSchema

#: The storages of the core's openers and writers, declared as entry points in its
#: pyproject.toml for every format and data type.
PROTOCOLS = ("file", "memory", "s3", "https", "ftp", "abfs")


class FsDataAccessor(DataOpener, DataWriter):
    """Opens (and writes) one format on one filesystem, without a store's listing.

    Takes the store parameters of that filesystem (``root``, ``storage_options``...);
    data ids are paths relative to ``root``. A :class:`~eostores.store.DataOpener` and a
    :class:`~eostores.store.DataWriter`.
    """

    def __init__(self, accessor_id: str, **store_params: Any):
        from ..accessor import parse_accessor_id
        from .stores import fs_store_class

        self.accessor_id = accessor_id
        self._accessor = parse_accessor_id(accessor_id)
        self._store = fs_store_class(self._accessor.storage)(**store_params)

    @classmethod
    def from_accessor_id(cls, accessor_id: str, **store_params: Any) -> FsDataAccessor:
        """The accessor ``accessor_id`` (the registry creates accessors this way)."""
        return cls(accessor_id, **store_params)

    def __repr__(self) -> str:
        return f"FsDataAccessor({self.accessor_id!r}, store={self._store!r})"

    def _check_id(self, given: str | None, parameter: str) -> None:
        if given is not None and given != self.accessor_id:
            raise InvalidParameterError(
                f"this accessor is {self.accessor_id!r}, not {given!r}",
                store_id=self._store.store_id,
                parameter=parameter,
            )

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        self._check_id(opener_id, "opener_id")
        return self._store.get_open_data_params_schema(data_id, opener_id=self.accessor_id)

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        self._check_id(opener_id, "opener_id")
        return self._store.open_data(
            data_id, opener_id=self.accessor_id, data_type=data_type, **open_params
        )

    def get_write_data_params_schema(self, writer_id: str | None = None) -> JsonObjectSchema:
        self._check_id(writer_id, "writer_id")
        return self._store.get_write_data_params_schema(self.accessor_id)

    def write_data(
        self,
        data: Any,
        data_id: str | None = None,
        writer_id: str | None = None,
        replace: bool = False,
        **write_params: Any,
    ) -> str:
        self._check_id(writer_id, "writer_id")
        return self._store.write_data(
            data, data_id, writer_id=self.accessor_id, replace=replace, **write_params
        )

    def get_delete_data_params_schema(self, data_id: str | None = None) -> JsonObjectSchema:
        return self._store.get_delete_data_params_schema(data_id)

    def delete_data(self, data_id: str, **delete_params: Any) -> None:
        self._store.delete_data(data_id, **delete_params)
