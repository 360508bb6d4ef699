"""Opening cubes and pyramids against the emulator: values after gridding, laziness, reads."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BBOX, DAY, OS, SEA_BBOX, SM, expected_cube, mid_time, requests_to, tolerance
from eostores_smos.testing import land_index

from eostores.errors import InvalidParameterError
from eostores.mldataset import MultiLevelDataset

LEVEL0_RES = 360 / 8192


def check_values(dataset, data_id, name, *, min_filled=0.05):
    """Every filled pixel holds the function's value at the pixel centre (within the
    nearest-point tolerance); most pixels under the swaths are filled."""
    actual = dataset[name].values
    expected = expected_cube(dataset, data_id, name)
    filled = np.isfinite(actual)
    assert filled.mean() >= min_filled, f"{name}: only {filled.mean():.1%} of pixels filled"
    both = filled & np.isfinite(expected)
    error = np.abs(actual[both] - expected[both])
    assert error.max() <= tolerance(data_id, name), f"{name}: max error {error.max()}"
    return filled


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_soil_moisture_at_every_level(store, level):
    cube = store.open_data(
        SM, time_range=[DAY, DAY], bbox=BBOX, res_level=level, variable_names=["Soil_Moisture"]
    )
    res = LEVEL0_RES * 2**level
    assert cube.attrs["spatial_res"] == res
    assert np.allclose(np.diff(cube.lon.values), res)
    assert np.allclose(np.diff(cube.lat.values), -res)
    # the cube covers the cells overlapping the box, no more
    assert cube.lon.values[0] - res / 2 <= BBOX[0] < cube.lon.values[0] + res / 2
    assert cube.lat.values[0] - res / 2 < BBOX[3] <= cube.lat.values[0] + res / 2
    assert cube.Soil_Moisture.chunks is not None
    assert cube.sizes["time"] >= 2
    times = cube.time.values
    assert all(
        np.datetime64(f"{DAY}T00:00") <= t <= np.datetime64(f"{DAY}T23:59:59") for t in times
    )
    loaded = cube.compute()
    filled = check_values(loaded, SM, "Soil_Moisture", min_filled=0.01)
    # soil moisture is missing over the emulated sea, present elsewhere under a swath
    lat, lon = np.meshgrid(loaded.lat.values, loaded.lon.values, indexing="ij")
    sea = land_index(lat, lon) < -0.7
    assert not filled[:, sea].any()


def test_all_variables_of_both_ids(store):
    for data_id, bbox in ((SM, BBOX), (OS, SEA_BBOX)):
        cube = store.open_data(data_id, time_range=[DAY, DAY], bbox=bbox, res_level=2)
        loaded = cube.compute()
        assert loaded.sizes["time"] >= 2
        for name in loaded.data_vars:
            assert loaded[name].dtype == np.float32
            if name == "Mean_acq_time":
                continue  # the time of each point's acquisition, checked below
            check_values(loaded, data_id, name, min_filled=0.01)
    acquired = loaded.Mean_acq_time.values
    assert np.isfinite(acquired).any()
    for step, (start, end) in enumerate(loaded.time_bnds.values):
        days = acquired[step][np.isfinite(acquired[step])]
        since = (np.array([start, end]) - np.datetime64("2000-01-01")) / np.timedelta64(1, "D")
        assert np.all((days >= since[0] - 1e-3) & (days <= since[1] + 1e-3))


def test_nearest_grid_point_is_taken(store, emulator):
    """Pixel values are those of the product's grid point nearest to the pixel centre."""
    from eostores_smos.grid import unit_vectors
    from eostores_smos.testing.dgg import emulated_grid

    cube = store.open_data(
        SM, time_range=[DAY, DAY], bbox=[4, 44, 5, 45], variable_names=["Soil_Moisture"]
    ).compute()
    step = int(np.argmax(np.isfinite(cube.Soil_Moisture.values).sum(axis=(1, 2))))
    name = cube.attrs["products"][step]
    product = emulator.model.product_for_path(
        f"SMOS/L2SM/MIR_SMUDP2/{name[19:23]}/{name[23:25]}/{name[25:27]}/{name}/{name}.nc"
    )
    from eostores_smos.testing.products import product_points

    grid = emulated_grid()
    points = product_points(product.orbit)
    points = points[(np.abs(grid.lat[points] - 44.5) < 1.5) & (np.abs(grid.lon[points] - 4.5) < 2)]
    xyz = unit_vectors(grid.lat[points], grid.lon[points])  # from the stored positions
    lat, lon = np.meshgrid(cube.lat.values, cube.lon.values, indexing="ij")
    similarity = unit_vectors(lat.ravel(), lon.ravel()) @ xyz.T
    nearest = np.argmax(similarity, axis=1)
    runner_up = np.partition(similarity, -2, axis=1)[:, -2]
    clear = similarity[np.arange(nearest.size), nearest] - runner_up > 1e-12  # no tie
    expected = cube.Soil_Moisture.values[step].ravel()
    from eostores_smos.testing import expected_value

    at_points = expected_value(
        "MIR_SMUDP2",
        "Soil_Moisture",
        grid.lat[points][nearest],
        grid.lon[points][nearest],
        mid_time(cube.time.values[step]),
    ).astype(np.float32)
    filled = np.isfinite(expected)
    assert filled.mean() > 0.5 and clear.mean() > 0.9
    np.testing.assert_array_equal(expected[filled & clear], at_points[filled & clear])


