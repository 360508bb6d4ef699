"""The data store protocol: the roles a store plays and the DataStore base classes."""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .credentials import is_secret_name
from .datatype import DataType, DataTypeLike
from .errors import DataNotFoundError, InvalidParameterError

if TYPE_CHECKING:
    from .descriptor import DataDescriptor
    from .preload import PreloadHandle
    from .schema import JsonObjectSchema

__all__ = [
    "DataDeleter",
    "DataOpener",
    "DataPreloader",
    "DataSearcher",
    "DataStore",
    "DataWriter",
    "MutableDataStore",
]


#: Whether a parameter name holds a secret; one test for the whole core.
is_secret_parameter = is_secret_name


def shown_parameter(name: str, value: Any) -> str:
    """``repr(value)`` with secrets replaced by ``***``, also inside nested dicts."""
    if value is not None and is_secret_parameter(name):
        return "***"
    if isinstance(value, Mapping):
        items = ", ".join(f"{k!r}: {shown_parameter(str(k), v)}" for k, v in value.items())
        return "{" + items + "}"
    return repr(value)


class DataOpener(ABC):
    """Opens data by id into an in-memory object such as an xarray.Dataset."""

    @abstractmethod
    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        """The parameters ``open_data`` accepts for ``data_id``; never opens the data."""

    @abstractmethod
    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        """Open ``data_id``, lazily where the service allows it."""


class DataSearcher(ABC):
    """Searches data by parameters and yields descriptors."""

    @classmethod
    @abstractmethod
    def get_search_params_schema(cls, data_type: DataTypeLike = None) -> JsonObjectSchema:
        """The parameters ``search_data`` accepts."""

    @abstractmethod
    def search_data(
        self, data_type: DataTypeLike = None, **search_params: Any
    ) -> Iterator[DataDescriptor]:
        """Yield descriptors of the data matching ``search_params``."""


class DataPreloader(ABC):
    """Prepares data ahead of opening (downloads, job queues, archives)."""

    @abstractmethod
    def get_preload_data_params_schema(self) -> JsonObjectSchema:
        """The parameters ``preload_data`` accepts."""

    @abstractmethod
    def preload_data(self, *data_ids: str, **preload_params: Any) -> PreloadHandle:
        """Start preloading; the handle's ``store`` opens the results.

        The handle also offers the reading methods of that store (``handle.open_data``,
        ``handle.list_data_ids``...), so code that treats the result as a store works.
        """


class DataDeleter(ABC):
    """Deletes data by id."""

    @abstractmethod
    def get_delete_data_params_schema(self, data_id: str | None = None) -> JsonObjectSchema:
        """The parameters ``delete_data`` accepts."""

    @abstractmethod
    def delete_data(self, data_id: str, **delete_params: Any) -> None:
        """Delete ``data_id``; DataNotFoundError if it does not exist."""


class DataWriter(DataDeleter):
    """Writes in-memory data under a data id."""

    @abstractmethod
    def get_write_data_params_schema(self, writer_id: str | None = None) -> JsonObjectSchema:
        """The parameters ``write_data`` accepts."""

    @abstractmethod
    def write_data(
        self,
        data: Any,
        data_id: str | None = None,
        writer_id: str | None = None,
        replace: bool = False,
        **write_params: Any,
    ) -> str:
        """Write ``data`` and return the data id used."""


