"""eostores stores for STAC catalogs and APIs: ``stac``, ``stac-xcube``, ``stac-cdse``,
``stac-destine``.

Items open as lazy datasets of their assets; with ``stack_mode=True`` collections open as
analysis-ready cubes mosaicked across UTM zones. Names are imported on first use, so that
importing the package costs nothing.
"""

from __future__ import annotations

import importlib
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
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
