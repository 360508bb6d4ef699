"""eostores-cmems: the Copernicus Marine Service as an eostores data store (store id ``cmems``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["CmemsDataStore", "CmemsEmulator", "__version__"]

_LAZY = {"CmemsDataStore": "eostores_cmems.store", "CmemsEmulator": "eostores_cmems.testing"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
