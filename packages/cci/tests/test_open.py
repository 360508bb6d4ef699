"""cciodp: lazy cubes, one DAP2 hyperslab request per chunk, values checked after subsetting."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import CLOUD, FAST_RETRIES, ICESHEETS, OZONE, SST, dods
from eostores_cci.testing import CciEmulator, expected_value

from eostores import new_data_store
from eostores.errors import InvalidParameterError, ServiceError


def expected(dataset, name, cube):
    return expected_value(
        dataset,
        name,
        cube.time.values[:, None, None],
        cube.lat.values[None, :, None],
        cube.lon.values[None, None, :],
    )


def assert_values(dataset, cube, names):
    for name in names:
        np.testing.assert_allclose(cube[name].values, expected(dataset, name, cube), atol=1e-4)


def test_open_is_lazy_and_one_request_per_chunk(store, emulator):
    cube = store.open_data(
        SST.drs_id, bbox=[-30, -20, 120, 40], time_range=["2001-03-01", "2001-03-03"]
    )
    assert dods(emulator) == [r for r in dods(emulator) if r.query == {"lat,lon": ""}]
    assert len(dods(emulator)) == 1, "the coordinates are read once, with one request"
    assert cube.analysed_sst.chunks is not None
    assert dict(cube.sizes) == {"time": 3, "lat": 60, "lon": 150, "bnds": 2}
    emulator.reset_log()
    assert_values(SST, cube, ["analysed_sst"])
    requests = dods(emulator)
    # chunks of (1, 45, 90) cells over a window of 60 x 150 cells: 2 x 2 per day
    assert len(requests) == 3 * 2 * 2
    constraints = sorted(next(iter(r.query)) for r in requests)
    keys = {(r.path, next(iter(r.query))) for r in requests}
    assert len(keys) == len(requests), "no chunk is requested twice"
    assert "analysed_sst[0:1:0][70:1:114][150:1:239]" in constraints  # inclusive stops
    assert "analysed_sst[0:1:0][115:1:129][240:1:299]" in constraints  # edge chunk
    assert all(r.status == 200 for r in requests)
    emulator.reset_log()
    cube.analysed_sst.isel(time=1).load()
    assert dods(emulator) == [], "computed chunks are kept by the chunk store"


def test_time_range_end_date_is_inclusive(store):
    cube = store.open_data(SST.drs_id, variable_names=[], time_range=["2001-03-01", "2001-03-03"])
    days = cube.time.values.astype("datetime64[D]").astype(str).tolist()
    assert days == ["2001-03-01", "2001-03-02", "2001-03-03"]
    assert str(cube.time.values[0]) == "2001-03-01T12:00:00.000000000"
    bounds = cube.time_bnds.values.astype("datetime64[D]").astype(str)
    assert bounds[-1].tolist() == ["2001-03-03", "2001-03-04"]
    assert cube.time.attrs["bounds"] == "time_bnds"


def test_descending_latitudes_are_flipped(store):
    cube = store.open_data(
        CLOUD.drs_id, bbox=[-5.2, 60.1, 3.1, 70.3], time_range=["2001-06-01", "2001-07-31"]
    )
    lat = cube.lat.values
    assert (np.diff(lat) > 0).all()
    # cells overlapping the box: centres from 60.25 up to 70.25, and -5.25 up to 3.25
    assert (lat[0], lat[-1]) == (60.25, 70.25)
    assert (cube.lon.values[0], cube.lon.values[-1]) == (-5.25, 3.25)
    assert_values(CLOUD, cube, ["cfc", "cot", "ctt"])
    assert cube.cfc.dtype == np.float32
    masked = cube.cfc.sel(lat=slice(70, 71)).values
    assert np.isnan(masked).all(), "fill values are masked"
    assert not np.isnan(cube.cot.values).any()


def test_without_normalization_the_files_order_is_kept(store):
    cube = store.open_data(
        CLOUD.drs_id,
        variable_names=["ctt"],
        bbox=[-5, 60, 3, 70],
        time_range=["2001-06-01", "2001-07-31"],
        normalize_data=False,
    )
    assert cube.lat.values[0] > cube.lat.values[-1]
    assert "time_bnds" not in cube.coords
    assert str(cube.time.values[0]) == "2001-06-01T00:00:00.000000000"
    assert_values(CLOUD, cube, ["ctt"])


def test_longitudes_0_360_become_minus_180_180(store):
    cube = store.open_data(
        OZONE.drs_id, bbox=[-20, -10, 20, 10], time_range=["2004-05-01", "2004-06-30"]
    )
    lon = cube.lon.values
    assert (np.diff(lon) > 0).all() and lon[0] == -19.0 and lon[-1] == 19.0
    assert (np.diff(cube.lat.values) > 0).all()
    assert_values(OZONE, cube, ["O3_du_tot", "O3e_du_tot"])
    whole = store.open_data(OZONE.drs_id, variable_names=[], time_range=["2004-05-01", None])
    assert whole.lon.values[0] == -179.0 and whole.lon.values[-1] == 179.0


def test_longitudes_0_360_without_normalization(store):
    cube = store.open_data(
        OZONE.drs_id,
        variable_names=["O3_du_tot"],
        bbox=[-40, 0, -20, 10],
        time_range=["2004-05-01", "2004-05-31"],
        normalize_data=False,
    )
    assert cube.lon.values[0] == 321.0 and cube.lon.values[-1] == 339.0
    assert_values(OZONE, cube, ["O3_du_tot"])
    with pytest.raises(InvalidParameterError, match="normalize_data") as caught:
        store.open_data(OZONE.drs_id, bbox=[-10, 0, 10, 10], normalize_data=False)
    assert caught.value.parameter == "bbox"


def test_variable_selection(store):
    cube = store.open_data(CLOUD.drs_id, variable_names=["ctt"], time_range=["2000-01-01", None])
    assert list(cube.data_vars) == ["ctt"]
    empty = store.open_data(CLOUD.drs_id, variable_names=[], time_range=["2000-01-01", None])
    assert list(empty.data_vars) == [] and dict(empty.sizes)["time"] == 24
    with pytest.raises(InvalidParameterError, match="allowed: cfc, cot, ctt") as caught:
        store.open_data(CLOUD.drs_id, variable_names=["cloud"])
    assert caught.value.parameter == "variable_names"


def test_bad_subsets(store, emulator):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(CLOUD.drs_id, time_range=["1990-01-01", "1990-12-31"])
    assert caught.value.parameter == "time_range"
    with pytest.raises(InvalidParameterError, match="holds no grid cell") as caught:
        store.open_data(CLOUD.drs_id, bbox=[100, 0, 110, 10])
    assert caught.value.parameter == "bbox"


def test_missing_file_gives_fill_values_without_retries(store, emulator):
    cube = store.open_data(SST.drs_id, bbox=[0, 0, 10, 10], time_range=["2002-02-01", "2002-02-03"])
    missing = SST.files()[
        SST.files().index(next(f for f in SST.files() if f.name.startswith("20020202")))
    ]
    emulator.missing_files.add(missing.name)
    emulator.reset_log()
    values = cube.analysed_sst.values
    assert np.isnan(values[1]).all(), "the missing day is filled"
    np.testing.assert_allclose(
        values[[0, 2]], expected(SST, "analysed_sst", cube)[[0, 2]], atol=1e-4
    )
    missing_requests = [r for r in dods(emulator) if missing.name in r.path]
    assert len(missing_requests) == 1 and missing_requests[0].status == 404, "404 is not retried"


def test_other_failures_raise_with_the_services_message(store, emulator):
    cube = store.open_data(SST.drs_id, bbox=[0, 0, 10, 10], time_range=["2002-03-01", "2002-03-01"])
    emulator.reset_log()
    emulator.faults = {"error_statuses": [500], "fail_first": 100, "paths": ".*\\.dods"}
    with pytest.raises(ServiceError, match="emulated fault") as caught:
        cube.analysed_sst.load()
    assert caught.value.status == 500
    assert len(dods(emulator)) == 4, "num_retries=3: four attempts"


def test_datasets_pickle_and_compute_elsewhere(store, emulator):
    cube = store.open_data(CLOUD.drs_id, bbox=[0, 50, 10, 55], time_range=["2000-05-01", None])
    again = pickle.loads(pickle.dumps(cube))
    np.testing.assert_array_equal(again.ctt.values, cube.ctt.values)
    store_again = pickle.loads(pickle.dumps(store))
    assert store_again.store_params == store.store_params


def test_dates_with_fractions_give_whole_periods(store):
    assert CLOUD.date_style == "fraction"  # "...T23:59:59.999" ends
    cube = store.open_data(CLOUD.drs_id, variable_names=[], time_range=["2000-01-01", "2000-02-29"])
    bounds = cube.time_bnds.values.astype("datetime64[s]").astype(str).tolist()
    assert bounds == [
        ["2000-01-01T00:00:00", "2000-02-01T00:00:00"],
        ["2000-02-01T00:00:00", "2000-03-01T00:00:00"],
    ]


def test_files_of_several_time_steps_are_read_step_by_step(store, emulator):
    # yearly files of twelve monthly steps, each file's time counted from its first day
    descriptor = store.describe_data(ICESHEETS.drs_id)
    assert descriptor.dims == {"time": 36, "lat": 48, "lon": 130}
    emulator.reset_log()
    cube = store.open_data(
        ICESHEETS.drs_id,
        variable_names=["sec"],
        bbox=[-40, 70, -30, 75],
        time_range=["2010-11-01", "2011-02-28"],
    )
    months = cube.time_bnds.values.astype("datetime64[D]").astype(str).tolist()
    assert months == [
        ["2010-11-01", "2010-12-01"],
        ["2010-12-01", "2011-01-01"],
        ["2011-01-01", "2011-02-01"],
        ["2011-02-01", "2011-03-01"],
    ]
    assert str(cube.time.values[0]) == "2010-11-16T00:00:00.000000000"
    read = {r.path for r in dods(emulator) if r.query == {"time,time_bnds": ""}}
    assert len(read) == 2, "the time axis of each of the two files, once"
    emulator.reset_log()
    assert_values(ICESHEETS, cube, ["sec"])
    constraints = sorted(
        (r.path.rsplit("-", 2)[-2], next(iter(r.query)).split("][")[0] + "]")
        for r in dods(emulator)
    )
    assert constraints == [
        ("2010", "sec[10:1:10]"),
        ("2010", "sec[11:1:11]"),
        ("2011", "sec[0:1:0]"),
        ("2011", "sec[1:1:1]"),
    ], "one request per (file, step)"


def test_several_time_steps_without_normalization(store):
    cube = store.open_data(
        ICESHEETS.drs_id,
        variable_names=["sec"],
        bbox=[-40, 70, -30, 75],
        time_range=["2012-06-01", "2012-07-31"],
        normalize_data=False,
    )
    assert cube.time.values.astype("datetime64[D]").astype(str).tolist() == [
        "2012-06-01",
        "2012-07-01",
    ]
    assert_values(ICESHEETS, cube, ["sec"])


def test_a_missing_file_of_several_steps_is_left_out(store, emulator):
    store.describe_data(ICESHEETS.drs_id)  # reads the middle file
    emulator.missing_files.add(ICESHEETS.files()[1].name)
    cube = store.open_data(ICESHEETS.drs_id, variable_names=[], bbox=[-40, 70, -30, 75])
    years = sorted(set(cube.time.values.astype("datetime64[Y]").astype(str)))
    assert years == ["2010", "2012"] and cube.sizes["time"] == 24


def _flags(store, time_range):
    return store.open_data(
        ICESHEETS.drs_id,
        variable_names=["quality_flag"],
        bbox=[-75, 80, -60, 84],
        time_range=time_range,
    )


def test_signed_bytes_served_as_dap2_byte_are_int8(store, emulator):
    flag = store.describe_data(ICESHEETS.drs_id).data_vars["quality_flag"]
    assert flag.dtype == "int8" and flag.attrs["_FillValue"] == -128
    assert "_Unsigned" not in flag.attrs
    das = next(r for r in emulator.request_log if r.path.endswith(".das"))
    assert das.status == 200
    cube = _flags(store, ["2010-01-01", "2010-03-31"])
    assert cube.quality_flag.encoding["dtype"] == np.int8
    values = cube.quality_flag.values
    assert (values < 0).any(), "negative values stay negative"
    np.testing.assert_array_equal(values, expected(ICESHEETS, "quality_flag", cube))
    assert np.isnan(cube.quality_flag.sel(lat=slice(83, 84)).values).all(), "fill -128 masked"


@pytest.fixture(scope="module")
def int16_emulator():
    with CciEmulator(signed_bytes="int16") as server:
        yield server


def test_signed_bytes_upcast_to_int16_read_alike(int16_emulator, tmp_path):
    store = new_data_store(
        "cciodp", **int16_emulator.store_params(), **FAST_RETRIES, cache_dir=str(tmp_path)
    )
    assert store.describe_data(ICESHEETS.drs_id).data_vars["quality_flag"].dtype == "int16"
    cube = _flags(store, ["2010-01-01", "2010-03-31"])
    np.testing.assert_array_equal(
        cube.quality_flag.values, expected(ICESHEETS, "quality_flag", cube)
    )
