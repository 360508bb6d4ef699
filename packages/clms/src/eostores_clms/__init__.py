"""eostores-clms: the Copernicus Land Monitoring Service as a data store (store id ``clms``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["ClmsDataStore", "ClmsEmulator", "__version__"]

_LAZY = {"ClmsDataStore": "eostores_clms.store", "ClmsEmulator": "eostores_clms.testing"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
