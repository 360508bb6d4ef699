"""eostores.rangefs: range reads of NetCDF, GeoTIFF and Zarr over HTTP from an emulator."""

from __future__ import annotations

import io
import pickle
import uuid
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eostores.credentials import Secret
from eostores.errors import AuthenticationError, DataStoreError, InvalidParameterError
from eostores.http import BearerAuth, HttpConfig, new_session
from eostores.rangefs import RangeFileSystem, open_range_file
from eostores.testing import EmulatorServer, FaultProfile, Request, Response, route

LAT = np.linspace(-89.5, 89.5, 180)
LON = np.linspace(-179.5, 179.5, 360)


def value(time, lat, lon):
    """The known field every file serves."""
    return 1000.0 * time + 3.0 * lat + 0.5 * lon


def cube() -> xr.Dataset:
    time = np.arange(4.0)
    data = value(time[:, None, None], LAT[None, :, None], LON[None, None, :])
    return xr.Dataset(
        {"t2m": (("time", "lat", "lon"), data)}, coords={"time": time, "lat": LAT, "lon": LON}
    )


def netcdf_bytes() -> bytes:
    encoding = {"t2m": {"chunksizes": (1, 45, 90)}}
    return cube().to_netcdf(engine="h5netcdf", encoding=encoding)


def geotiff_bytes() -> bytes:
    import rasterio
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    band = value(0.0, LAT[::-1, None], LON[None, :]).astype("float32")
    profile = dict(
        driver="GTiff",
        width=360,
        height=180,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(-180, 90, 1, 1),
        tiled=True,
        blockxsize=64,
        blockysize=64,
    )
    with MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(band, 1)
        with rasterio.open(memory.name) as check:
            assert check.block_shapes[0] == (64, 64)
        return memory.read()


def zarr_files(directory: Path) -> dict[str, bytes]:
    """The files of a consolidated Zarr v3 store of :func:`cube`, by key."""
    root = directory / "cube.zarr"
    chunked = cube().chunk({"time": 1, "lat": 45, "lon": 90})
    chunked.to_zarr(root, zarr_format=3, consolidated=True)
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


class FileServer(EmulatorServer):
    """Static files with ranges under /files/, without ranges under /plain/."""

    name = "rangefiles"

    def __init__(self, files: dict[str, bytes], **kwargs):
        super().__init__(**kwargs)
        self.files = files
        self.token: str | None = None

    @route("GET", r"/files/(?P<key>.+)")
    def ranged(self, request: Request, key: str) -> Response:
        if self.token and request.bearer_token != self.token:
            return Response.json({"message": "token required"}, 401)
        if key not in self.files:
            return Response.json({"message": f"no such file {key}"}, 404)
        return Response.file(self.files[key], request)

    @route("GET", r"/plain/(?P<key>.+)")
    def plain(self, request: Request, key: str) -> Response:
        return Response(200, self.files[key], content_type="application/octet-stream")

    @route("HEAD", r"/nohead/(?P<key>.+)")
    def no_head(self, request: Request, key: str) -> Response:
        return Response(403)  # as presigned GET URLs answer HEAD

    @route("GET", r"/nohead/(?P<key>.+)")
    def no_head_get(self, request: Request, key: str) -> Response:
        return Response.file(self.files[key], request)


@pytest.fixture(scope="module")
def files():
    return {"t2m.nc": netcdf_bytes(), "dem.tif": geotiff_bytes(), "blob": bytes(range(256)) * 64}


@pytest.fixture
def server(files):
    with FileServer(dict(files)) as emulator:
        yield emulator


def session(**overrides):
    settings = dict(store_id=f"rangefs-{uuid.uuid4().hex[:6]}", retry_backoff_base=0.01)
    settings.update(overrides)
    return new_session(HttpConfig(**settings))


def gets(server, key):
    return [r for r in server.request_log if r.method == "GET" and r.path.endswith("/" + key)]


def test_netcdf_subset_reads_only_some_ranges(server, files):
    url = f"{server.url}/files/t2m.nc"
    with open_range_file(url, session=session(), block_size=64 * 1024) as file:
        dataset = xr.open_dataset(file, engine="h5netcdf")
        subset = dataset.t2m.isel(time=2).sel(lat=slice(10, 30), lon=slice(0, 40)).load()
    expected = value(2.0, subset.lat.values[:, None], subset.lon.values[None, :])
    np.testing.assert_allclose(subset.values, expected)
    requests = gets(server, "t2m.nc")
    assert requests and all(r.status == 206 for r in requests)
    assert sum(r.bytes_sent for r in requests) < len(files["t2m.nc"]) / 2


