"""Opening shots through the real gedidb against the emulator: values after selection."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ALL_TIME, BOX, in_box
from eostores_gedidb.testing import VARIABLES, expected_value

LEVEL_VARIABLES = {
    level: [
        v.name for v in VARIABLES.values() if v.product_level == level and v.name != "shot_number"
    ]
    for level in ("L2A", "L2B", "L4A", "L4C")
}


def _by_shot(shots, numbers):
    index = {int(n): i for i, n in enumerate(shots["shot_number"])}
    return np.array([index[int(n)] for n in numbers])


def _check_values(dataset, shots):
    """Every variable of ``dataset`` holds expected_value of each shot's coordinates."""
    rows = _by_shot(shots, dataset["shot_number"].values)
    np.testing.assert_array_equal(dataset["latitude"].values, shots["latitude"][rows])
    np.testing.assert_array_equal(dataset["longitude"].values, shots["longitude"][rows])
    days = (dataset["time"].values.astype("datetime64[D]") - np.datetime64("1970-01-01")).astype(
        int
    )
    np.testing.assert_array_equal(days, shots["time"][rows])
    lat, lon = dataset["latitude"].values, dataset["longitude"].values
    for name, variable in dataset.data_vars.items():
        values = variable.values
        if variable.ndim == 1:
            want = expected_value(name, lat, lon, days)
            np.testing.assert_array_equal(values, want, err_msg=name)
        else:
            index = np.arange(values.shape[1])
            want = expected_value(name, lat[:, None], lon[:, None], days[:, None], index[None, :])
            np.testing.assert_array_equal(values, want, err_msg=name)


@pytest.mark.parametrize("data_id", ["L2A", "L2B", "L4A", "L4C"])
def test_every_level_opens_its_variables_with_their_values(warm_store, shots, data_id):
    dataset = warm_store.open_data(data_id, bbox=[9.5, 45.5, 9.7, 45.7], time_range=ALL_TIME)
    assert sorted(dataset.data_vars) == sorted(LEVEL_VARIABLES[data_id])
    assert dataset.sizes["shot_number"] == int(in_box(shots, [9.5, 45.5, 9.7, 45.7]).sum()) > 0
    for name, variable in dataset.data_vars.items():
        assert variable.chunks is not None, "variables are dask arrays"
        assert variable.attrs["product_level"] == data_id
        assert variable.attrs["units"] == VARIABLES[name].units
    _check_values(dataset, shots)


def test_all_combines_levels_and_profiles_keep_their_own_dimensions(warm_store, shots):
    dataset = warm_store.open_data(
        "all",
        variable_names=["rh", "cover_z", "pai_z", "agbd", "wsci"],
        bbox=[10.2, 46.2, 10.4, 46.4],
        time_range=ALL_TIME,
    )
    assert dataset["rh"].dims == ("shot_number", "percentile")
    assert dataset["cover_z"].dims == dataset["pai_z"].dims == ("shot_number", "height_m")
    assert dataset.sizes["percentile"] == 101 and dataset.sizes["height_m"] == 30
    assert dataset["percentile"].values.tolist() == list(range(101))
    assert dataset["height_m"].values.tolist() == list(range(0, 150, 5))
    assert dataset["rh"].attrs["profile_label_name"] == "percentile"
    _check_values(dataset, shots)
    # The 98th percentile is the label 98, not the attribute rh_98.
    shot = dataset.isel(shot_number=0)
    want = expected_value("rh", shot.latitude.values, shot.longitude.values, shot.time.values, 98)
    assert shot["rh"].sel(percentile=98).values == want


def test_bbox_selects_exactly_the_shots_inside_and_the_days(warm_store, shots):
    time_range = ["2020-03-01", "2021-06-30"]
    dataset = warm_store.open_data("L4A", variables=["agbd"], bbox=BOX, time_range=time_range)
    first = (np.datetime64("2020-03-01") - np.datetime64("1970-01-01")).astype(int)
    last = (np.datetime64("2021-06-30") - np.datetime64("1970-01-01")).astype(int)
    mask = in_box(shots, BOX) & (shots["time"] >= first) & (shots["time"] <= last)
    assert sorted(dataset["shot_number"].values.tolist()) == sorted(
        shots["shot_number"][mask].tolist()
    )
    _check_values(dataset, shots)


