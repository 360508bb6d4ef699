"""Testing helpers for eostores and its store packages.

The emulator server toolkit (:mod:`eostores.testing.server` and the modules it is built
from) is re-exported here lazily, so that importing this package costs nothing and needs no pytest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eostores.testing.faults import FaultProfile, RequestRecord
    from eostores.testing.messages import Headers, Request, Response, route
    from eostores.testing.moto import MotoServer
    from eostores.testing.process import EmulatorProcess
    from eostores.testing.runner import run_emulator
    from eostores.testing.server import EmulatorServer

__all__ = [
    "EmulatorProcess",
    "EmulatorServer",
    "FaultProfile",
    "Headers",
    "MotoServer",
    "Request",
    "RequestRecord",
    "Response",
    "route",
    "run_emulator",
]

_LAZY = {
    "EmulatorProcess": "eostores.testing.process",
    "EmulatorServer": "eostores.testing.server",
    "FaultProfile": "eostores.testing.faults",
    "Headers": "eostores.testing.messages",
    "MotoServer": "eostores.testing.moto",
    "Request": "eostores.testing.messages",
    "RequestRecord": "eostores.testing.faults",
    "Response": "eostores.testing.messages",
    "route": "eostores.testing.messages",
    "run_emulator": "eostores.testing.runner",
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
