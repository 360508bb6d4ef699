"""Plugin registry: stores, openers, writers, formats, emulators, demos and CLI commands.

Everything is declared as an entry point, the core's own components included (in the
core's ``pyproject.toml``), and read here only. Listing reads entry point metadata; a
plugin module is imported when its component is first used, so that a broken plugin fails
alone, with a message naming it, and two packages claiming one name is an error naming
both.

An opener or writer entry point ``<data_type>:<format>:<storage>`` names a class (or any
callable) called with the accessor's parameters; a class that serves several accessor ids
offers a classmethod ``from_accessor_id(accessor_id, **params)``, which is called instead.

A component that needs optional dependencies names the "extras" of its distribution that
install them, in the entry point: ``s3 = "mypackage.store:S3Store [s3]"``. Listing with
``detail=True`` says which components lack them (checked without importing anything) and
the ``pip install`` command that fixes it; using such a component raises a DataStoreError
saying the same.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points
from typing import TYPE_CHECKING, Any

from .errors import DataStoreError, InvalidParameterError

if TYPE_CHECKING:
    from .schema import JsonObjectSchema
    from .store import DataStore

__all__ = [
    "Extension",
    "check_requirements",
    "find_command_extensions",
    "find_data_opener_extensions",
    "find_data_store_extensions",
    "find_data_writer_extensions",
    "find_demo_extensions",
    "find_emulator_extensions",
    "find_format_extensions",
    "get_data_store_class",
    "get_data_store_params_schema",
    "get_emulator_class",
    "import_error",
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
COMMANDS_GROUP = "eostores.commands"


@dataclass
class Extension:
    """A registered component: its name, where it comes from, and a lazy loader.

    ``point`` is the entry point group (e.g. ``eostores.stores``); ``component`` loads the
    component on first use; ``extras`` are the extras of ``package`` it needs installed.
    """

    name: str
    group: str
    value: str
    package: str | None = None
    version: str | None = None
    description: str | None = None
    conflicts: list[str] = field(default_factory=list)
    extras: tuple[str, ...] = ()
    _component: Any = field(default=None, init=False, repr=False, compare=False)
    _loaded: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def point(self) -> str:
        """The extension point: the entry point group the component is registered in."""
        return self.group

    @property
    def metadata(self) -> dict[str, Any]:
        result = {
            "package": self.package,
            "version": self.version,
            "description": self.description,
            "object": self.value,
        }
        if self.extras:
            missing = self.missing_requirements()
            result["available"] = not missing
            if missing:
                result["missing"] = missing
                result["install"] = self.install_command()
        return result

    @property
    def component(self) -> Any:
        """The component, loaded once on first use (see :meth:`load`)."""
        if not self._loaded:
            self._component = self.load()
            self._loaded = True
        return self._component

    @property
    def is_loaded(self) -> bool:
        return self._loaded

    def missing_requirements(self) -> list[str]:
        """The optional libraries this component needs that cannot be imported.

        Checked without importing them: a library counts as missing when its distribution
        is not installed or its modules cannot be found by the import system.
        """
        if not self.extras or not self.package:
            return []
        missing: list[str] = []
        for extra in self.extras:
            for requirement in _extra_requirements(self.package, extra):
                missing += [m for m in _missing_modules(requirement) if m not in missing]
        return missing

    def install_command(self) -> str | None:
        """The ``pip install`` command that installs what this component needs."""
        if not self.extras or not self.package:
            return None
        return f'pip install "{self.package}[{",".join(self.extras)}]"'

    def check_requirements(self, **context: Any) -> None:
        """Raise a DataStoreError naming what is missing and how to install it."""
        missing = self.missing_requirements()
        if missing:
            raise DataStoreError(
                f"{_KIND[self.group]} {self.name!r} needs {_join(missing)}, "
                f"which {'is' if len(missing) == 1 else 'are'} not installed; "
                f"install {'it' if len(missing) == 1 else 'them'} with: {self.install_command()}",
                **context,
            )

    def load(self) -> Any:
        """Import and return the component; DataStoreError names the plugin on failure.

        Optional libraries are not checked here (see :meth:`check_requirements`): modules
        import them when they use them, so a format handler loads without its library.
        """
        if self.conflicts:
            raise DataStoreError(
                f"{_KIND[self.group]} id {self.name!r} is claimed by several packages: "
                + ", ".join(self.conflicts)
                + "; uninstall all but one"
            )
        try:
            return EntryPoint(name=self.name, value=self.value, group=self.group).load()
        except ModuleNotFoundError as error:
            raise _missing_module_error(self, error) from error
        except Exception as error:
            raise DataStoreError(
                f"{_KIND[self.group]} {self.name!r} from package {self.package or '?'} "
                f"could not be loaded ({self.value}): {type(error).__name__}: {error}"
            ) from error


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _missing_module_error(
    extension: Extension, error: ImportError, **context: Any
) -> DataStoreError:
    module = getattr(error, "name", None) or str(error)
    command = extension.install_command()
    if command is not None:
        advice = f"install it with: {command}"
    else:
        advice = f"install the library that provides it, or reinstall {extension.package or '?'}"
    return DataStoreError(
        f"{_KIND[extension.group]} {extension.name!r} from package {extension.package or '?'} "
        f"needs the module {module!r}, which is not installed; {advice}",
        **context,
    )


# -- optional dependencies -------------------------------------------------------------------

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared_extras(ep: EntryPoint) -> tuple[str, ...]:
    """The extras an entry point names (``name = "module:object [extra]"``); an opener or
    writer ``<type>:<format>:<storage>`` needs those of its format and its storage."""
    extras = tuple(getattr(ep, "extras", None) or ())
    if extras or ep.group not in (OPENERS_GROUP, WRITERS_GROUP):
        return extras
    parts = ep.name.split(":")
    if len(parts) < 3:
        return ()
    found = [
        *_extensions_extras(FORMATS_GROUP, parts[1]),
        *_extensions_extras(STORES_GROUP, parts[2]),
    ]
    return tuple(dict.fromkeys(found))


def _extensions_extras(group: str, name: str) -> tuple[str, ...]:
    extension = _extensions(group).get(name)
    return extension.extras if extension is not None else ()


@cache
def _extra_requirements(package: str, extra: str) -> tuple[str, ...]:
    """The distributions ``pip install "package[extra]"`` adds (self-references expanded)."""
    try:
        requires = distribution(package).requires or []
    except PackageNotFoundError:
        return ()
    names: list[str] = []
    for line in requires:
        requirement, _, marker = line.partition(";")
        if _normalized(extra) not in {_normalized(e) for e in _EXTRA_MARKER.findall(marker)}:
            continue
        match = _NAME.match(requirement)
        if match is None:
            continue
        name, nested = match.group(1), match.group(2)
        if _normalized(name) == _normalized(package):
            for inner in (nested or "").split(","):
                if inner.strip() and _normalized(inner) != _normalized(extra):
                    names += _extra_requirements(package, inner.strip())
        else:
            names.append(name)
    return tuple(dict.fromkeys(names))


@cache
def _module_names(requirement: str) -> tuple[str, ...] | None:
    """The top-level modules of an installed distribution; None if it is not installed."""
    try:
        dist = distribution(requirement)
    except PackageNotFoundError:
        return None
    text = dist.read_text("top_level.txt")
    if text:
        names = [n for n in text.split() if n and not n.startswith("_")]
    else:
        names = []
        for path in dist.files or ():
            parts = path.parts
            if len(parts) == 1 and parts[0].endswith(".py"):
                names.append(parts[0][:-3])
            elif len(parts) == 2 and parts[1] == "__init__.py":
                names.append(parts[0])
        names = [n for n in dict.fromkeys(names) if not n.startswith("_")]
    return tuple(names) or (requirement.replace("-", "_").lower(),)


def _missing_modules(requirement: str) -> list[str]:
    names = _module_names(requirement)
    if names is None:
        return [requirement]
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


_KIND = {
    STORES_GROUP: "data store",
    OPENERS_GROUP: "data opener",
    WRITERS_GROUP: "data writer",
    EMULATORS_GROUP: "emulator",
    DEMOS_GROUP: "demo",
    FORMATS_GROUP: "data format",
    COMMANDS_GROUP: "command",
}


def _from_entry_point(ep: EntryPoint) -> Extension:
    dist = getattr(ep, "dist", None)
    package = version = description = None
    if dist is not None:
        package, version = dist.metadata["Name"], dist.version
        description = dist.metadata.get("Summary")
    extras = _declared_extras(ep)
    return Extension(ep.name, ep.group, ep.value, package, version, description, extras=extras)


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
    _extra_requirements.cache_clear()
    _module_names.cache_clear()


def import_error(group: str, name: str, error: ImportError, **context: Any) -> DataStoreError:
    """The DataStoreError to raise when the component ``name`` of ``group`` fails to import
    a library: it names what is missing and the ``pip install`` command that adds it."""
    extension = _extensions(group).get(name)
    if extension is None:
        module = getattr(error, "name", None) or str(error)
        return DataStoreError(f"the module {module!r} is not installed", **context)
    try:
        extension.check_requirements(**context)
    except DataStoreError as missing:
        return missing
    return _missing_module_error(extension, error, **context)


def check_requirements(group: str, name: str, **context: Any) -> None:
    """Raise a DataStoreError if the component ``name`` of ``group`` lacks a dependency.

    ``context`` (``store_id``, ``data_id``) goes into the error. Unknown names pass.
    """
    extension = _extensions(group).get(name)
    if extension is not None:
        extension.check_requirements(**context)


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

    Reads entry point metadata only: no plugin is imported. The metadata of a store that
    needs optional dependencies has ``available``; when they are missing, also ``missing``
    (the libraries) and ``install`` (the ``pip install`` command that adds them).
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
    extension = _get(STORES_GROUP, store_id)
    extension.check_requirements()
    cls = extension.load()
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
    extension = _get(group, accessor_id)
    extension.check_requirements()
    factory = extension.load()
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


def find_command_extensions(
    predicate: Callable[[Extension], bool] | None = None,
) -> list[Extension]:
    """The registered commands of the ``eostores`` CLI: ``main(argv) -> int`` functions that
    get the arguments after the command name (e.g. ``ui`` from eostores-ui)."""
    return sorted(_find(COMMANDS_GROUP, predicate), key=lambda e: e.name)