def test_time_range_end_date_covers_its_whole_day(warm_store, shots):
    inside = in_box(shots, BOX)
    day = int(shots["time"][inside][0])
    date = str(np.datetime64("1970-01-01") + np.timedelta64(day, "D"))
    dataset = warm_store.open_data(
        "L4C", variable_names=["wsci"], bbox=BOX, time_range=[date, date]
    )
    want = shots["shot_number"][inside & (shots["time"] == day)]
    assert sorted(dataset["shot_number"].values.tolist()) == sorted(want.tolist())


def test_point_gives_the_nearest_shots_in_order(warm_store, shots):
    point = (10.0, 46.0)
    dataset = warm_store.open_data(
        "L4A", point=list(point), num_shots=7, radius=0.2, time_range=ALL_TIME
    )
    box = [point[0] - 0.2, point[1] - 0.2, point[0] + 0.2, point[1] + 0.2]
    candidates = np.flatnonzero(in_box(shots, box))
    distance = np.hypot(
        shots["longitude"][candidates] - point[0], shots["latitude"][candidates] - point[1]
    )
    nearest = candidates[np.argsort(distance)[:7]]
    assert dataset["shot_number"].values.tolist() == shots["shot_number"][nearest].tolist()
    assert dataset.attrs["gedidb_query"] == "nearest"
    _check_values(dataset, shots)


def test_point_defaults_and_tuples(warm_store):
    as_list = warm_store.open_data("L4C", point=[10.0, 46.0], time_range=ALL_TIME)
    as_tuple = warm_store.open_data("L4C", point=(10.0, 46.0), time_range=tuple(ALL_TIME))
    assert as_list.sizes["shot_number"] == 10 == as_tuple.sizes["shot_number"]
    assert as_list.attrs["radius"] == 0.1
    assert (as_list["shot_number"].values == as_tuple["shot_number"].values).all()


def test_variables_and_variable_names_are_one_parameter(warm_store):
    one = warm_store.open_data("L4A", variables=["agbd"], bbox=BOX, time_range=ALL_TIME)
    two = warm_store.open_data("L4A", variable_names=["agbd"], bbox=BOX, time_range=ALL_TIME)
    assert list(one.data_vars) == list(two.data_vars) == ["agbd"]
    with pytest.raises(ValueError, match="differ"):
        warm_store.open_data(
            "L4A", variables=["agbd"], variable_names=["agbd_se"], bbox=BOX, time_range=ALL_TIME
        )


def test_empty_variable_list_keeps_the_shots_and_coordinates(warm_store, shots):
    dataset = warm_store.open_data("L2A", variable_names=[], bbox=BOX, time_range=ALL_TIME)
    assert not dataset.data_vars
    assert dataset.sizes["shot_number"] == int(in_box(shots, BOX).sum())
    assert {"latitude", "longitude", "time"} <= set(dataset.coords)


@pytest.mark.parametrize(
    "where",
    [
        dict(bbox=BOX, time_range=["2031-01-01", "2031-12-31"]),
        dict(bbox=BOX, time_range=["2010-01-01", "2012-12-31"]),
        dict(bbox=[-60.0, -10.0, -59.0, -9.0], time_range=ALL_TIME),
        dict(bbox=[9.0, 60.0, 10.0, 70.0], time_range=ALL_TIME),
        dict(point=[-60.0, -10.0], time_range=ALL_TIME),
    ],
    ids=["after-domain", "before-domain", "no-shots", "beyond-latitude-domain", "point-alone"],
)
def test_empty_results_are_empty_datasets_with_the_right_variables(warm_store, where):
    dataset = warm_store.open_data("L2B", **where)
    assert dataset.sizes["shot_number"] == 0
    assert sorted(dataset.data_vars) == sorted(LEVEL_VARIABLES["L2B"])
    assert dataset["cover_z"].dims == ("shot_number", "height_m")
    assert dataset["cover_z"].shape == (0, 30)
    assert dataset["rh100"].dtype == np.int16
    assert dataset["cover"].load().size == 0


