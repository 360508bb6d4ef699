"""The ``reference`` store: read-only datasets described by fsspec reference files (Kerchunk)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..datatype import DataTypeLike
from ..errors import InvalidParameterError
from ..paths import check_data_id
from ..store import DataStore
from .errors import translate_errors
from .zarr import close_sessions_with

if TYPE_CHECKING:
    from ..descriptor import DataDescriptor
    from ..schema import JsonObjectSchema


_ASYNC_PROTOCOLS = frozenset({"http", "https", "s3", "s3a", "abfs", "az", "gcs", "gs"})


class ReferenceDataStore(DataStore):
    """Datasets whose chunks live in other files, located by reference JSON documents.

    Each entry of ``refs`` is a path/URL of a reference file or a dict with ``ref_path``
    and optionally ``data_id`` and ``data_descriptor``. Data ids default to the reference
    file's name without ``.json``.
    """

    store_id = "reference"
    protocol = "reference"

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        from ..schema import (
            JsonArraySchema,
            JsonComplexSchema,
            JsonIntegerSchema,
            JsonObjectSchema,
            JsonStringSchema,
        )

        options = JsonObjectSchema(additional_properties=True)
        ref = JsonComplexSchema(
            any_of=[
                JsonStringSchema(title="Path or URL of a reference JSON file"),
                JsonObjectSchema(
                    properties=dict(
                        ref_path=JsonStringSchema(title="Path or URL of the reference file"),
                        data_id=JsonStringSchema(title="Data id of the referenced dataset"),
                        data_descriptor=JsonObjectSchema(
                            additional_properties=True,
                            title="Descriptor returned by describe_data",
                        ),
                    ),
                    required=["ref_path"],
                    additional_properties=False,
                ),
            ]
        )
        return JsonObjectSchema(
            properties=dict(
                refs=JsonArraySchema(items=ref, min_items=1, title="Reference files"),
                target_protocol=JsonStringSchema(
                    title="Protocol of the reference files (default: from their paths)"
                ),
                target_options=options,
                remote_protocol=JsonStringSchema(
                    title="Protocol of the referenced data (default: from the references)"
                ),
                remote_options=options,
                max_gap=JsonIntegerSchema(
                    minimum=0, title="Largest gap, bytes, merged into one range request"
                ),
                max_block=JsonIntegerSchema(minimum=0, title="Largest merged range, bytes"),
                cache_size=JsonIntegerSchema(
                    minimum=0, title="Number of reference blocks kept in an LRU cache"
                ),
            ),
            required=["refs"],
            additional_properties=False,
        )

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._refs: dict[str, dict[str, Any]] = {}
        for entry in self._store_params["refs"]:
            ref = {"ref_path": entry} if isinstance(entry, str) else dict(entry)
            data_id = ref.get("data_id") or _default_data_id(ref["ref_path"])
            if data_id in self._refs:
                raise InvalidParameterError(
                    f"two references have the data id {data_id!r}; give one a 'data_id'",
                    store_id=self.store_id,
                    parameter="refs",
                )
            self._refs[data_id] = ref

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._ref(data_id)
        return ("dataset",)

    def get_data_ids(
        self, data_type: DataTypeLike = None, include_attrs: bool | list[str] | None = None
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        if self._assert_data_type(data_type).alias not in ("any", "dataset"):
            return
        for data_id, ref in self._refs.items():
            if include_attrs:
                attrs = {"data_type": "dataset", "ref_path": ref["ref_path"]}
                yield data_id, self._attrs_selection(attrs, include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        check_data_id(data_id, store_id=self.store_id)
        return data_id in self._refs and self._assert_data_type(data_type).alias in (
            "any",
            "dataset",
        )

    def _ref(self, data_id: str) -> dict[str, Any]:
        check_data_id(data_id, store_id=self.store_id)
        if data_id not in self._refs:
            raise self._not_found(data_id, "known ids: " + ", ".join(self._refs))
        return self._refs[data_id]

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        if data_id is not None:
            self._ref(data_id)
        return ("dataset:zarr:reference",)

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        from .formats import get_handler

        if data_id is not None:
            self._ref(data_id)
        return get_handler("zarr").get_open_params_schema("dataset")

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        from ..descriptor import DataDescriptor

        ref = self._ref(data_id)
        if ref.get("data_descriptor"):
            descriptor = DataDescriptor.from_dict(
                {"data_id": data_id, "data_type": "dataset", **ref["data_descriptor"]}
            )
            descriptor.data_id = data_id
        else:
            from ..descriptor import DatasetDescriptor

            descriptor = DatasetDescriptor.from_dataset(data_id, self.open_data(data_id))
        descriptor.open_params_schema = self.get_open_data_params_schema(data_id)
        return descriptor

    def _filesystem(self, ref: dict[str, Any]) -> Any:
        import fsspec

        params = self._store_params
        options: dict[str, Any] = {"fo": ref["ref_path"]}
        for key in (
            "target_protocol",
            "target_options",
            "remote_protocol",
            "remote_options",
            "max_gap",
            "max_block",
            "cache_size",
        ):
            if params.get(key) is not None:
                options[key] = params[key]
        if options.get("remote_protocol") not in _ASYNC_PROTOCOLS:
            return fsspec.filesystem("reference", **options)
        # zarr re-creates the filesystem as asynchronous from its JSON form, which needs an
        # asynchronous filesystem for the referenced data as well. fsspec never closes the
        # HTTP sessions of asynchronous filesystems: these are not shared, and their
        # sessions are closed once the dataset no longer uses them.
        remote = {**options.get("remote_options", {}), "asynchronous": True}
        options["remote_options"] = {**remote, "skip_instance_cache": True}
        fs = fsspec.filesystem("reference", asynchronous=True, skip_instance_cache=True, **options)
        close_sessions_with(fs, list(fs.fss.values()))
        return fs

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        from .formats import get_handler
        from .subset import apply_common_params

        ref = self._ref(data_id)
        self._assert_opener_id(opener_id, data_id)
        if self._assert_data_type(data_type).alias not in ("any", "dataset"):
            raise InvalidParameterError(
                "reference data open as 'dataset' only",
                store_id=self.store_id,
                parameter="data_type",
            )
        params = self.get_open_data_params_schema(data_id).validate_params(
            open_params, store_id=self.store_id, data_id=data_id
        )
        with translate_errors(self.store_id, data_id):
            fs = self._filesystem(ref)
            dataset = get_handler("zarr").open(fs, "", "dataset", params)
            return apply_common_params(dataset, params, store_id=self.store_id, data_id=data_id)


def _default_data_id(ref_path: str) -> str:
    name = posixpath.basename(ref_path.rstrip("/"))
    return name[: -len(".json")] if name.endswith(".json") else name
