"""eostores.limits: oversized grids are refused before anything is allocated."""

from __future__ import annotations

import tracemalloc

import pytest

from eostores.errors import InvalidParameterError
from eostores.limits import (
    DEFAULT_MAX_BYTES,
    MAX_BYTES_PARAMETER,
    check_grid_size,
    format_bytes,
    max_bytes_schema,
)


def test_size_within_bound_is_returned():
    assert check_grid_size((10, 20, 30), 4, max_bytes=24_000) == 24_000
    assert check_grid_size((0, 10), 8, max_bytes=1) == 0
    assert check_grid_size((10**6, 10**6), 8, max_bytes=None) == 8 * 10**12


def test_oversized_grid_names_parameters_and_size():
    with pytest.raises(InvalidParameterError) as caught:
        check_grid_size(
            (365, 180_000, 360_000), 4, max_bytes=DEFAULT_MAX_BYTES, store_id="s", data_id="d"
        )
    error = caught.value
    text = str(error)
    assert error.parameter == "spatial_res"
    assert "spatial_res" in text and "bbox" in text and MAX_BYTES_PARAMETER in text
    assert str(365 * 180_000 * 360_000 * 4) in text
    assert "TiB" in text or "PiB" in text
    assert error.store_id == "s" and error.data_id == "d"


def test_huge_shapes_do_not_overflow_or_allocate():
    tracemalloc.start()
    try:
        with pytest.raises(InvalidParameterError):
            check_grid_size((2**62, 2**62, 2**62), 8, max_bytes=2**63 - 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


@pytest.mark.parametrize(("shape", "itemsize"), [((-1, 10), 4), ((10, 10), 0)])
def test_invalid_shapes_are_refused(shape, itemsize):
    with pytest.raises(InvalidParameterError):
        check_grid_size(shape, itemsize, max_bytes=None)


def test_bound_is_inclusive():
    check_grid_size((1024,), 1, max_bytes=1024)
    with pytest.raises(InvalidParameterError):
        check_grid_size((1025,), 1, max_bytes=1024)


def test_max_bytes_schema():
    schema = max_bytes_schema()
    assert schema.default == DEFAULT_MAX_BYTES
    assert str(DEFAULT_MAX_BYTES) in schema.description
    assert schema.validate_instance(None) is None
    assert schema.validate_instance(10) == 10
    for bad in (0, -5, 1.5, "big"):
        with pytest.raises(InvalidParameterError):
            schema.validate_instance(bad)
    assert max_bytes_schema(default=1000).default == 1000


def test_format_bytes():
    assert format_bytes(512) == "512 bytes"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"
