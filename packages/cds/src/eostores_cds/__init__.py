"""eostores-cds: the Copernicus Climate Data Store as an eostores data store (store id ``cds``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["CdsDataStore", "CdsEmulator", "__version__"]

_LAZY = {"CdsDataStore": "eostores_cds.store", "CdsEmulator": "eostores_cds.testing"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
