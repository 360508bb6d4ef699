"""Process API answers -> arrays: decoding GeoTIFF or raw samples, applying the data mask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from eostores.errors import ServiceError

from .catalog import SAMPLE_TYPES

if TYPE_CHECKING:
    import requests

__all__ = ["decode_samples", "masked_bands"]

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def decode_samples(
    response: requests.Response, width: int, height: int, bands: int, sample_type: str
) -> np.ndarray:
    """The answer as an array (height, width, bands) of the sample type's dtype.

    GeoTIFF answers are decoded with sentinelhub-py (tifffile); ``application/octet-stream``
    answers are raw little-endian samples, pixel-interleaved, row by row.
    """
    from sentinelhub import MimeType
    from sentinelhub.decoding import decode_data

    dtype = np.dtype(SAMPLE_TYPES[sample_type])
    content = response.content
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    url = getattr(response, "url", None)
    if content_type in ("image/tiff", "image/geotiff") or content[:4] in _TIFF_MAGIC:
        try:
            array = np.asarray(decode_data(content, MimeType.TIFF))
        except Exception as error:  # tifffile raises many kinds on a broken file
            raise ServiceError(
                f"the Process API answer is not a readable GeoTIFF ({type(error).__name__}: "
                f"{error})",
                url=url,
            ) from None
    elif content_type == "application/octet-stream":
        expected = width * height * bands * dtype.itemsize
        if len(content) != expected:
            raise ServiceError(
                f"the Process API answer has {len(content)} bytes, expected {expected} for "
                f"{width}x{height} pixels of {bands} {sample_type} samples",
                url=url,
            )
        array = np.frombuffer(content, dtype=dtype.newbyteorder("<")).reshape(height, width, bands)
    else:
        raise ServiceError(
            f"the Process API answered with content type {content_type or 'none'!r}, expected "
            "image/tiff or application/octet-stream",
            url=url,
        )
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.shape != (height, width, bands):
        raise ServiceError(
            f"the Process API answer has shape {array.shape}, expected {(height, width, bands)}",
            url=url,
        )
    return array.astype(dtype, copy=False)


def masked_bands(samples: np.ndarray, fill_values: Sequence[float | int]) -> np.ndarray:
    """The band samples (all but the last, the data mask) with no-data pixels filled."""
    data = np.array(samples[:, :, :-1], copy=True)
    no_data = samples[:, :, -1] == 0
    if no_data.any():
        for band, fill in enumerate(fill_values):
            data[:, :, band][no_data] = fill
    return data
