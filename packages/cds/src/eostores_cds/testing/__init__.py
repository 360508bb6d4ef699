"""The CDS emulator, its datasets and the demo: for tests, benchmarks and offline use.

:class:`CdsEmulator` serves the CDS catalogue and retrieve APIs on 127.0.0.1 so that the
real client libraries (``ecmwf-datastores-client``, ``cdsapi``) talk to it; its data
values are :func:`expected_value` of the coordinates. The store modules never import
this package.
"""

from __future__ import annotations

from .datasets import DEFAULT_DATASETS, EmulatedDataset, EmulatedVariable, expected_value
from .emulator import DEFAULT_KEY, CdsEmulator
from .files import DAILY_STATISTIC_OFFSETS

__all__ = [
    "DAILY_STATISTIC_OFFSETS",
    "DEFAULT_DATASETS",
    "DEFAULT_KEY",
    "CdsEmulator",
    "EmulatedDataset",
    "EmulatedVariable",
    "expected_value",
]
