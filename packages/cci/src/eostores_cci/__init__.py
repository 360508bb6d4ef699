"""eostores-cci: the ESA Climate Data Centre as eostores data stores (store ids ``cciodp``,
``ccizarr`` and ``esa-cci-kc``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "CciEmulator",
    "CciKerchunkDataStore",
    "CciOdpDataStore",
    "CciWarning",
    "CciZarrDataStore",
    "__version__",
]

_LAZY = {
    "CciEmulator": "eostores_cci.testing",
    "CciKerchunkDataStore": "eostores_cci.store",
    "CciOdpDataStore": "eostores_cci.store",
    "CciWarning": "eostores_cci.store",
    "CciZarrDataStore": "eostores_cci.store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
