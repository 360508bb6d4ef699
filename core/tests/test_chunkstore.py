"""Tests of eostores.chunkstore: a zarr v3 store computing chunks on demand."""

from __future__ import annotations

import asyncio
import json
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import xarray as xr
import zarr
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import default_buffer_prototype

from eostores.chunkstore import ChunkArray, ChunkStore
from eostores.errors import (
    AuthenticationError,
    DataStoreError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
)

SHAPE = (5, 23, 17)  # (time, y, x): every dimension has an edge chunk
CHUNKS = (2, 10, 8)
TIMES = np.arange("2021-03-01", "2021-03-06", dtype="datetime64[D]").astype("datetime64[ns]")
Y = 50.0 - 0.5 * np.arange(SHAPE[1])
X = 10.0 + 0.25 * np.arange(SHAPE[2])


def expected_values(shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """The value at each position: 10000 * t + 100 * y + x for (time, y, x), 100 * y + x in 2-D."""
    indices = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    total = sum(100 ** (len(shape) - 1 - k) * index for k, index in enumerate(indices))
    return np.asarray(total).astype("float32")


def cube_chunk(index: tuple[int, ...]) -> np.ndarray:
    """A picklable chunk function: the expected values of the chunk, at its true size."""
    region = tuple(
        slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(index, CHUNKS, SHAPE, strict=True)
    )
    return expected_values()[region]


class CountingChunks:
    """A chunk function counting its calls and the peak number running at once."""

    def __init__(self, array_shape, chunks, dtype="float32", delay=0.0, wait=None):
        self.array_shape = array_shape
        self.chunks = chunks
        self.dtype = dtype
        self.delay = delay
        self.wait = wait
        self.calls: list[tuple[int, ...]] = []
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, index):
        with self._lock:
            self.calls.append(index)
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if self.wait is not None:
                self.wait()
            if self.delay:
                time.sleep(self.delay)
            region = tuple(
                slice(i * c, min((i + 1) * c, n))
                for i, c, n in zip(index, self.chunks, self.array_shape, strict=True)
            )
            return expected_values(self.array_shape)[region].astype(self.dtype)
        finally:
            with self._lock:
                self.running -= 1


def cube_arrays(get_chunk) -> list[ChunkArray]:
    return [
        ChunkArray(
            "chl",
            ("time", "y", "x"),
            SHAPE,
            CHUNKS,
            "float32",
            get_chunk=get_chunk,
            attrs={
                "units": "mg m-3",
                "valid_range": np.array([0.0, 1e6]),
                "scale": np.float32(0.5),
                "missing": np.nan,
                "flags": {"land": 1},
            },
        ),
        ChunkArray("time", ("time",), SHAPE[:1], SHAPE[:1], TIMES.dtype, data=TIMES),
        ChunkArray("y", ("y",), SHAPE[1:2], SHAPE[1:2], "float64", data=Y),
        ChunkArray("x", ("x",), SHAPE[2:], SHAPE[2:], "float64", data=X),
    ]


def image_store(get_chunk, shape=(40, 40), chunks=(10, 10), dtype="float32", **kwargs):
    return ChunkStore(
        [ChunkArray("v", ("y", "x"), shape, chunks, dtype, get_chunk=get_chunk)], **kwargs
    )


def get_sync(store: ChunkStore, key: str, byte_range=None) -> bytes | None:
    async def read():
        value = await store.get(key, default_buffer_prototype(), byte_range)
        return None if value is None else value.to_bytes()

    return asyncio.run(read())


@pytest.fixture
def counting():
    return CountingChunks(SHAPE, CHUNKS)


@pytest.fixture
def cube(counting):
    store = ChunkStore(cube_arrays(counting), attrs={"title": "cube"}, name="cube-id")
    yield store
    store.close()


# ------------------------------------------------------------------- opening


def test_open_is_lazy_and_reads_metadata_once(cube, counting):
    ds = cube.open_dataset()

    assert counting.calls == []
    assert cube.stats["chunk_calls"] == 0
    assert cube.stats["metadata_reads"] == 1
    assert ds.chl.chunks is not None
    assert ds.chl.dims == ("time", "y", "x")
    np.testing.assert_array_equal(ds.y.values, Y)
    np.testing.assert_array_equal(ds.x.values, X)
    assert counting.calls == []