def test_time_range_partly_outside_the_domain_is_clipped(warm_store, shots):
    dataset = warm_store.open_data(
        "L4A", variables=["agbd"], bbox=BOX, time_range=["2015-01-01", "2035-01-01"]
    )
    assert dataset.sizes["shot_number"] == int(in_box(shots, BOX).sum())


def test_quality_filters_select_shots_by_value(warm_store, shots):
    dataset = warm_store.open_data(
        "all",
        variable_names=["agbd", "quality_flag", "beam_type"],
        bbox=BOX,
        time_range=ALL_TIME,
        quality_filters={"quality_flag": "== 1", "beam_type": "== 'full'"},
    )
    inside = in_box(shots, BOX)
    flags = expected_value("quality_flag", shots["latitude"], shots["longitude"], shots["time"])
    beams = expected_value("beam_type", shots["latitude"], shots["longitude"], shots["time"])
    want = shots["shot_number"][inside & (flags == 1) & (beams == "full")]
    assert 0 < len(want) < inside.sum()
    assert sorted(dataset["shot_number"].values.tolist()) == sorted(want.tolist())
    _check_values(dataset, shots)


def test_compound_quality_filter_on_a_variable_not_read(warm_store, shots):
    inside = in_box(shots, BOX)
    values = expected_value("sensitivity", shots["latitude"], shots["longitude"], shots["time"])
    low, high = (round(float(q), 2) for q in np.quantile(values[inside], [0.25, 0.75]))
    dataset = warm_store.open_data(
        "L4A",
        variables=["agbd"],
        bbox=BOX,
        time_range=ALL_TIME,
        quality_filters={"sensitivity": f">= {low} and < {high}"},
    )
    want = shots["shot_number"][inside & (values >= np.float32(low)) & (values < np.float32(high))]
    assert 0 < len(want) < inside.sum()
    assert sorted(dataset["shot_number"].values.tolist()) == sorted(want.tolist())


def test_geodataframe_of_shot_points(warm_store, shots):
    frame = warm_store.open_data(
        "all",
        data_type="geodataframe",
        variable_names=["agbd", "pai_z"],
        bbox=BOX,
        time_range=ALL_TIME,
    )
    assert frame.crs.to_epsg() == 4326
    assert len(frame) == int(in_box(shots, BOX).sum())
    assert {"shot_number", "time", "agbd", "pai_z_p0", "pai_z_p145"} <= set(frame.columns)
    rows = _by_shot(shots, frame["shot_number"].values)
    np.testing.assert_array_equal(frame.geometry.x.values, shots["longitude"][rows])
    np.testing.assert_array_equal(frame.geometry.y.values, shots["latitude"][rows])
    np.testing.assert_array_equal(frame["pai_z_p145"].values, shots["pai_z_30"][rows])
    np.testing.assert_array_equal(frame["agbd"].values, shots["agbd"][rows])


def test_geodataframe_opener_and_empty_frame(warm_store):
    frame = warm_store.open_data(
        "L4C",
        opener_id="geodataframe:tiledb:gedidb",
        bbox=BOX,
        time_range=["2031-01-01", "2031-02-01"],
    )
    assert len(frame) == 0
    assert {"wsci", "wsci_quality_flag", "geometry"} <= set(frame.columns)


def test_chunk_size_sets_the_dask_chunks(warm_store):
    dataset = warm_store.open_data(
        "L2A", variables=["rh", "sensitivity"], bbox=BOX, time_range=ALL_TIME, chunk_size=50
    )
    count = dataset.sizes["shot_number"]
    assert dataset["rh"].chunks[0][0] == 50 and sum(dataset["rh"].chunks[0]) == count
    assert dataset["rh"].chunks[1] == (101,)
