"""Testing helpers for eostores and its store packages.

The emulator server toolkit lives in :mod:`eostores.testing.server`; its names are
re-exported here lazily, so that importing this package costs nothing and needs no pytest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eostores.testing.server import (
        EmulatorProcess,
        EmulatorServer,
        FaultProfile,
        Headers,
        Request,
        RequestRecord,
        Response,
        route,
        run_emulator,
    )

__all__ = [
    "EmulatorProcess",
    "EmulatorServer",
    "FaultProfile",
    "Headers",
    "Request",
    "RequestRecord",
    "Response",
    "route",
    "run_emulator",
]

_LAZY = {name: "eostores.testing.server" for name in __all__}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