def test_xr_open_zarr_works_on_the_store_directly(cube, counting):
    ds = xr.open_zarr(cube, zarr_format=3)

    assert counting.calls == []
    assert ds.chl.encoding["chunks"] == CHUNKS
    np.testing.assert_array_equal(ds.chl.values, expected_values())


def test_attrs_of_root_and_arrays(cube):
    ds = cube.open_dataset()

    assert ds.attrs == {"title": "cube"}
    assert ds.chl.attrs["units"] == "mg m-3"
    assert ds.chl.attrs["valid_range"] == [0.0, 1e6]
    assert ds.chl.attrs["scale"] == 0.5 and ds.chl.attrs["flags"] == {"land": 1}
    assert np.isnan(ds.chl.attrs["missing"])


def test_time_coordinate_is_decoded_to_datetimes(cube):
    ds = cube.open_dataset()

    assert ds.time.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(ds.time.values, TIMES)
    assert ds.sel(time="2021-03-04").chl.shape == SHAPE[1:]


def test_missing_times_decode_to_nat():
    times = np.array(["2020-01-01T06:00", "NaT", "2020-01-03T18:30"], dtype="datetime64[s]")
    store = ChunkStore([ChunkArray("t", ("t",), (3,), (2,), times.dtype, data=times)])

    values = store.open_dataset().t.values

    np.testing.assert_array_equal(values, times.astype("datetime64[ns]"))


def test_units_on_datetime_arrays_are_rejected():
    with pytest.raises(InvalidParameterError, match="units"):
        ChunkArray("t", ("t",), (1,), (1,), TIMES.dtype, data=TIMES[:1], attrs={"units": "d"})


# ------------------------------------------------------------------- values


def test_values_match_the_function_of_the_coordinates(cube):
    ds = cube.open_dataset()

    np.testing.assert_array_equal(ds.chl.values, expected_values())


def test_values_after_isel_and_sel(cube, counting):
    ds = cube.open_dataset()
    expected = expected_values()

    subset = ds.chl.isel(time=3, y=slice(8, 21), x=[0, 16])
    np.testing.assert_array_equal(subset.values, expected[3, 8:21][:, [0, 16]])
    # time 3 is chunk 1; y 8..20 spans chunks 0, 1, 2; x 0 and 16 are chunks 0 and 2
    assert sorted(counting.calls) == sorted((1, y, x) for y in range(3) for x in (0, 2))

    point = ds.chl.sel(time="2021-03-05", y=Y[22], x=X[16])
    assert float(point) == expected[4, 22, 16]

    window = ds.chl.sel(y=slice(Y[2], Y[4]), x=slice(X[9], X[10]))
    np.testing.assert_array_equal(window.values, expected[:, 2:5, 9:11])


def test_reading_n_chunks_calls_the_function_n_times(cube, counting):
    ds = cube.open_dataset(chunks={})

    ds.chl.isel(time=0, y=slice(0, 10), x=slice(0, 16)).load()

    assert sorted(counting.calls) == [(0, 0, 0), (0, 0, 1)]
    ds.chl.load()
    n_chunks = 3 * 3 * 3
    assert len(counting.calls) == 2 + n_chunks
    assert cube.stats["chunk_calls"] == len(counting.calls)


def test_int16_with_fill_value_and_edge_chunks():
    shape, chunks = (7, 5), (3, 2)
    function = CountingChunks(shape, chunks, dtype="int16")
    store = ChunkStore(
        [ChunkArray("v", ("y", "x"), shape, chunks, "int16", get_chunk=function, fill_value=-9999)]
    )

    ds = store.open_dataset()

    assert ds.v.dtype == np.int16
    np.testing.assert_array_equal(ds.v.values, expected_values(shape).astype("int16"))
    assert zarr.open_array(store, path="v", mode="r").fill_value == -9999
    # an edge chunk is padded with the fill value up to the declared chunk shape
    edge = np.frombuffer(get_sync(store, "v/c/2/2"), dtype="<i2").reshape(chunks)
    assert edge[0, 0] == expected_values(shape)[6, 4]
    assert (edge[1:, :] == -9999).all() and edge[0, 1] == -9999


