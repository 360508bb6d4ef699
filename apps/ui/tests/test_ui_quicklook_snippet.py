"""The quicklook PNG (coarse read, orientation, colours) and the Python snippet."""

from __future__ import annotations

import ast
import struct
import zlib

import numpy as np
import pytest
import xarray as xr
from eostores_ui.quicklook import encode_png, make_quicklook, pick_variable
from eostores_ui.snippet import python_snippet, secret_variable


def decode_png(data: bytes) -> np.ndarray:
    """The RGBA pixels of a PNG written by encode_png (filter 0 rows only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        position += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 6)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype="uint8")
    rows = raw.reshape(height, 1 + 4 * width)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 4)


def test_png_round_trip():
    pixels = np.random.default_rng(1).integers(0, 256, size=(7, 5, 4), dtype="uint8")
    assert (decode_png(encode_png(pixels)) == pixels).all()


def cube(ny: int = 600, nx: int = 1200, days: int = 3) -> xr.Dataset:
    lat = np.linspace(-89.85, 89.85, ny)
    lon = np.linspace(-179.85, 179.85, nx)
    day = np.arange(days)[:, None, None]
    values = (lat[None, :, None] + 0 * lon[None, None, :] + 100 * day).astype("float32")
    values[0, :10, :10] = np.nan
    return xr.Dataset(
        {
            "label": ("time", np.arange(days)),
            "t": (("time", "lat", "lon"), values, {"units": "K"}),
        },
        coords={"time": np.arange(days), "lat": lat, "lon": lon},
    ).chunk({"time": 1, "lat": 100, "lon": 100})


def test_first_variable_with_two_dimensions_is_shown():
    assert pick_variable(cube()) == "t"


def test_quicklook_is_small_north_up_and_of_the_first_time_step():
    data = cube()
    quicklook = make_quicklook(data)
    pixels = decode_png(quicklook.png)
    assert max(pixels.shape[:2]) <= 256
    assert quicklook.step == (5, 5)  # the same on both axes: proportions are kept
    assert pixels.shape[:2] == (120, 240)
    assert quicklook.variable == "t"
    assert quicklook.selection == {"time": "0"}
    # values of the first time step only (later steps are 100 and 200 higher)
    coarse = data.t[0, ::5, ::5]
    assert quicklook.minimum == pytest.approx(float(coarse.min()))
    assert quicklook.maximum == pytest.approx(float(coarse.max()))
    assert quicklook.maximum < 90
    # north up: the top row is the warmest (yellow, the end of the scale), bottom the coldest
    top, bottom = pixels[0, 120], pixels[-1, 120]
    assert top[0] > 200 and top[1] > 200
    assert bottom[2] > bottom[1] and bottom[0] < 100
    # missing values are transparent: the first rows/columns read are NaN in the south-west
    assert pixels[-1, 0, 3] == 0
    assert pixels[60, 120, 3] == 255


def test_quicklook_reads_the_first_time_step_only():
    import dask.array as da

    read: list[tuple[int, ...]] = []

    def block(values, block_info=None):
        read.append(tuple(block_info[0]["chunk-location"]))
        return values + 1.0

    lazy = da.zeros((4, 512, 1024), chunks=(1, 128, 128)).map_blocks(block, dtype="float64")
    data = xr.Dataset({"v": (("time", "y", "x"), lazy)})
    quicklook = make_quicklook(data, max_side=64)
    assert quicklook.step == (16, 16)
    assert decode_png(quicklook.png).shape[:2] == (32, 64)
    assert read, "nothing was read"
    assert {location[0] for location in read} == {0}
    assert len(read) <= 4 * 8


def test_no_quicklook_without_a_two_dimensional_variable():
    data = xr.Dataset({"v": ("time", np.arange(3.0))})
    assert make_quicklook(data) is None


def test_constant_or_empty_values():
    data = xr.Dataset({"v": (("y", "x"), np.full((4, 4), 2.0))})
    quicklook = make_quicklook(data)
    assert (quicklook.minimum, quicklook.maximum) == (2.0, 2.0)
    data = xr.Dataset({"v": (("y", "x"), np.full((4, 4), np.nan))})
    quicklook = make_quicklook(data)
    assert quicklook.minimum is None
    assert (decode_png(quicklook.png)[..., 3] == 0).all()
    assert "no valid values" in quicklook.caption()


# -- the snippet ------------------------------------------------------------------------------


def test_snippet_is_valid_python_with_the_parameters():
    code = python_snippet(
        "file",
        {"root": "/data", "max_depth": 2},
        "cube.zarr",
        {"variable_names": ["sst"], "bbox": [0, 40.5, 10, 50], "decode_cf": False},
    )
    tree = ast.parse(code)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    new_store = next(c for c in calls if getattr(c.func, "id", None) == "new_data_store")
    assert ast.literal_eval(new_store.args[0]) == "file"
    assert {k.arg: ast.literal_eval(k.value) for k in new_store.keywords} == {
        "root": "/data",
        "max_depth": 2,
    }
    open_data = next(c for c in calls if getattr(c.func, "attr", None) == "open_data")
    assert ast.literal_eval(open_data.args[0]) == "cube.zarr"
    assert {k.arg: ast.literal_eval(k.value) for k in open_data.keywords} == {
        "variable_names": ["sst"],
        "bbox": [0, 40.5, 10, 50],
        "decode_cf": False,
    }


def test_secrets_are_read_from_the_environment_never_written():
    code = python_snippet(
        "cds",
        {"cds_api_key": "0000-secret-1111", "endpoint_url": "http://x", "headers": None},
        "era5",
        {},
    )
    assert "0000-secret-1111" not in code
    assert "os.environ['CDS_API_KEY']" in code
    assert code.startswith("import os\n")
    assert "set CDS_API_KEY" in code
    code = python_snippet(
        "stac",
        {"url": "http://x", "headers": {"Authorization": "Bearer abc123", "Accept": "json"}},
        "item",
        {},
    )
    assert "abc123" not in code
    assert "os.environ['STAC_HEADERS_AUTHORIZATION']" in code
    assert "'Accept': 'json'" in code
    code = python_snippet("x", {"word": "hidden!"}, "d", {}, secret_names=["word"])
    assert "hidden!" not in code


def test_secret_variable_names():
    assert secret_variable("cds", "cds_api_key") == "CDS_API_KEY"
    assert secret_variable("stac", "key") == "STAC_KEY"
    assert secret_variable("stac-cdse", "secret") == "STAC_CDSE_SECRET"
