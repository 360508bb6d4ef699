"""A small PNG of the first variable at the first time step, from a coarse read.

Only every n-th cell along the two spatial dimensions of one time step is read (n chosen
so that the image is at most :data:`MAX_SIDE` pixels wide and high, and the same along
both, so that the picture keeps its proportions), so that a quicklook
of a large cube costs a few chunks' worth of reading, not the cube. The image is encoded
here with ``zlib`` (no imaging library needed) in a viridis-like colour scale; missing
values are transparent.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_SIDE", "Quicklook", "encode_png", "make_quicklook", "pick_variable"]

#: Largest width and height of a quicklook, in pixels.
MAX_SIDE = 256

#: Anchors of the colour scale (viridis), from low to high values.
_ANCHORS = (
    (68, 1, 84),
    (72, 40, 120),
    (62, 74, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (109, 205, 89),
    (180, 222, 44),
    (253, 231, 37),
)


@dataclass
class Quicklook:
    """The image and what it shows."""

    png: bytes
    variable: str
    selection: dict[str, str]
    minimum: float | None
    maximum: float | None
    units: str | None
    shape: tuple[int, int]
    step: tuple[int, int]

    def caption(self) -> str:
        where = ", ".join(f"{k} = {v}" for k, v in self.selection.items())
        text = self.variable + (f" at {where}" if where else "")
        if self.minimum is not None and self.maximum is not None:
            units = f" {self.units}" if self.units else ""
            text += f"; {self.minimum:.4g} to {self.maximum:.4g}{units}"
        else:
            text += "; no valid values"
        if self.step != (1, 1):
            text += f"; read 1 in {self.step[0]} rows, 1 in {self.step[1]} columns"
        return text


def pick_variable(dataset: Any) -> str | None:
    """The first data variable with at least two dimensions, else None."""
    for name, variable in dataset.data_vars.items():
        if variable.ndim >= 2:
            return str(name)
    return None


def _spatial_dims(variable: Any) -> tuple[str, str]:
    dims = [str(d) for d in variable.dims]
    for y_name, x_name in (("lat", "lon"), ("latitude", "longitude"), ("y", "x")):
        if y_name in dims and x_name in dims:
            return y_name, x_name
    return dims[-2], dims[-1]


def make_quicklook(dataset: Any, max_side: int = MAX_SIDE) -> Quicklook | None:
    """The quicklook of ``dataset`` (an xarray.Dataset), or None if no variable is 2-D."""
    import numpy as np

    name = pick_variable(dataset)
    if name is None:
        return None
    variable = dataset[name]
    y_dim, x_dim = _spatial_dims(variable)
    selection: dict[str, Any] = {}
    shown: dict[str, str] = {}
    for dim in variable.dims:
        if dim in (y_dim, x_dim):
            continue
        selection[dim] = 0
        if dim in variable.coords:
            shown[str(dim)] = _label(variable[dim].values[0])
    ny, nx = variable.sizes[y_dim], variable.sizes[x_dim]
    if 0 in (ny, nx) or any(variable.sizes[d] == 0 for d in selection):
        return None
    step = max(1, math.ceil(ny / max_side), math.ceil(nx / max_side))  # same on both axes
    step_y = step_x = step
    selection[y_dim] = slice(None, None, step_y)
    selection[x_dim] = slice(None, None, step_x)
    coarse = variable.isel(selection).transpose(y_dim, x_dim)
    values = np.asarray(coarse.values, dtype="float64")
    if y_dim in coarse.coords and coarse[y_dim].size > 1:
        y = np.asarray(coarse[y_dim].values)
        if np.issubdtype(y.dtype, np.number) and y[0] < y[-1]:
            values = values[::-1]  # north up
    finite = np.isfinite(values)
    low = float(values[finite].min()) if finite.any() else None
    high = float(values[finite].max()) if finite.any() else None
    rgba = _colorize(values, finite, low, high)
    return Quicklook(
        png=encode_png(rgba),
        variable=name,
        selection=shown,
        minimum=low,
        maximum=high,
        units=variable.attrs.get("units"),
        shape=(int(rgba.shape[0]), int(rgba.shape[1])),
        step=(step_y, step_x),
    )


def _label(value: Any) -> str:
    text = str(value)
    if "T" in text and text[:4].isdigit():
        text = text.split(".")[0].removesuffix("T00:00:00")
    return text


def _colorize(values: Any, finite: Any, low: float | None, high: float | None) -> Any:
    import numpy as np

    height, width = values.shape
    rgba = np.zeros((height, width, 4), dtype="uint8")
    if low is None or high is None:
        return rgba
    span = high - low
    scaled = np.zeros_like(values) if span == 0 else (np.where(finite, values, low) - low) / span
    anchors = np.array(_ANCHORS, dtype="float64")
    position = np.clip(scaled, 0, 1) * (len(anchors) - 1)
    index = np.minimum(position.astype(int), len(anchors) - 2)
    weight = (position - index)[..., None]
    colors = anchors[index] * (1 - weight) + anchors[index + 1] * weight
    rgba[..., :3] = np.round(colors).astype("uint8")
    rgba[..., 3] = np.where(finite, 255, 0)
    return rgba


def encode_png(rgba: Any) -> bytes:
    """An 8-bit RGBA PNG of an array of shape (height, width, 4)."""
    import numpy as np

    pixels = np.ascontiguousarray(rgba, dtype="uint8")
    height, width, channels = pixels.shape
    if channels != 4:
        raise ValueError("encode_png expects RGBA pixels of shape (height, width, 4)")
    rows = np.concatenate([np.zeros((height, 1), dtype="uint8"), pixels.reshape(height, -1)], 1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
