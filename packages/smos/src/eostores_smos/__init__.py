"""eostores-smos: ESA SMOS Level-2 products as an eostores data store (store id ``smos``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["SmosDataStore", "SmosEmulator", "__version__"]

_LAZY = {"SmosDataStore": "eostores_smos.store", "SmosEmulator": "eostores_smos.testing"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
