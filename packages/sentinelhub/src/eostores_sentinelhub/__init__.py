"""eostores-sentinelhub: Sentinel Hub as an eostores data store (store id ``sentinelhub``)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "SentinelHubChunkWarning",
    "SentinelHubDataStore",
    "SentinelHubEmulator",
    "SentinelHubWarning",
    "__version__",
]

_LAZY = {
    "SentinelHubChunkWarning": "eostores_sentinelhub.chunks",
    "SentinelHubDataStore": "eostores_sentinelhub.store",
    "SentinelHubEmulator": "eostores_sentinelhub.testing",
    "SentinelHubWarning": "eostores_sentinelhub.store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
