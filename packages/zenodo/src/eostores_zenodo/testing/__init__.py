"""The Zenodo emulator for tests, demos and benchmarks (never imported by the store).

:class:`ZenodoEmulator` serves a local model of the Zenodo REST API on 127.0.0.1 with
generated records whose values are known functions of the coordinates
(:mod:`eostores_zenodo.testing.samples`).
"""

from __future__ import annotations

from .emulator import (
    CONCEPT_ID,
    EXTERNAL_DOI,
    EXTERNAL_RECORD_ID,
    LATEST_RECORD_ID,
    OLDER_RECORD_ID,
    EmulatedFile,
    EmulatedRecord,
    ZenodoEmulator,
)

__all__ = [
    "CONCEPT_ID",
    "EXTERNAL_DOI",
    "EXTERNAL_RECORD_ID",
    "LATEST_RECORD_ID",
    "OLDER_RECORD_ID",
    "EmulatedFile",
    "EmulatedRecord",
    "ZenodoEmulator",
]
