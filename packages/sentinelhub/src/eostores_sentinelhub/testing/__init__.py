"""A local emulator of a Sentinel Hub deployment (OAuth2, catalog, Process API) for tests.

The service's real client libraries talk to it over HTTP on 127.0.0.1; its pixel values
are a known function of the coordinates (:func:`expected_values`). Runtime modules of the
store never import this package.
"""

from __future__ import annotations

from .emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SentinelHubEmulator
from .samples import BYOC_ID, EmulatedCollection, expected_values, to_sample_type

__all__ = [
    "BYOC_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "EmulatedCollection",
    "SentinelHubEmulator",
    "expected_values",
    "to_sample_type",
]
