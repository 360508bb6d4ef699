"""GeoTIFF / COG reading: band variables, subsetting, overviews, remote range reads."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from eostores.descriptor import DatasetDescriptor, MultiLevelDatasetDescriptor
from eostores.errors import DataNotFoundError, DataStoreError, InvalidParameterError
from eostores.fs.formats import handler_for_path
from eostores.fs.geotiff import GeoTiffHandler, band_names
from eostores.mldataset import MultiLevelDataset
from eostores.testing.server import EmulatorServer, Request, Response, route

X0, Y0, RES = 500_000.0, 6_000_000.0, 10.0
NODATA = -9999.0


def red(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Band 1: column + 1000 * row, written as a function of the pixel-centre coordinates."""
    return (x - X0 - RES / 2) / RES + 1000 * (Y0 - RES / 2 - y) / RES


def nir(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -2 * red(x, y)


def expected(function, dataset) -> np.ndarray:
    return function(dataset.x.values[None, :], dataset.y.values[:, None])


def write_geotiff(
    path: Path,
    width: int = 512,
    height: int = 256,
    descriptions: tuple[str | None, ...] = ("red", "nir"),
    cog: bool = True,
    compress: str = "DEFLATE",
) -> Path:
    """A float32 GeoTIFF in UTM 32N whose pixel (0, 0) is nodata; COG with overviews."""
    functions = [red, nir, red][: len(descriptions)]
    x = X0 + RES / 2 + RES * np.arange(width)
    y = Y0 - RES / 2 - RES * np.arange(height)
    bands = np.stack([f(x[None, :], y[:, None]) for f in functions]).astype("float32")
    bands[:, 0, 0] = NODATA
    plain = path.with_suffix(".plain.tif") if cog else path
    profile = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=len(bands),
        dtype="float32",
        crs="EPSG:32632",
        transform=from_origin(X0, Y0, RES, RES),
        nodata=NODATA,
    )
    if cog:
        profile.update(tiled=True, blockxsize=128, blockysize=128)
    with rasterio.open(plain, "w", **profile) as target:
        target.write(bands)
        for index, description in enumerate(descriptions, start=1):
            if description:
                target.set_band_description(index, description)
    if cog:
        rasterio.shutil.copy(
            plain,
            path,
            driver="COG",
            blocksize=128,
            overview_resampling="average",
            compress=compress,
        )
        plain.unlink()
    return path


@pytest.fixture(scope="module")
def cog(tmp_path_factory) -> Path:
    return write_geotiff(tmp_path_factory.mktemp("raster") / "scene.tif")


@pytest.fixture
def handler() -> GeoTiffHandler:
    return GeoTiffHandler()


@pytest.fixture
def local_fs():
    return fsspec.filesystem("file")


def params(handler: GeoTiffHandler, data_type: str = "dataset", **values) -> dict:
    return handler.get_open_params_schema(data_type).validate_instance(values)


def test_handler_registration_and_band_naming_rule():
    assert isinstance(handler_for_path("a/scene.TIF"), GeoTiffHandler)
    assert isinstance(handler_for_path("scene.cog"), GeoTiffHandler)
    assert GeoTiffHandler.writable_types == ()
    assert band_names(("red", "nir")) == ("red", "nir")
    assert band_names((None,)) == ("band_1",)
    assert band_names(("red", "")) == ("band_1", "band_2")  # all or none
    assert band_names(("a", "a")) == ("band_1", "band_2")  # must be distinct


def test_open_gives_one_lazy_variable_per_band(cog, handler, local_fs):
    dataset = handler.open(local_fs, str(cog), "dataset", params(handler))
    assert list(dataset.data_vars) == ["red", "nir"]
    assert dataset.red.dims == ("y", "x")
    assert dataset.red.chunks is not None
    assert dataset.red.attrs["band"] == 1 and dataset.nir.attrs["band"] == 2
    assert "spatial_ref" in dataset.coords
    assert dataset.rio.crs.to_epsg() == 32632
    # default chunks: whole 128-pixel blocks near 512, at most the image size
    assert dataset.red.chunksizes["x"][0] == 512 and dataset.red.chunksizes["y"][0] == 256
    values = dataset.red.values
    assert np.isnan(values[0, 0])  # nodata became NaN
    values[0, 0] = 0.0
    np.testing.assert_array_equal(values, expected(red, dataset))
    np.testing.assert_array_equal(dataset.nir.values[1:, 1:], expected(nir, dataset)[1:, 1:])


def test_bbox_subset_keeps_the_right_pixels(cog, handler, local_fs):
    bbox = [X0 + 100, Y0 - 300, X0 + 400, Y0 - 100]
    dataset = handler.open(local_fs, str(cog), "dataset", params(handler, bbox=bbox))
    assert dataset.sizes == {"y": 20, "x": 30}
    assert dataset.x.values[0] == X0 + 105 and dataset.x.values[-1] == X0 + 395
    assert dataset.y.values[0] == Y0 - 105 and dataset.y.values[-1] == Y0 - 295
    np.testing.assert_array_equal(dataset.red.values, expected(red, dataset))
    assert dataset.rio.crs.to_epsg() == 32632