def test_mldataset_opener_gives_five_levels(store):
    pyramid = store.open_data(
        OS,
        opener_id="mldataset:zarr:smos",
        time_range=[DAY, DAY],
        bbox=SEA_BBOX,
        variable_names=["SSS_corr"],
    )
    assert isinstance(pyramid, MultiLevelDataset)
    assert pyramid.num_levels == 5
    sizes = [pyramid.get_dataset(level).sizes["lon"] for level in range(5)]
    assert sizes[0] > sizes[1] > sizes[2] > sizes[3] >= sizes[4] >= 1
    coarse = pyramid.get_dataset(3).compute()
    check_values(coarse, OS, "SSS_corr", min_filled=0.01)
    same = store.open_data(
        OS, data_type="mldataset", time_range=[DAY, DAY], bbox=SEA_BBOX, variable_names=["SSS_corr"]
    )
    assert isinstance(same, MultiLevelDataset)


def test_spatial_res_selects_the_level(store):
    cube = store.open_data(
        SM, time_range=[DAY, DAY], bbox=BBOX, spatial_res=LEVEL0_RES * 4, variable_names=[]
    )
    assert cube.attrs["res_level"] == 2
    with pytest.raises(InvalidParameterError, match="spatial_res"):
        store.open_data(
            SM, time_range=[DAY, DAY], bbox=BBOX, spatial_res=LEVEL0_RES * 4, res_level=3
        )


def test_no_variables_keeps_dimensions_and_reads_nothing(store, emulator):
    cube = store.open_data(SM, time_range=[DAY, DAY], bbox=BBOX, variable_names=[])
    assert not cube.data_vars
    assert set(cube.sizes) >= {"time", "lat", "lon"}
    cube.compute()
    assert not requests_to(emulator, "/eodata")


def test_empty_period_gives_an_empty_time_axis(store):
    cube = store.open_data(SM, time_range=["2009-06-01", "2009-06-02"], bbox=BBOX)
    assert cube.sizes["time"] == 0
    assert cube.Soil_Moisture.shape[0] == 0
    assert cube.compute().Soil_Moisture.size == 0


def test_box_across_the_antimeridian_in_0_to_360(store, emulator):
    bbox = [176.0, -20.0, 184.0, -10.0]
    cube = store.open_data(
        SM, time_range=[DAY, DAY], bbox=bbox, res_level=3, variable_names=["Soil_Moisture"]
    )
    lon = cube.lon.values
    assert lon[0] < 180 < lon[-1] and np.all(np.diff(lon) > 0)
    searches = [r.query.get("bbox") for r in requests_to(emulator, "/stac")]
    assert len(searches) == 2 and all(float(s.split(",")[2]) <= 180 for s in searches)
    check_values(cube.compute(), SM, "Soil_Moisture", min_filled=0.01)


def test_box_with_xmin_above_xmax_is_refused_as_the_conventions_say(store, emulator):
    with pytest.raises(InvalidParameterError, match="antimeridian") as caught:
        store.open_data(SM, time_range=[DAY, DAY], bbox=[176, -20, -176, -10])
    assert caught.value.parameter == "bbox"
    assert not emulator.request_log


def test_products_are_read_in_ranges_not_whole(store, emulator):
    cube = store.open_data(
        SM, time_range=[DAY, DAY], bbox=BBOX, variable_names=["Soil_Moisture"], res_level=1
    )
    cube.compute()
    reads = requests_to(emulator, "/eodata")
    files = {r.path for r in reads}
    assert len(files) == cube.sizes["time"]
    sizes = sum(
        (emulator.model.data_dir / p.removeprefix("/eodata/")).stat().st_size for p in files
    )
    fetched = sum(r.bytes_sent for r in reads)
    assert all(r.method == "HEAD" or "range" in r.headers for r in reads)
    assert fetched < 0.4 * sizes, f"fetched {fetched} of {sizes} bytes"


def test_open_from_s3_archive(emulator, moto_archive, make_store):
    store = make_store(emulator, **moto_archive.store_params())
    cube = store.open_data(
        SM, time_range=[DAY, DAY], bbox=BBOX, res_level=2, variable_names=["Soil_Moisture"]
    )
    check_values(cube.compute(), SM, "Soil_Moisture", min_filled=0.01)
    assert not requests_to(emulator, "/eodata")
