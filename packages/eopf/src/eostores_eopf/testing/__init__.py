"""Testing helpers of eostores-eopf: the EOPF sample service emulator and its sample data.

:class:`EopfEmulator` serves a STAC API with EOPF-like collections and items and the
EOPF-structured Zarr products they point to, whose values are known functions of position,
date and band (:mod:`.scenes`). Users can import these for their own tests; the runtime
modules of the package never do.
"""

from __future__ import annotations

from .emulator import CONFORMANCE_CLASSES, HOSTILE_ITEMS, EopfEmulator
from .zarrdata import ProductFiles, sample_dir

__all__ = ["CONFORMANCE_CLASSES", "HOSTILE_ITEMS", "EopfEmulator", "ProductFiles", "sample_dir"]
