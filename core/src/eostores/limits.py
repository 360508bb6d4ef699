"""Size limits: refuse a grid that would not fit before allocating or requesting anything.

A user asking for a continent at 10 m resolution should get a clear error naming
``spatial_res`` and ``bbox`` and the size that would result, not a memory error minutes
later or a request the service rejects. Stores compute the shape the open parameters
imply and call :func:`check_grid_size` with the bound of the store parameter (or open
parameter) ``max_request_bytes`` (:func:`max_bytes_schema`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import InvalidParameterError

if TYPE_CHECKING:
    from .schema import JsonIntegerSchema

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_BYTES_PARAMETER",
    "check_grid_size",
    "format_bytes",
    "max_bytes_schema",
]

#: The name of the store or open parameter holding the bound.
MAX_BYTES_PARAMETER = "max_request_bytes"
#: The default bound: 4 GiB, a grid that still fits comfortably in a workstation's memory.
DEFAULT_MAX_BYTES = 4 * 1024**3


def format_bytes(size: int) -> str:
    """``size`` in bytes, for people: ``"1.5 GiB"``."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def check_grid_size(
    shape: Sequence[int],
    itemsize: int,
    *,
    max_bytes: int | None,
    store_id: str | None = None,
    data_id: str | None = None,
) -> int:
    """The size in bytes of a grid of ``shape`` with ``itemsize``-byte cells, if allowed.

    ``shape`` counts cells per dimension (time steps, bands and variables may be
    included); ``max_bytes=None`` means no bound. Raises
    :class:`~eostores.errors.InvalidParameterError` naming ``spatial_res`` and ``bbox``
    and the size the grid would have, when it exceeds ``max_bytes`` or a dimension is
    negative. Exact integer arithmetic: no overflow, whatever the shape.
    """
    dims = [int(n) for n in shape]
    if any(n < 0 for n in dims) or int(itemsize) < 1:
        raise InvalidParameterError(
            f"the requested grid has an invalid shape {tuple(dims)} (item size {itemsize}); "
            "check spatial_res and bbox",
            store_id=store_id,
            data_id=data_id,
            parameter="spatial_res",
        )
    size = math.prod(dims) * int(itemsize)
    if max_bytes is not None and size > max_bytes:
        cells = " x ".join(str(n) for n in dims)
        raise InvalidParameterError(
            f"the requested grid of {cells} cells of {itemsize} bytes would take "
            f"{format_bytes(size)} ({size} bytes), more than {MAX_BYTES_PARAMETER}="
            f"{max_bytes} ({format_bytes(max_bytes)}); choose a coarser spatial_res, a "
            f"smaller bbox or a shorter time_range, or raise {MAX_BYTES_PARAMETER}",
            store_id=store_id,
            data_id=data_id,
            parameter="spatial_res",
        )
    return size


def max_bytes_schema(default: int | None = DEFAULT_MAX_BYTES) -> JsonIntegerSchema:
    """The schema of the ``max_request_bytes`` parameter, with ``default`` (null: no bound)."""
    from .schema import JsonIntegerSchema

    shown = "no bound" if default is None else f"{default} bytes ({format_bytes(default)})"
    return JsonIntegerSchema(
        minimum=1,
        nullable=True,
        default=default,
        title="Largest grid a request may produce, in bytes",
        description="Opening data whose grid (cells x bytes per cell, over all variables "
        "and time steps) would be larger fails at once, naming spatial_res and bbox. "
        f"Default: {shown}; null means no bound.",
    )