def test_fill_value_attribute_masks_values_in_xarray():
    def chunk(index):
        return np.array([[1, -1], [-1, 4]], dtype="int16")

    store = ChunkStore(
        [
            ChunkArray(
                "v",
                ("y", "x"),
                (2, 2),
                (2, 2),
                "int16",
                get_chunk=chunk,
                fill_value=-1,
                attrs={"_FillValue": -1},
            )
        ]
    )

    values = store.open_dataset().v.values

    np.testing.assert_array_equal(values, [[1, np.nan], [np.nan, 4]])


def test_full_size_edge_chunks_are_accepted():
    def chunk(index):
        return np.full((4, 4), index[0] * 10 + index[1], dtype="uint8")

    store = image_store(chunk, shape=(6, 5), chunks=(4, 4), dtype="uint8")

    values = store.open_dataset().v.values

    assert values.shape == (6, 5)
    assert values[5, 4] == 11 and values[0, 4] == 1 and values[5, 0] == 10


def test_zero_dimensional_array():
    store = ChunkStore([ChunkArray("s", (), (), (), "float64", get_chunk=lambda i: np.array(2.5))])

    assert float(store.open_dataset().s) == 2.5


def test_reading_through_listing_without_consolidated_metadata(cube):
    group = zarr.open_group(cube, mode="r", use_consolidated=False)

    assert sorted(group.array_keys()) == ["chl", "time", "x", "y"]
    np.testing.assert_array_equal(group["chl"][4, :, 16], expected_values()[4, :, 16])


def test_listing_and_exists(cube):
    async def collect(iterator):
        return [key async for key in iterator]

    top = asyncio.run(collect(cube.list_dir("")))
    chunk_dirs = asyncio.run(collect(cube.list_dir("chl/c/1")))
    keys = asyncio.run(collect(cube.list_prefix("chl/")))

    assert sorted(top) == ["chl", "time", "x", "y", "zarr.json"]
    assert chunk_dirs == ["0", "1", "2"]
    assert len(keys) == 1 + 27
    assert asyncio.run(cube.exists("chl/c/2/2/2"))
    assert not asyncio.run(cube.exists("chl/c/3/0/0"))
    assert not asyncio.run(cube.exists("nope/zarr.json"))
    assert get_sync(cube, "chl/c/9/9/9") is None
    assert cube.stats["chunk_calls"] == 0


def test_byte_ranges():
    store = image_store(
        lambda i: np.arange(4, dtype="<u2").reshape(2, 2),
        shape=(2, 2),
        chunks=(2, 2),
        dtype="uint16",
    )
    whole = get_sync(store, "v/c/0/0")

    assert whole == np.arange(4, dtype="<u2").tobytes()
    assert get_sync(store, "v/c/0/0", RangeByteRequest(2, 6)) == whole[2:6]
    assert get_sync(store, "v/c/0/0", OffsetByteRequest(5)) == whole[5:]
    assert get_sync(store, "v/c/0/0", SuffixByteRequest(3)) == whole[-3:]


# -------------------------------------------------------- concurrency, dedupe


def test_concurrent_reads_of_one_chunk_share_one_call():
    release = threading.Event()
    function = CountingChunks((20, 20), (10, 10), wait=lambda: release.wait(5))
    store = image_store(function, shape=(20, 20), chunks=(10, 10))
    array = zarr.open_array(store, path="v", mode="r")
    results = []

    def read():
        results.append(array[2:8, 1:9])

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while store.stats["shared_calls"] < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(5)

    assert function.calls == [(0, 0)]
    assert store.stats["shared_calls"] == 5
    assert len(results) == 6
    for result in results:
        np.testing.assert_array_equal(result, expected_values((20, 20))[2:8, 1:9])