def test_variable_names_and_masking(cog, handler, local_fs):
    dataset = handler.open(
        local_fs, str(cog), "dataset", params(handler, variable_names=["nir"], masked=False)
    )
    assert list(dataset.data_vars) == ["nir"]
    assert dataset.nir.values[0, 0] == NODATA
    with pytest.raises(InvalidParameterError) as info:
        handler.open(local_fs, str(cog), "dataset", params(handler, variable_names=["blue"]))
    assert info.value.parameter == "variable_names"


def test_tile_size_and_chunks_set_the_dask_chunks(cog, handler, local_fs):
    dataset = handler.open(local_fs, str(cog), "dataset", params(handler, tile_size=[32, 16]))
    assert dataset.red.chunksizes["x"][0] == 32 and dataset.red.chunksizes["y"][0] == 16
    dataset = handler.open(
        local_fs, str(cog), "dataset", params(handler, tile_size=32, chunks={"x": 128, "y": 64})
    )
    assert dataset.red.chunksizes["x"][0] == 128 and dataset.red.chunksizes["y"][0] == 64


def test_overview_level_reads_the_averaged_overview(cog, handler, local_fs):
    dataset = handler.open(local_fs, str(cog), "dataset", params(handler, overview_level=0))
    assert dataset.sizes == {"y": 128, "x": 256}
    assert dataset.x.values[1] - dataset.x.values[0] == 2 * RES
    values = dataset.red.values
    # the mean of a linear function over a 2x2 block is its value at the block centre;
    # only the first block holds the nodata pixel
    np.testing.assert_allclose(values.ravel()[1:], expected(red, dataset).ravel()[1:])
    with pytest.raises(InvalidParameterError) as info:
        handler.open(local_fs, str(cog), "dataset", params(handler, overview_level=2))
    assert info.value.parameter == "overview_level"


