"""The gedidb emulator, its sample database and the demo: for tests, benchmarks, offline use.

:class:`GediEmulator` serves NASA's CMR collection search and, from a child process, a
public S3 bucket holding a gedidb TileDB array whose values are :func:`expected_value`
of each shot's coordinates. The store modules never import this package.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DEFAULT_SAMPLE",
    "VARIABLES",
    "GediEmulator",
    "GediS3Emulator",
    "SampleSpec",
    "expected_value",
    "make_shots",
]

_LAZY = {
    "DEFAULT_SAMPLE": ".samples",
    "VARIABLES": ".samples",
    "SampleSpec": ".samples",
    "expected_value": ".samples",
    "make_shots": ".samples",
    "GediEmulator": ".emulator",
    "GediS3Emulator": ".s3",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