def test_concurrent_gets_of_one_key_share_one_call():
    function = CountingChunks((20, 20), (10, 10), delay=0.1)
    store = image_store(function, shape=(20, 20), chunks=(10, 10))

    async def read_many():
        prototype = default_buffer_prototype()
        return await asyncio.gather(*(store.get("v/c/1/0", prototype) for _ in range(10)))

    values = asyncio.run(read_many())

    assert function.calls == [(1, 0)]
    assert len({value.to_bytes() for value in values}) == 1


def test_chunks_of_one_dask_task_are_fetched_concurrently():
    # a barrier of 4 only opens when 4 chunk functions run at the same time
    barrier = threading.Barrier(4, timeout=5)
    function = CountingChunks((40, 40), (10, 10), wait=barrier.wait)
    store = image_store(function, shape=(40, 40), chunks=(10, 10), max_workers=4)
    ds = store.open_dataset()

    values = ds.v.compute(scheduler="synchronous").values

    np.testing.assert_array_equal(values, expected_values((40, 40)))
    assert len(function.calls) == 16
    assert function.peak == 4


def test_zarr_async_concurrency_bounds_chunks_fetched_per_selection():
    function = CountingChunks((40, 40), (10, 10), delay=0.02)
    store = image_store(function, shape=(40, 40), chunks=(10, 10), max_workers=8)

    with zarr.config.set({"async.concurrency": 2}):
        store.open_dataset().v.compute(scheduler="synchronous")

    assert len(function.calls) == 16
    assert function.peak == 2


def test_max_workers_bounds_concurrent_calls():
    function = CountingChunks((60, 40), (10, 10), delay=0.02)
    store = image_store(function, shape=(60, 40), chunks=(10, 10), max_workers=3)

    store.open_dataset(chunks={"y": 60, "x": 40}).v.load()

    assert len(function.calls) == 24
    assert function.peak == 3
    assert store.stats["max_concurrent_calls"] == 3


def test_dask_chunks_group_zarr_chunks_per_task(cube):
    chunks = cube.dask_chunks()

    assert chunks["time"] % CHUNKS[0] == 0 and chunks["y"] % CHUNKS[1] == 0
    assert chunks["x"] % CHUNKS[2] == 0
    per_task = (
        min(chunks["time"], SHAPE[0])
        // CHUNKS[0]
        * -(-min(chunks["y"], SHAPE[1]) // CHUNKS[1])
        * -(-min(chunks["x"], SHAPE[2]) // CHUNKS[2])
    )
    assert 1 < per_task <= cube.max_workers


# ------------------------------------------------------------------- cache


def test_cache_serves_repeated_reads_within_its_byte_bound():
    function = CountingChunks((30, 10), (10, 10), dtype="float64")  # 800 bytes per chunk
    store = image_store(
        function, shape=(30, 10), chunks=(10, 10), dtype="float64", cache_bytes=2000
    )

    for key in ["v/c/0/0", "v/c/1/0", "v/c/0/0"]:
        get_sync(store, key)
    assert len(function.calls) == 2
    assert store.stats["cache_hits"] == 1

    get_sync(store, "v/c/2/0")  # evicts the least recently used chunk (1, 0)
    assert store.stats["cache_entries"] == 2
    assert store.stats["cache_bytes"] == 1600
    get_sync(store, "v/c/0/0")
    assert len(function.calls) == 3
    get_sync(store, "v/c/1/0")
    assert function.calls == [(0, 0), (1, 0), (2, 0), (1, 0)]
    assert store.stats["cache_bytes"] <= 2000


def test_no_cache_by_default():
    function = CountingChunks((10, 10), (10, 10))
    store = image_store(function, shape=(10, 10), chunks=(10, 10))
    ds = store.open_dataset()

    ds.v.compute()
    ds.v.compute()

    assert len(function.calls) == 2
    assert store.stats["cache_entries"] == 0


@pytest.mark.filterwarnings("ignore:The specified chunks separate")
def test_cached_dataset_reads_call_each_chunk_once():
    function = CountingChunks((40, 40), (10, 10))
    store = image_store(function, shape=(40, 40), chunks=(10, 10), cache_bytes=10**6)
    ds = store.open_dataset(chunks={"y": 5, "x": 40})  # two dask tasks read each zarr chunk

    np.testing.assert_array_equal(ds.v.values, expected_values((40, 40)))
    ds.v.mean().load()

    assert len(function.calls) == 16


# ------------------------------------------------------------------- errors


def failing_store(error: BaseException) -> ChunkStore:
    def chunk(index):
        raise error

    return image_store(chunk, shape=(20, 20), chunks=(10, 10), name="tiles")


@pytest.mark.parametrize("access", ["values", "compute", "no-dask"])
def test_function_exception_becomes_service_error(access):
    cause = ConnectionResetError("peer went away")
    store = failing_store(cause)

    with pytest.raises(ServiceError) as raised:
        if access == "values":
            store.open_dataset().v[15, 5].load()
        elif access == "compute":
            store.open_dataset(chunks={}).v.isel(y=slice(10, 20), x=slice(0, 10)).compute()
        else:
            xr.open_zarr(store, chunks=None).v[15, 5].load()

    message = str(raised.value)
    assert "'v'" in message and "(1, 0)" in message and "peer went away" in message
    assert "tiles" in message
    assert raised.value.__cause__ is cause
    assert store.stats["chunk_errors"] == 1


@pytest.mark.parametrize(
    "error",
    [AuthenticationError("token expired"), QuotaExceededError("too many requests", status=429)],
)
def test_data_store_errors_from_the_function_keep_their_class(error):
    store = failing_store(error)

    with pytest.raises(type(error)) as raised:
        store.open_dataset().v[3, 17].load()

    assert raised.value.message.startswith(error.message)
    assert "(0, 1)" in str(raised.value) and "'v'" in str(raised.value)
    assert getattr(raised.value, "status", None) == getattr(error, "status", None)
    assert raised.value.data_id == "tiles"
    assert error.message in ("token expired", "too many requests")  # the original is untouched


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        (np.zeros((10, 9), "float32"), "shape"),
        (np.zeros((10, 10), "float64"), "dtype"),
        (None, "shape"),
    ],
)
def test_wrong_result_becomes_service_error(result, problem):
    store = image_store(lambda index: result, shape=(20, 20), chunks=(10, 10))

    with pytest.raises(ServiceError, match=rf"chunk \(1, 1\) of variable 'v' has {problem}"):
        store.open_dataset().v[12, 12].load()


