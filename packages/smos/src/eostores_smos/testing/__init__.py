"""Testing helpers of eostores-smos: the emulated catalogue and archive, and their data.

:class:`SmosEmulator` serves a STAC catalogue of SMOS products and an https mirror of the
archive; :class:`MotoArchive` runs an S3 archive (moto) holding the same products. Product
values are a known function of position and time (:func:`expected_value`). Users can
import these for their own tests; the runtime modules of the package never do.
"""

from __future__ import annotations

from .archive import BUCKET, ArchiveModel, EmulatedProduct
from .emulator import INTERNAL_HOST, SmosEmulator
from .moto import MotoArchive
from .orbits import EPOCH, HalfOrbit
from .products import FIELDS, OLD_VERSION_OFFSET, expected_value, field, land_index

__all__ = [
    "BUCKET",
    "EPOCH",
    "FIELDS",
    "INTERNAL_HOST",
    "OLD_VERSION_OFFSET",
    "ArchiveModel",
    "EmulatedProduct",
    "HalfOrbit",
    "MotoArchive",
    "SmosEmulator",
    "expected_value",
    "field",
    "land_index",
]
