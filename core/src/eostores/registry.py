"""Plugin registry: stores, openers, writers, formats, emulators and demos.

Everything is declared as an entry point, the core's own components included (in the
core's ``pyproject.toml``), and read here only. Listing reads entry point metadata; a
plugin module is imported when its component is first used, so that a broken plugin fails
alone, with a message naming it, and two packages claiming one name is an error naming
both.

An opener or writer entry point ``<data_type>:<format>:<storage>`` names a class (or any
callable) called with the accessor's parameters; a class that serves several accessor ids
offers a classmethod ``from_accessor_id(accessor_id, **params)``, which is called instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from .errors import DataStoreError, InvalidParameterError

if TYPE_CHECKING:
    from .schema import JsonObjectSchema
    from .store import DataStore

__all__ = [
    "Extension",
    "find_data_opener_extensions",
    "find_data_store_extensions",
    "find_data_writer_extensions",
    "find_demo_extensions",
    "find_emulator_extensions",
    "find_format_extensions",
    "get_data_store_class",
    "get_data_store_params_schema",
    "get_emulator_class",
    "list_data_store_ids",
    "new_data_opener",
    "new_data_store",
    "new_data_writer",
]

STORES_GROUP = "eostores.stores"
OPENERS_GROUP = "eostores.openers"
WRITERS_GROUP = "eostores.writers"
EMULATORS_GROUP = "eostores.emulators"
DEMOS_GROUP = "eostores.demos"
FORMATS_GROUP = "eostores.formats"


@dataclass
class Extension:
    """A registered component: its name, where it comes from, and a lazy loader."""

    name: str
    group: str
    value: str
    package: str | None = None
    version: str | None = None
    description: str | None = None
    conflicts: list[str] = field(default_factory=list)

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "description": self.description,
            "object": self.value,
        }

    def load(self) -> Any:
        """Import and return the component; DataStoreError names the plugin on failure."""
        if self.conflicts:
            raise DataStoreError(
                f"{_KIND[self.group]} id {self.name!r} is claimed by several packages: "
                + ", ".join(self.conflicts)
                + "; uninstall all but one"
            )
        try:
            return EntryPoint(name=self.name, value=self.value, group=self.group).load()
        except Exception as error:
            raise DataStoreError(
                f"{_KIND[self.group]} {self.name!r} from package {self.package or '?'} "
                f"could not be loaded ({self.value}): {type(error).__name__}: {error}"
            ) from error


_KIND = {
    STORES_GROUP: "data store",
    OPENERS_GROUP: "data opener",
    WRITERS_GROUP: "data writer",
    EMULATORS_GROUP: "emulator",
    DEMOS_GROUP: "demo",
    FORMATS_GROUP: "data format",
}


def _from_entry_point(ep: EntryPoint) -> Extension:
    dist = getattr(ep, "dist", None)
    package = version = description = None
    if dist is not None:
        package, version = dist.metadata["Name"], dist.version
        description = dist.metadata.get("Summary")
    return Extension(ep.name, ep.group, ep.value, package, version, description)


@cache
def _extensions(group: str) -> dict[str, Extension]:
    found: dict[str, Extension] = {}
    for ep in entry_points(group=group):
        extension = _from_entry_point(ep)
        existing = found.get(ep.name)
        if existing is None:
            found[ep.name] = extension
        elif (existing.package, existing.value) != (extension.package, extension.value):
            claims = existing.conflicts or [f"{existing.package} ({existing.value})"]
            existing.conflicts = [*claims, f"{extension.package} ({extension.value})"]
    return found


def refresh() -> None:
    """Forget what was discovered, e.g. after installing a plugin in a running process."""
    _extensions.cache_clear()


def _find(group: str, predicate: Callable[[Extension], bool] | None) -> list[Extension]:
    return [e for e in _extensions(group).values() if predicate is None or predicate(e)]


def _get(group: str, name: str) -> Extension:
    extension = _extensions(group).get(name)
    if extension is None:
        known = ", ".join(sorted(_extensions(group))) or "none"
        hint = f" (is the package eostores-{name.split('-')[0]} installed?)"
        raise DataStoreError(f"unknown {_KIND[group]} {name!r}{hint}; installed: {known}")
    return extension


# -- stores ---------------------------------------------------------------------------------


def find_data_store_extensions(
    predicate: Callable[[Extension], bool] | None = None,
) -> list[Extension]:
    """The registered data stores, optionally filtered."""
    return _find(STORES_GROUP, predicate)


def list_data_store_ids(detail: bool = False) -> list[str] | dict[str, dict[str, Any]]:
    """The ids of the installed data stores, or ``{id: metadata}`` with ``detail=True``.

    Reads entry point metadata only: no plugin is imported.
    """
    extensions = _extensions(STORES_GROUP)
    for extension in extensions.values():
        if extension.conflicts:
            warnings.warn(
                f"data store id {extension.name!r} is claimed by several packages: "
                + ", ".join(extension.conflicts),
                stacklevel=2,
            )
    if detail:
        return {name: e.metadata for name, e in sorted(extensions.items())}
    return sorted(extensions)


def get_data_store_class(store_id: str) -> type[DataStore]:
    """The class of the store registered as ``store_id`` (imports its plugin)."""
    cls = _get(STORES_GROUP, store_id).load()
    if not getattr(cls, "store_id", None):
        cls.store_id = store_id
    return cls


def get_data_store_params_schema(store_id: str) -> JsonObjectSchema:
    """The parameters ``new_data_store(store_id, ...)`` accepts."""
    return get_data_store_class(store_id).get_data_store_params_schema()


def new_data_store(store_id: str, **store_params: Any) -> DataStore:
    """Create the store ``store_id``; its parameters are validated, no request is made."""
    return get_data_store_class(store_id)(**store_params)


# -- openers and writers ---------------------------------------------------------------------


def _find_accessors(
    group: str,
    predicate: Callable[[Extension], bool] | None,
    data_type: str | None,
    format_id: str | None,
    storage_id: str | None,
) -> list[Extension]:
    from .accessor import parse_accessor_id

    def matching(extension: Extension) -> bool:
        try:
            accessor = parse_accessor_id(extension.name)
        except InvalidParameterError:
            return False
        return accessor.matches(data_type, format_id, storage_id)

    return [e for e in _find(group, predicate) if matching(e)]


def _new_accessor(group: str, accessor_id: str, params: dict[str, Any]) -> Any:
    from .accessor import parse_accessor_id

    parse_accessor_id(accessor_id)
    factory = _get(group, accessor_id).load()
    from_accessor_id = getattr(factory, "from_accessor_id", None)
    if from_accessor_id is not None:
        return from_accessor_id(accessor_id, **params)
    return factory(**params)


def find_data_opener_extensions(
    predicate: Callable[[Extension], bool] | None = None,
    *,
    data_type: str | None = None,
    format_id: str | None = None,
    storage_id: str | None = None,
) -> list[Extension]:
    """The registered openers, filtered by a predicate and/or accessor id parts."""
    return _find_accessors(OPENERS_GROUP, predicate, data_type, format_id, storage_id)


def find_data_writer_extensions(
    predicate: Callable[[Extension], bool] | None = None,
    *,
    data_type: str | None = None,
    format_id: str | None = None,
    storage_id: str | None = None,
) -> list[Extension]:
    """The registered writers, filtered by a predicate and/or accessor id parts."""
    return _find_accessors(WRITERS_GROUP, predicate, data_type, format_id, storage_id)


def new_data_opener(opener_id: str, **params: Any) -> Any:
    """Create the opener ``<data_type>:<format>:<storage>``."""
    return _new_accessor(OPENERS_GROUP, opener_id, params)


def new_data_writer(writer_id: str, **params: Any) -> Any:
    """Create the writer ``<data_type>:<format>:<storage>``."""
    return _new_accessor(WRITERS_GROUP, writer_id, params)


# -- emulators ---------------------------------------------------------------------------------


def find_emulator_extensions(
    predicate: Callable[[Extension], bool] | None = None,
) -> list[Extension]:
    """The registered service emulators."""
    return _find(EMULATORS_GROUP, predicate)


def get_emulator_class(name: str) -> type:
    """The emulator class registered as ``name``."""
    return _get(EMULATORS_GROUP, name).load()


# -- formats and demos -------------------------------------------------------------------------


def find_format_extensions(
    predicate: Callable[[Extension], bool] | None = None,
) -> list[Extension]:
    """The registered data formats of the filesystem stores (name: the format id)."""
    return _find(FORMATS_GROUP, predicate)


def find_demo_extensions(
    predicate: Callable[[Extension], bool] | None = None,
) -> list[Extension]:
    """The registered demos: functions ``demo(say)`` run by ``eostores demo``."""
    return sorted(_find(DEMOS_GROUP, predicate), key=lambda e: e.name)
