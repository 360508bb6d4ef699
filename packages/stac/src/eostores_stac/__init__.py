"""eostores-stac: STAC catalogs and APIs as eostores data stores (store ids ``stac``,
``stac-xcube``, ``stac-cdse``, ``stac-destine``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "AssetReadWarning",
    "StacCdseDataStore",
    "StacDataStore",
    "StacDestineDataStore",
    "StacEmulator",
    "StacXcubeDataStore",
    "__version__",
]

_LAZY = {
    "AssetReadWarning": "eostores_stac.assets",
    "StacCdseDataStore": "eostores_stac.store",
    "StacDataStore": "eostores_stac.store",
    "StacDestineDataStore": "eostores_stac.store",
    "StacXcubeDataStore": "eostores_stac.store",
    "StacEmulator": "eostores_stac.testing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
