"""eostores-eopf: the EOPF Sentinel Zarr Samples as an eostores data store (store id
``eopf-zarr``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["EopfEmulator", "EopfZarrDataStore", "__version__"]

_LAZY = {"EopfZarrDataStore": "eostores_eopf.store", "EopfEmulator": "eostores_eopf.testing"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