def test_safe_dtype_widening_is_accepted():
    store = image_store(
        lambda index: np.ones((10, 10), "int8"), shape=(10, 10), chunks=(10, 10), dtype="int32"
    )

    assert store.open_dataset().v.values.sum() == 100


def test_errors_are_not_cached_and_retried_on_next_read():
    attempts = []

    def flaky(index):
        attempts.append(index)
        if len(attempts) == 1:
            raise TimeoutError("slow")
        return np.ones((10, 10), "float32")

    store = image_store(flaky, shape=(10, 10), chunks=(10, 10), cache_bytes=10**6)
    ds = store.open_dataset()

    with pytest.raises(ServiceError):
        ds.v.load()
    assert ds.v.values.sum() == 100
    assert len(attempts) == 2


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"dims": ("y",), "shape": (2, 2), "chunks": (1, 1)}, "chunks"),
        ({"dtype": "U4"}, "dtype"),
        ({"dtype": "float32", "fill_value": "x"}, "fill_value"),
        ({"dtype": "uint8", "fill_value": 300}, "fill_value"),
        ({"chunks": (0, 2)}, "chunks"),
        ({"get_chunk": None}, "get_chunk"),
        ({"data": np.zeros((2, 2))}, "get_chunk"),
        ({"name": "a/b"}, "name"),
    ],
)
def test_invalid_array_definitions(kwargs, parameter):
    definition = {
        "name": "v",
        "dims": ("y", "x"),
        "shape": (2, 2),
        "chunks": (2, 2),
        "dtype": "float32",
        "get_chunk": lambda index: np.zeros((2, 2)),
    }
    definition.update(kwargs)

    with pytest.raises(InvalidParameterError) as raised:
        ChunkArray(**definition)

    assert raised.value.parameter == parameter


