"""eostores-gedidb: GEDI shots from the gedidb database as a data store (store id ``gedidb``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["GediDbDataStore", "GediEmulator", "__version__"]

_LAZY = {"GediDbDataStore": "eostores_gedidb.store", "GediEmulator": "eostores_gedidb.testing"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
