"""eostores store for Zenodo records: lazy reads over HTTP ranges, verified preloads.

``new_data_store("zenodo", root="10.5281/zenodo.1234567")`` gives the files of one
record as data ids; :class:`ZenodoEmulator` serves a local model of the Zenodo API for
tests. Names are imported lazily, so that importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .errors import FileUnavailableError, MustPreloadError
    from .store import ZenodoDataStore
    from .testing import ZenodoEmulator

__all__ = [
    "FileUnavailableError",
    "MustPreloadError",
    "ZenodoDataStore",
    "ZenodoEmulator",
    "__version__",
]

_LAZY = {
    "FileUnavailableError": ".errors",
    "MustPreloadError": ".errors",
    "ZenodoDataStore": ".store",
    "ZenodoEmulator": ".testing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