def test_dimension_sizes_must_agree():
    arrays = [
        ChunkArray("a", ("y",), (3,), (3,), "float64", data=np.zeros(3)),
        ChunkArray("b", ("y",), (4,), (4,), "float64", data=np.zeros(4)),
    ]

    with pytest.raises(InvalidParameterError, match="'y'"):
        ChunkStore(arrays)


# ----------------------------------------------------------- read-only, misc


def test_store_is_read_only(cube):
    value = default_buffer_prototype().buffer.from_bytes(b"x")

    for write in (cube.set("chl/zarr.json", value), cube.delete("chl/c/0/0/0")):
        with pytest.raises(InvalidParameterError, match="read-only"):
            asyncio.run(write)
    with pytest.raises(ValueError, match="read-only"):
        xr.Dataset({"a": ("x", [1])}).to_zarr(cube, mode="w")
    assert not cube.supports_writes and not cube.supports_deletes


def test_equality_and_repr(counting):
    first = ChunkStore(cube_arrays(counting), name="cube-id")
    same = ChunkStore(cube_arrays(counting), name="cube-id")
    other = ChunkStore(cube_arrays(CountingChunks(SHAPE, CHUNKS)), name="cube-id")

    assert first == same
    assert first != other
    text = repr(first)
    assert "cube-id" in text and "chl(time: 5, y: 23, x: 17) float32" in text
    assert "chunks (2, 10, 8)" in text


def test_close_shuts_the_executor_and_the_store_reopens(cube, counting):
    ds = cube.open_dataset()
    ds.chl[0, 0, 0].load()
    executor = cube._executor

    cube.close()

    assert executor._shutdown
    assert float(ds.chl[1, 1, 1]) == expected_values()[1, 1, 1]


# ------------------------------------------------------------------ pickling


def test_pickle_drops_runtime_state_and_keeps_equality():
    store = ChunkStore(cube_arrays(cube_chunk), name="cube-id", cache_bytes=10**6)
    store.open_dataset().chl.load()
    assert store.stats["cache_entries"] > 0

    clone = pickle.loads(pickle.dumps(store))

    assert clone == store
    assert clone.stats["cache_entries"] == 0 and clone.stats["chunk_calls"] == 0
    assert clone._executor is None
    np.testing.assert_array_equal(clone.open_dataset().chl.values, expected_values())


def test_store_and_dataset_compute_in_another_process(tmp_path: Path):
    by_reference = ChunkStore(cube_arrays(cube_chunk), name="ref")

    def closure_chunk(index, offset=7):
        return np.full((2, 3), offset + index[0], dtype="int32")

    by_value = ChunkStore(
        [ChunkArray("w", ("a", "b"), (4, 3), (2, 3), "int32", get_chunk=closure_chunk)]
    )
    (tmp_path / "store.pickle").write_bytes(pickle.dumps(by_reference))
    (tmp_path / "closure.pickle").write_bytes(cloudpickle.dumps(by_value))
    (tmp_path / "dataset.pickle").write_bytes(
        cloudpickle.dumps(by_reference.open_dataset().chl.isel(time=4))
    )
    script = textwrap.dedent(
        """
        import json, pickle, sys
        folder = sys.argv[1]
        load = lambda name: pickle.load(open(f"{folder}/{name}", "rb"))
        store = load("store.pickle")
        closure = load("closure.pickle")
        chl = load("dataset.pickle")
        print(json.dumps({
            "store": float(store.open_dataset().chl.sum()),
            "closure": closure.open_dataset().w.values.tolist(),
            "dataset": chl.values.tolist(),
        }))
        """
    )
    tests_folder = str(Path(__file__).parent)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {tests_folder!r})\n{script}",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["store"] == float(expected_values().sum(dtype="float64"))
    assert values["closure"] == [[7, 7, 7], [7, 7, 7], [8, 8, 8], [8, 8, 8]]
    np.testing.assert_array_equal(values["dataset"], expected_values()[4])


def test_errors_pickle_with_their_context():
    store = failing_store(RuntimeError("boom"))

    with pytest.raises(ServiceError) as raised:
        store.open_dataset().v.load()
    clone = pickle.loads(pickle.dumps(raised.value))

    assert isinstance(clone, DataStoreError)
    assert str(clone) == str(raised.value)
