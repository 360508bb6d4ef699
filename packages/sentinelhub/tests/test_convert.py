"""Raw Process API answers: zlib-compressed samples described by the SH-* headers."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from eostores_sentinelhub.convert import raw_samples

from eostores.errors import ServiceError

SHAPE = (3, 4, 2)  # height, width, bands
HEADERS = {"SH-Width": "4", "SH-Height": "3", "SH-Components": "2", "SH-SampleType": "FLOAT32"}


def samples() -> np.ndarray:
    return np.arange(24, dtype="<f4").reshape(SHAPE) / 7


def test_raw_samples_are_inflated_in_c_order():
    content = zlib.compress(samples().tobytes(), 8)
    np.testing.assert_array_equal(raw_samples(content, HEADERS, SHAPE, "FLOAT32"), samples())


def test_raw_samples_without_the_headers_are_read_by_the_requested_shape():
    content = zlib.compress(samples().tobytes())
    np.testing.assert_array_equal(raw_samples(content, {}, SHAPE, "FLOAT32"), samples())


def test_auto_samples_are_bytes_whichever_name_the_service_gives_them():
    values = np.arange(24, dtype="uint8").reshape(SHAPE)
    for name in ("AUTO", "UINT8"):
        headers = {**HEADERS, "SH-SampleType": name}
        decoded = raw_samples(zlib.compress(values.tobytes()), headers, SHAPE, "AUTO")
        np.testing.assert_array_equal(decoded, values)


@pytest.mark.parametrize(
    ("header", "value"),
    [("SH-Width", "3"), ("SH-Height", "4"), ("SH-Components", "1"), ("SH-SampleType", "UINT16")],
)
def test_headers_describing_another_tile_are_a_service_error(header, value):
    content = zlib.compress(samples().tobytes())
    with pytest.raises(ServiceError, match=f"{header} '{value}'"):
        raw_samples(content, {**HEADERS, header: value}, SHAPE, "FLOAT32")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (samples().tobytes(), "not zlib-compressed"),  # the length alone would fit
        (zlib.compress(samples().tobytes()[:-4]), "exactly 96 bytes"),
        (zlib.compress(samples().tobytes() + bytes(10**7)), "exactly 96 bytes"),
        (zlib.compress(samples().tobytes())[:-6], "exactly 96 bytes"),  # stream cut short
    ],
    ids=["uncompressed", "short", "long", "truncated"],
)
def test_raw_answers_that_do_not_fill_the_tile_are_a_service_error(content, words):
    with pytest.raises(ServiceError, match=words):
        raw_samples(content, HEADERS, SHAPE, "FLOAT32")