class DataStore(DataOpener, DataSearcher, DataPreloader):
    """A read-only collection of data, each identified by a data id.

    Construction validates the store parameters against
    ``get_data_store_params_schema()`` and performs no network I/O.
    """

    #: The id under which the store is registered; used in messages.
    store_id: ClassVar[str] = ""

    def __init__(self, **store_params: Any):
        schema = self.get_data_store_params_schema()
        self._store_params = schema.validate_params(store_params, store_id=self.store_id)

    @property
    def store_params(self) -> dict[str, Any]:
        """The validated store parameters, defaults filled in."""
        return dict(self._store_params)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={shown_parameter(k, v)}" for k, v in getattr(self, "_store_params", {}).items()
        )
        return f"{type(self).__name__}({shown})"

    # -- description of the store ---------------------------------------------------------

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        """The parameters ``new_data_store`` accepts for this store."""
        from .schema import JsonObjectSchema

        return JsonObjectSchema(additional_properties=False)

    @classmethod
    @abstractmethod
    def get_data_types(cls) -> tuple[str, ...]:
        """The data types this store can deliver; the first is the default."""

    @abstractmethod
    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        """The data types ``data_id`` can be opened as; the first is the default."""

    @abstractmethod
    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        """Iterate over the data ids, or ``(data_id, attrs)`` pairs if ``include_attrs``.

        ``include_attrs=True`` includes every attribute the store knows cheaply;
        a list selects attributes by name.
        """

    def list_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> list[str | tuple[str, dict[str, Any]]]:
        """All data ids, as a list."""
        return list(self.get_data_ids(data_type=data_type, include_attrs=include_attrs))

    @abstractmethod
    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        """Whether ``data_id`` exists (and can be opened as ``data_type``)."""

    @abstractmethod
    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        """Describe ``data_id`` from metadata only; DataNotFoundError if unknown."""

    @abstractmethod
    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        """The accessor ids of the openers that can open ``data_id``."""

    # -- helpers for implementations ------------------------------------------------------

    def _assert_data_type(self, data_type: DataTypeLike) -> DataType:
        normalized = DataType.normalize(data_type)
        if normalized.alias == "any":
            return normalized
        supported = self.get_data_types()
        if not any(DataType.normalize(t).is_sub_type_of(normalized) for t in supported):
            raise InvalidParameterError(
                f"data type {normalized.alias!r} is not supported; this store delivers "
                + ", ".join(supported),
                store_id=self.store_id,
                parameter="data_type",
            )
        return normalized

    def _assert_opener_id(self, opener_id: str | None, data_id: str | None = None) -> None:
        """Refuse an opener id that is not among ``get_data_opener_ids(data_id)``."""
        if opener_id is None:
            return
        allowed = self.get_data_opener_ids(data_id)
        if opener_id not in allowed:
            raise InvalidParameterError(
                f"unknown opener {opener_id!r}; allowed: {', '.join(allowed)}",
                store_id=self.store_id,
                data_id=data_id,
                parameter="opener_id",
            )

    def _not_found(self, data_id: str, hint: str = "") -> DataNotFoundError:
        return DataNotFoundError(
            f"no such data{': ' + hint if hint else ''}",
            store_id=self.store_id,
            data_id=data_id,
        )

    @staticmethod
    def _attrs_selection(
        attrs: Mapping[str, Any], include_attrs: bool | list[str] | None
    ) -> dict[str, Any]:
        if include_attrs is True:
            return dict(attrs)
        return {k: attrs[k] for k in include_attrs or () if k in attrs}

    # -- search: a default over describe_data ---------------------------------------------

    @classmethod
    def get_search_params_schema(cls, data_type: DataTypeLike = None) -> JsonObjectSchema:
        from .schema import (
            JsonIntegerSchema,
            JsonObjectSchema,
            JsonStringSchema,
            bbox_schema,
            time_range_schema,
            variable_names_schema,
        )

        return JsonObjectSchema(
            properties=dict(
                pattern=JsonStringSchema(
                    title="Data id pattern",
                    description="Shell-style pattern the data id must match, e.g. '*.zarr'.",
                ),
                bbox=bbox_schema(description="Only data whose extent intersects this box."),
                time_range=time_range_schema(
                    description="Only data whose time range overlaps this range."
                ),
                variable_names=variable_names_schema(
                    description="Only datasets that contain all of these variables."
                ),
                limit=JsonIntegerSchema(minimum=1, title="Maximum number of results"),
            ),
            additional_properties=False,
        )

    def search_data(
        self, data_type: DataTypeLike = None, **search_params: Any
    ) -> Iterator[DataDescriptor]:
        """Yield descriptors of matching data, filtered on their described extent."""
        from .schema import parse_bbox, parse_time_range

        params = self.get_search_params_schema(data_type).validate_params(
            search_params, store_id=self.store_id
        )
        self._assert_data_type(data_type)
        bbox = parse_bbox(params["bbox"]) if params.get("bbox") is not None else None
        time_range = (
            parse_time_range(params["time_range"]) if params.get("time_range") is not None else None
        )
        wanted_vars = set(params.get("variable_names") or ())
        pattern, limit = params.get("pattern"), params.get("limit")
        found = 0
        for data_id in self.get_data_ids(data_type=data_type):
            if pattern and not fnmatch.fnmatchcase(data_id, pattern):
                continue
            descriptor = self.describe_data(data_id, data_type=data_type)
            if not _matches(descriptor, bbox, time_range, wanted_vars):
                continue
            yield descriptor
            found += 1
            if limit is not None and found >= limit:
                return

    # -- preload: by default, data are opened directly --------------------------------------

    def get_preload_data_params_schema(self) -> JsonObjectSchema:
        from .schema import JsonBooleanSchema, JsonObjectSchema

        return JsonObjectSchema(
            properties=dict(
                blocking=JsonBooleanSchema(
                    default=True, title="Wait until preloading has finished"
                ),
                silent=JsonBooleanSchema(default=False, title="Do not display progress"),
                cleanup=JsonBooleanSchema(
                    default=True, title="Delete intermediate files (archives) afterwards"
                ),
            ),
            additional_properties=False,
        )

    def preload_data(self, *data_ids: str, **preload_params: Any) -> PreloadHandle:
        """Data of this store need no preparation: the handle completes at once.

        Stores backed by job queues or archives override this.
        """
        from .preload import PreloadHandle

        params = self.get_preload_data_params_schema().validate_params(
            preload_params, store_id=self.store_id
        )
        for data_id in data_ids:
            if not self.has_data(data_id):
                raise self._not_found(data_id)
        return PreloadHandle(
            data_ids,
            lambda task: [task.data_id],
            store=self,
            blocking=params.get("blocking", True),
            silent=True,
            cleanup=params.get("cleanup", True),
        )


def _matches(descriptor, bbox, time_range, wanted_vars) -> bool:
    if bbox is not None and descriptor.bbox is not None:
        x0, y0, x1, y1 = descriptor.bbox
        if x0 > bbox[2] or x1 < bbox[0] or y0 > bbox[3] or y1 < bbox[1]:
            return False
    if time_range is not None and descriptor.time_range is not None:
        from .schema import parse_time_range

        own = parse_time_range(descriptor.time_range)
        if (time_range.end and own.start and own.start > time_range.end) or (
            time_range.start and own.end and own.end < time_range.start
        ):
            return False
    if wanted_vars:
        data_vars = getattr(descriptor, "data_vars", None) or {}
        if not wanted_vars.issubset(data_vars):
            return False
    return True


class MutableDataStore(DataStore, DataWriter):
    """A data store that can also write and delete data."""

    @abstractmethod
    def get_data_writer_ids(self, data_type: DataTypeLike = None) -> tuple[str, ...]:
        """The accessor ids of the writers for ``data_type``."""
