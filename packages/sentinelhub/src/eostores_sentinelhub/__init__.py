"""eostores store for the Sentinel Hub Process API: lazy data cubes, one request per chunk.

Importing this package is cheap; the store and the emulator are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .cube import SentinelHubChunkWarning
    from .store import SentinelHubDataStore, SentinelHubWarning
    from .testing import SentinelHubEmulator

__all__ = [
    "SentinelHubChunkWarning",
    "SentinelHubDataStore",
    "SentinelHubEmulator",
    "SentinelHubWarning",
    "__version__",
]

_LAZY = {
    "SentinelHubChunkWarning": "eostores_sentinelhub.cube",
    "SentinelHubDataStore": "eostores_sentinelhub.store",
    "SentinelHubEmulator": "eostores_sentinelhub.testing",
    "SentinelHubWarning": "eostores_sentinelhub.store",
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
