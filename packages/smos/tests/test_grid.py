"""The pyramid's geometry, grid point ids, nearest points, decoding and sparse file reads."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pytest
from eostores_smos.convert import decode_values
from eostores_smos.grid import (
    PointIndex,
    grid_point_seqnum,
    level_shape,
    unit_vectors,
    window_for_bbox,
)
from eostores_smos.productfile import FileBytes, MissingBytes, SparseFile, read_variables

from eostores.errors import InvalidParameterError

RES0 = 360 / 8192


def test_level_shapes_halve():
    assert [level_shape(level) for level in range(5)] == [
        (4032, 8192),
        (2016, 4096),
        (1008, 2048),
        (504, 1024),
        (252, 512),
    ]


def test_window_covers_the_cells_overlapping_the_box():
    window = window_for_bbox(0, (0.0, 40.0, 10.0, 50.0))
    lon, lat = window.lon(), window.lat()
    assert lon[0] == pytest.approx(RES0 / 2) and lon[-1] - RES0 / 2 < 10 <= lon[-1] + RES0 / 2
    assert lat[0] + RES0 / 2 >= 50 > lat[0] - RES0 / 2 and lat[-1] - RES0 / 2 <= 40
    edges = window_for_bbox(2, (-180.0, -10.0, 180.0, 10.0))
    assert edges.cols == 2048 and edges.col0 == 0
    single = window_for_bbox(4, (1.0, 1.0, 1.001, 1.001))
    assert single.shape == (1, 1)
    wrapped = window_for_bbox(3, (170.0, 0.0, 190.0, 5.0))
    assert wrapped.lon()[0] < 180 < wrapped.lon()[-1]
    assert window_for_bbox(0, None).shape == (4032, 8192)
    with pytest.raises(InvalidParameterError, match="outside the grid"):
        window_for_bbox(0, (0.0, 88.7, 1.0, 90.0))


def test_grid_point_ids_map_to_sequence_numbers():
    # ids of the real products: the first zone is numbered 1.., the others from millions
    ids = np.array([2, 262144, 1000001, 6195236, 9262086, 0, 9999999])
    seqnum = grid_point_seqnum(ids)
    assert seqnum.tolist()[:5] == [2, 262144, 262146, 1768101, 2621383]
    assert seqnum[5] == 0 and seqnum[6] > 2621442


def test_nearest_points_agree_with_brute_force():
    rng = np.random.default_rng(3)
    lat = rng.uniform(-60, 60, 2000)
    lon = rng.uniform(-180, 180, 2000)
    index = PointIndex(lat, lon, max_km=400.0)
    qlat, qlon = np.linspace(-50, 50, 17), np.linspace(-170, 170, 23)
    found = index.nearest(qlat, qlon)
    grid_lat, grid_lon = np.meshgrid(qlat, qlon, indexing="ij")
    similarity = unit_vectors(grid_lat.ravel(), grid_lon.ravel()) @ unit_vectors(lat, lon).T
    best = np.argmax(similarity, axis=1)
    distance = np.arccos(np.clip(similarity.max(axis=1), -1, 1)) * 6371.0
    expected = np.where(distance <= 400.0, best, -1).reshape(found.shape)
    np.testing.assert_array_equal(found, expected)
    assert (found == -1).any() and (found >= 0).any()


def test_the_emulated_grid_leaves_no_pixel_farther_than_the_reach():
    from eostores_smos.config import MAX_POINT_DISTANCE_KM
    from eostores_smos.testing.dgg import emulated_grid

    grid = emulated_grid()
    near = (np.abs(grid.lat - 30) < 1) & (np.abs(grid.lon - 10) < 1)
    index = PointIndex(grid.lat[near], grid.lon[near], max_km=MAX_POINT_DISTANCE_KM)
    found = index.nearest(np.linspace(29.5, 30.5, 60), np.linspace(9.5, 10.5, 60))
    assert (found >= 0).all()


def test_decoding_applies_fill_values_and_scales():
    raw = np.array([0, 5, 10], dtype=np.uint8)
    attrs = {"_FillValue": np.uint8(0), "scale_factor": 0.2, "scale_offset": 1.0}
    np.testing.assert_allclose(decode_values(raw, attrs), [np.nan, 2.0, 3.0])
    floats = np.array([-999.0, 0.25, np.nan], dtype=np.float32)
    decoded = decode_values(floats, {"_FillValue": np.float32(-999.0)})
    assert decoded.dtype == np.float32 and np.isnan(decoded[[0, 2]]).all() and decoded[1] == 0.25


def test_file_bytes_merge_and_report_gaps():
    data = bytes(range(256)) * 400
    fetched = []

    def fetch(start, end):
        fetched.append((start, end))
        return data[start:end]

    store = FileBytes(fetch, len(data))
    store.fetch(0, 100)
    store.fetch(200, 300)
    assert store.missing(0, 400) == [(100, 200), (300, 400)]
    with pytest.raises(MissingBytes) as miss:
        store.read(50, 100)
    assert miss.value.start == 100
    store.fetch(100, 200)
    assert store.read(0, 300) == data[:300] and store.missing(0, 300) == []
    file = SparseFile(store)
    file.seek(-10, io.SEEK_END)
    assert file.tell() == len(data) - 10


def test_read_variables_fetches_only_what_the_variables_need(tmp_path):
    import concurrent.futures

    path = tmp_path / "product.nc"
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as h5:
        for n in range(12):
            values = rng.random(100_000).astype("float32")
            h5.create_dataset(f"v{n}", data=values, chunks=(100_000,), compression="gzip")
            h5[f"v{n}"].attrs["units"] = "1"
    content = path.read_bytes()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        found, data = read_variables(
            lambda s, e: content[s:e],
            len(content),
            ["v3", "v7", "nope"],
            pool,
            {"phony_dims": "sort"},
        )
    with h5py.File(path) as h5:
        np.testing.assert_array_equal(found["v3"][0], h5["v3"][...])
        np.testing.assert_array_equal(found["v7"][0], h5["v7"][...])
    assert "nope" not in found and found["v3"][1]["units"] == "1"
    assert data.fetched_bytes < 0.3 * len(content)


def _emulated_product(product_type: str) -> bytes:
    from eostores_smos.testing.orbits import HalfOrbit
    from eostores_smos.testing.products import product_bytes

    return product_bytes(product_type, HalfOrbit(1000), f"SM_OPER_{product_type}_test", False)


def test_contiguous_fields_are_read_from_their_own_bytes():
    """The one-byte fields of SM products are stored contiguous and uncompressed, as in
    the real products; a read fetches the metadata and those fields' bytes only."""
    import concurrent.futures

    content = _emulated_product("MIR_SMUDP2")
    names = ["Chi_2", "Chi_2_P", "RFI_Prob", "GQX", "S_Tree_1", "S_Tree_2"]
    with h5py.File(io.BytesIO(content)) as h5:
        layout = {h5[n].dtype.str + str(h5[n].chunks) + str(h5[n].compression) for n in names}
        expected = {n: h5[n][...] for n in names}
        spans = {n: (h5[n].id.get_offset(), h5[n].id.get_storage_size()) for n in names}
        assert h5["Soil_Moisture"].compression == "gzip"
    assert layout == {"|u1NoneNone"}
    wanted = names[:3]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        found, data = read_variables(lambda s, e: content[s:e], len(content), wanted, pool, {})
    for name in wanted:
        np.testing.assert_array_equal(found[name][0], expected[name])
        offset, size = spans[name]
        assert data.missing(offset, offset + size) == []
    assert float(found["Chi_2"][1]["scale_factor"][0]) == pytest.approx(0.20784314954653382)
    offset, size = spans["GQX"]
    assert data.missing(offset, offset + size) == [(offset, offset + size)]
    assert data.fetched_bytes < sum(spans[n][1] for n in wanted) + 128 * 1024


@pytest.mark.parametrize("data_id", ["SMOS-L2C-SM", "SMOS-L2C-OS"])
def test_descriptors_state_how_the_emulated_products_store_each_variable(data_id):
    """source_dtype and source_fill_value match the products: e.g. OS Coast_distance is
    uint8 with fill value 0 and scale factor 20, X_swath float32 in metres."""
    from eostores_smos.config import dataset_info

    info = dataset_info(data_id)
    with h5py.File(io.BytesIO(_emulated_product(info.product_type))) as h5:
        for variable in info.variables:
            stored = h5[variable.name]
            assert stored.dtype == np.dtype(variable.source_dtype), variable.name
            assert stored.attrs["_FillValue"][0] == variable.source_fill_value, variable.name
        if data_id == "SMOS-L2C-OS":
            coast = h5["Coast_distance"]
            assert (coast.dtype, coast.attrs["scale_factor"][0], coast.chunks) == ("u1", 20, None)
            assert (h5["X_swath"].dtype, h5["X_swath"].attrs["units"]) == ("f4", "m")
