"""eostores stores for STAC catalogs and APIs."""

from __future__ import annotations

__version__ = "0.1.0"