@pytest.mark.filterwarnings("ignore:FilePath is supplanted")
@pytest.mark.parametrize("how", ["file object", "opener"])
def test_geotiff_window_reads_some_tiles(server, files, how):
    import rasterio
    from rasterio.io import FilePath
    from rasterio.windows import Window

    url = f"{server.url}/files/dem.tif"
    fs = RangeFileSystem(session=session(), block_size=16 * 1024)
    with fs.open(url) as file:
        opened = rasterio.open(FilePath(file)) if how == "file object" else None
        opened = opened or rasterio.open(url, opener=fs.open)
        with opened as dataset:
            window = dataset.read(1, window=Window(200, 30, 20, 10))
    lat = 90 - (np.arange(30, 40) + 0.5)  # pixel centres of rows and columns
    lon = -180 + (np.arange(200, 220) + 0.5)
    np.testing.assert_allclose(window, value(0.0, lat[:, None], lon[None, :]), rtol=1e-6)
    assert sum(r.bytes_sent for r in gets(server, "dem.tif")) < len(files["dem.tif"]) / 2


def test_zarr_over_http_through_fsspec_store(tmp_path):
    from zarr.storage import FsspecStore

    with FileServer(zarr_files(tmp_path)) as server:
        fs = RangeFileSystem(session=session())
        store = FsspecStore.from_mapper(fs.get_mapper(f"{server.url}/files"), read_only=True)
        dataset = xr.open_zarr(store, consolidated=True)
        server.reset_log()
        block = dataset.t2m.isel(time=3, lat=slice(0, 45), lon=slice(90, 180)).values
        expected = value(3.0, LAT[:45, None], LON[None, 90:180])
        np.testing.assert_allclose(block, expected)
        chunk_requests = [r for r in server.request_log if "/t2m/c/" in r.path]
        assert len({r.path for r in chunk_requests}) == 1  # the one chunk that holds the block
        assert all(r.status in (200, 206) for r in server.request_log)


def test_a_server_that_ignores_ranges_is_sliced_and_read_once(server, files):
    fs = RangeFileSystem(session=session())
    url = f"{server.url}/plain/blob"
    blob = files["blob"]
    assert fs.cat_file(url, start=100, end=300) == blob[100:300]
    assert fs.cat_file(url, start=-10) == blob[-10:]
    with fs.open(url, block_size=512) as file:
        file.seek(5000)
        assert file.read(1000) == blob[5000:6000]
    assert fs.size(url) == len(blob)
    assert len(gets(server, "blob")) == 1  # remembered after the first full answer


def test_truncated_ranges_and_503s_are_retried(server, files):
    server.faults = FaultProfile(truncate_rate=0.3, error_rate=0.2, retry_after=0, seed=7)
    fs = RangeFileSystem(session=session(num_retries=10), block_size=1024)
    url = f"{server.url}/files/blob"
    with fs.open(url) as file:
        data = b"".join(iter(lambda: file.read(3000), b""))
    assert data == files["blob"]
    faults = {r.fault for r in server.request_log}
    assert {"truncate", "error"} <= faults


def test_size_without_head_and_missing_files(server, files):
    fs = RangeFileSystem(session=session())
    assert fs.size(f"{server.url}/nohead/blob") == len(files["blob"])
    assert fs.info(f"{server.url}/files/dem.tif")["size"] == len(files["dem.tif"])
    with pytest.raises(FileNotFoundError, match="nope"):
        fs.cat_file(f"{server.url}/files/nope", start=0, end=10)
    with pytest.raises(FileNotFoundError):
        fs.open(f"{server.url}/files/nope?token=tok-rangefs-1")
    assert not fs.exists(f"{server.url}/files/nope")
    with pytest.raises(DataStoreError, match="cannot list"):
        fs.ls(f"{server.url}/files")
    with pytest.raises(InvalidParameterError, match="mode"):
        fs.open(f"{server.url}/files/blob", "wb")


def test_pickled_filesystem_rebuilds_its_session_with_auth(server, files):
    token = "rangefs-secret-token-1"
    server.token = token
    fs = RangeFileSystem(
        session=new_session(
            HttpConfig(store_id="picklestore", num_retries=2), auth=BearerAuth(Secret(token))
        ),
        block_size=4096,
    )
    data = pickle.dumps(fs)
    assert token.encode() not in data
    restored = pickle.loads(data)
    assert restored.session.config == fs.session.config
    assert restored.blocksize == 4096
    url = f"{server.url}/files/blob"
    assert restored.cat_file(url, start=10, end=20) == files["blob"][10:20]
    with pytest.raises(AuthenticationError, match="token required"):
        RangeFileSystem(session=session()).cat_file(url, start=0, end=5)
    buffer = io.BytesIO()
    pickle.dump(restored.open(url), buffer)  # open files travel to workers too
    assert pickle.loads(buffer.getvalue()).read(4) == files["blob"][:4]


def test_a_known_byte_range_costs_one_request(server, files):
    fs = RangeFileSystem(session=session())
    url = f"{server.url}/files/blob"
    assert fs.cat_file(url, start=100, end=300) == files["blob"][100:300]
    assert [(r.method, r.status) for r in server.request_log] == [("GET", 206)]
