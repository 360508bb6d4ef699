"""eostores-zenodo: Zenodo records as an eostores data store (store id ``zenodo``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["MustPreloadError", "ZenodoDataStore", "ZenodoEmulator", "__version__"]

_LAZY = {
    "MustPreloadError": "eostores_zenodo.openers",
    "ZenodoDataStore": "eostores_zenodo.store",
    "ZenodoEmulator": "eostores_zenodo.testing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