def test_multi_level_dataset_over_the_overviews(cog, handler, local_fs):
    bbox = [X0, Y0 - 640, X0 + 1280, Y0]
    mld = handler.open(local_fs, str(cog), "mldataset", params(handler, "mldataset", bbox=bbox))
    assert isinstance(mld, MultiLevelDataset)
    assert mld.num_levels == 3
    assert mld.resolutions == ((RES, RES), (2 * RES, 2 * RES), (4 * RES, 4 * RES))
    for level in range(3):
        dataset = mld.get_dataset(level)
        assert dataset.sizes == {"y": 64 // 2**level, "x": 128 // 2**level}
        np.testing.assert_allclose(
            dataset.red.values.ravel()[1:], expected(red, dataset).ravel()[1:]
        )
    restored = pickle.loads(pickle.dumps(mld))
    np.testing.assert_array_equal(restored.get_dataset(2).nir.values, mld.get_dataset(2).nir.values)
    assert "overview_level" not in handler.get_open_params_schema("mldataset").properties


def test_plain_single_band_file_is_band_1(tmp_path, handler, local_fs):
    path = write_geotiff(
        tmp_path / "plain.tiff", width=40, height=30, descriptions=(None,), cog=False
    )
    dataset = handler.open(local_fs, str(path), "dataset", params(handler))
    assert list(dataset.data_vars) == ["band_1"]
    mld = handler.open(local_fs, str(path), "mldataset", params(handler, "mldataset"))
    assert mld.num_levels == 1


def test_describe(cog, handler, local_fs):
    descriptor = handler.describe(local_fs, str(cog), "scene.tif", "dataset")
    assert type(descriptor) is DatasetDescriptor
    assert descriptor.crs == "EPSG:32632"
    assert descriptor.bbox == pytest.approx((X0, Y0 - 2560, X0 + 5120, Y0))
    assert descriptor.spatial_res == RES
    assert set(descriptor.data_vars) == {"red", "nir"}
    levels = handler.describe(local_fs, str(cog), "scene.tif", "mldataset")
    assert isinstance(levels, MultiLevelDatasetDescriptor)
    assert levels.num_levels == 3


def test_missing_and_broken_files(tmp_path, handler, local_fs):
    with pytest.raises(DataNotFoundError):
        handler.open(local_fs, str(tmp_path / "none.tif"), "dataset", params(handler))
    broken = tmp_path / "broken.tif"
    broken.write_text("not a tiff")
    with pytest.raises(DataStoreError, match="GeoTIFF"):
        handler.open(local_fs, str(broken), "dataset", params(handler))
    with pytest.raises(InvalidParameterError):
        handler.write(None, local_fs, str(tmp_path / "out.tif"), {})


def test_memory_filesystem(cog, handler):
    fs = fsspec.filesystem("memory")
    path = f"/raster-{uuid.uuid4().hex}/scene.tif"
    fs.pipe_file(path, cog.read_bytes())
    try:
        bbox = [X0 + 1000, Y0 - 500, X0 + 1200, Y0 - 300]
        dataset = handler.open(fs, path, "dataset", params(handler, bbox=bbox))
        assert dataset.sizes == {"y": 20, "x": 20}
        np.testing.assert_array_equal(dataset.red.values, expected(red, dataset))
        assert dataset.rio.crs.to_epsg() == 32632
        mld = handler.open(fs, path, "mldataset", params(handler, "mldataset"))
        level = pickle.loads(pickle.dumps(mld)).get_dataset(1)
        np.testing.assert_allclose(level.red.values[1:, 1:], expected(red, level)[1:, 1:])
        with pytest.raises(DataNotFoundError):
            handler.open(fs, path + ".missing.tif", "dataset", {})
    finally:
        fs.rm(path.rsplit("/", 1)[0], recursive=True)


def test_remote_files_opened_and_closed_in_different_threads(cog, handler):
    fs = fsspec.filesystem("memory")
    path = f"/raster-{uuid.uuid4().hex}/scene.tif"
    fs.pipe_file(path, cog.read_bytes())
    opened = {}

    def open_in_thread():
        opened["dataset"] = handler.open(fs, path, "dataset", params(handler, overview_level=1))
        opened["value"] = float(opened["dataset"].red[3, 3])

    try:
        worker = threading.Thread(target=open_in_thread)
        worker.start()
        worker.join()
        main = handler.open(fs, path, "dataset", params(handler))
        assert float(main.red[3, 3]) == 3003.0
        opened["dataset"].close()  # opened in the worker, closed here
        closer = threading.Thread(target=main.close)  # and the other way round
        closer.start()
        closer.join()
        assert opened["value"] == pytest.approx(red(X0 + 4 * 3.5 * RES, Y0 - 4 * 3.5 * RES))
        # closed datasets reopen on access
        assert float(main.red[3, 3]) == 3003.0
        main.close()
    finally:
        fs.rm(path.rsplit("/", 1)[0], recursive=True)


@pytest.mark.slow
def test_interpreter_exits_cleanly_with_remote_files_left_open(cog):
    """Files opened through fsspec and never closed must not crash the interpreter at exit."""
    code = f"""
import fsspec
from eostores.fs.geotiff import GeoTiffHandler
fs = fsspec.filesystem("memory")
fs.pipe_file("/exit/scene.tif", open({str(cog)!r}, "rb").read())
dataset = GeoTiffHandler().open(fs, "/exit/scene.tif", "dataset", {{}})
print(float(dataset.red[5, 5]))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == 5005.0


class StaticFiles(EmulatorServer):
    """Serves the files of one directory with byte ranges, like any static web server."""

    name = "static-files"

    def __init__(self, directory: Path, **kwargs):
        super().__init__(**kwargs)
        self.directory = directory

    @route("GET", r"/files/(?P<name>[^/]+)")
    def get_file(self, request: Request, name: str) -> Response:
        path = self.directory / name
        if not path.is_file():
            return Response.text("Not Found", 404)
        return Response.file(path, request)


def test_https_reads_only_the_byte_ranges_it_needs(tmp_path, handler):
    path = write_geotiff(tmp_path / "big.tif", width=512, height=512, compress="NONE")
    size = os.path.getsize(path)
    with StaticFiles(tmp_path) as server:
        fs = fsspec.filesystem("http", block_size=16 * 1024, skip_instance_cache=True)
        url = f"{server.url}/files/big.tif"
        bbox = [X0 + 1280, Y0 - 1920, X0 + 1920, Y0 - 1280]  # 64 x 64 pixels of one block
        dataset = handler.open(fs, url, "dataset", params(handler, bbox=bbox, tile_size=128))
        np.testing.assert_array_equal(dataset.red.values, expected(red, dataset))
        log = server.request_log
        assert sum(record.bytes_sent for record in log) < size / 4
        assert any(record.status == 206 for record in log)
        assert all(record.path == "/files/big.tif" for record in log)  # no sidecar probes
        assert dataset.sizes == {"y": 64, "x": 64}
        with pytest.raises(DataNotFoundError):
            handler.open(fs, f"{server.url}/files/none.tif", "dataset", {})

        # several open datasets of one file (here its levels) stay independent
        mld = handler.open(fs, url, "mldataset", params(handler, "mldataset", bbox=bbox))
        levels = [mld.get_dataset(level) for level in range(mld.num_levels)]
        for level in levels:
            values = level.red.values
            np.testing.assert_allclose(values, expected(red, level))
        dataset.close()
        mld.close()
        assert mld.get_dataset(1).red.values.shape == levels[1].red.shape  # reopens
        mld.close()
