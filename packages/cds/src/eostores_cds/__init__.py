"""eostores-cds: the Copernicus Climate Data Store as an eostores data store (store id ``cds``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["CdsDataStore", "CdsEmulator", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "CdsDataStore":
        from .store import CdsDataStore

        return CdsDataStore
    if name == "CdsEmulator":
        from .testing import CdsEmulator

        return CdsEmulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
