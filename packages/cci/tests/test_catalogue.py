"""cciodp: data ids, descriptions and searches from the service's metadata, cached on disk."""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import pytest
import requests
from conftest import CLOUD, ICESHEETS, OZONE, SST, searches
from eostores_cci.api import parse_feature_dates, parse_instant
from eostores_cci.catalog import Catalog
from eostores_cci.convert import period_bounds
from eostores_cci.testing import DATASETS

from eostores import new_data_store
from eostores.errors import DataNotFoundError, InvalidParameterError, ServiceError


def test_construction_makes_no_request(emulator, make_store):
    store = make_store(emulator)
    assert emulator.request_log == []
    assert store.connection.endpoint_url.endswith("/opensearch/request")


def test_defaults_are_the_public_service():
    params = new_data_store("cciodp").store_params
    assert params["endpoint_url"] == "https://archive.opensearch.ceda.ac.uk/opensearch/request"
    assert params["endpoint_description_url"].endswith("description.xml?parentIdentifier=cci")
    assert (params["num_retries"], params["retry_backoff_max"], params["retry_backoff_base"]) == (
        200,
        40.0,
        1.001,
    )
    assert params["enable_warnings"] is False


@pytest.mark.parametrize(
    "params",
    [
        {"endpoint_url": "ftp://example.org/request"},
        {"endpoint_description_url": "file:///etc/passwd"},
        {"num_retries": -1},
        {"catalogue_ttl": -5},
    ],
)
def test_bad_store_params_are_refused(params):
    with pytest.raises(InvalidParameterError) as caught:
        new_data_store("cciodp", **params)
    assert caught.value.parameter == next(iter(params)) or next(iter(params)) in str(caught.value)


def test_data_ids_are_the_drs_ids_of_the_description(store, emulator):
    ids = store.list_data_ids()
    assert sorted(ids) == sorted(d.drs_id for d in DATASETS)
    with_attrs = dict(store.list_data_ids(include_attrs=True))
    assert with_attrs[SST.drs_id]["num_files"] == len(SST.files())
    assert with_attrs[OZONE.drs_id]["ecv"] == "OZONE"
    assert with_attrs[CLOUD.drs_id]["frequency"] == "mon"
    assert store.has_data(SST.drs_id)
    assert not store.has_data("esacci.NOPE.day.L4.x.y.z.w.1-0.r1")
    descriptions = [r for r in emulator.request_log if r.path.endswith("description.xml")]
    assert len(descriptions) == 1, "the description is fetched once and then read from the cache"


def test_describe_from_metadata_only(store, emulator):
    descriptor = store.describe_data(CLOUD.drs_id)
    assert descriptor.data_id == CLOUD.drs_id
    assert descriptor.bbox == CLOUD.bbox
    assert descriptor.time_range == ("2000-01-01", "2001-12-31")
    assert descriptor.time_period == "1M"
    assert descriptor.dims == {"time": 24, "lat": 60, "lon": 120}
    assert descriptor.spatial_res == 0.5
    assert set(descriptor.data_vars) == {"cfc", "cot", "ctt"}
    cot = descriptor.data_vars["cot"]
    assert (cot.dtype, cot.dims, cot.chunks) == ("int16", ("time", "lat", "lon"), (1, 30, 40))
    assert cot.attrs["_FillValue"] == -32768 and cot.attrs["scale_factor"] == pytest.approx(0.01)
    assert descriptor.data_vars["cfc"].attrs["_FillValue"] == -999
    assert descriptor.attrs["title"] == CLOUD.title
    assert "emulated CCI data" in descriptor.attrs["abstract"]
    schema = descriptor.open_params_schema.to_dict()
    assert schema["properties"]["variable_names"]["items"]["enum"] == ["cfc", "cot", "ctt"]
    paths = {r.path.rsplit(".", 1)[-1] for r in emulator.request_log}
    assert "dods" not in paths, "describing reads no data"
    assert {"dds", "das", "xml"} <= paths


def test_metadata_is_cached_across_stores_until_it_expires(emulator, make_store, tmp_path):
    make_store(emulator).describe_data(OZONE.drs_id)
    first = len(emulator.request_log)
    assert first >= 5  # description, collection, ISO record, sample files, DDS, DAS
    make_store(emulator).describe_data(OZONE.drs_id)
    assert len(emulator.request_log) == first, "a second store reads the cache folder"
    short = make_store(emulator, cache_dir=str(tmp_path / "short"), catalogue_ttl=1)
    short.list_data_ids()
    count = len(emulator.request_log)
    time.sleep(1.1)
    new_store = make_store(emulator, cache_dir=str(tmp_path / "short"), catalogue_ttl=1)
    new_store.list_data_ids()
    assert len(emulator.request_log) == count + 1, "an expired description is fetched again"
    files = [p.name for p in (tmp_path / "short" / "catalogue").glob("*[0-9]")]
    assert len(files) == 1, f"older copies are removed: {files}"


def test_no_cache_folder(emulator, make_store):
    store = make_store(emulator, cache_dir="")
    store.list_data_ids()
    store.list_data_ids()
    descriptions = [r for r in emulator.request_log if r.path.endswith("description.xml")]
    assert len(descriptions) == 1, "the store itself keeps the description for the TTL"


def test_unknown_ids(store):
    with pytest.raises(DataNotFoundError):
        store.describe_data("esacci.NOPE.day.L4.x.y.z.w.1-0.r1")
    with pytest.raises(InvalidParameterError):
        store.describe_data(42)


def test_search_by_facets(store):
    found = [d.data_id for d in store.search_data(ecv="OZONE")]
    assert found == [OZONE.drs_id]
    found = sorted(d.data_id for d in store.search_data(frequency="mon"))
    assert found == sorted([OZONE.drs_id, CLOUD.drs_id, ICESHEETS.drs_id])
    found = [d.data_id for d in store.search_data(frequency=["day"], processing_level="L4")]
    assert found == [SST.drs_id]
    assert [d.data_id for d in store.search_data(product_version="2.1")] == [SST.drs_id]


def test_search_by_extent_and_time(store):
    europe = sorted(d.data_id for d in store.search_data(bbox=[-5, 50, 5, 60]))
    assert europe == sorted(d.drs_id for d in (SST, OZONE, CLOUD))
    south = [d.data_id for d in store.search_data(bbox=[100, -60, 120, -40])]
    assert CLOUD.drs_id not in south and SST.drs_id in south
    later = sorted(d.data_id for d in store.search_data(time_range=["2005-01-01", "2005-12-31"]))
    assert later == [OZONE.drs_id]
    assert len(list(store.search_data(limit=1))) == 1


def test_search_refuses_unknown_facet_values_before_describing(store, emulator):
    with pytest.raises(InvalidParameterError, match=r"allowed: .*OZONE") as caught:
        list(store.search_data(ecv="OZONNE"))
    assert caught.value.parameter == "ecv"
    assert all("description.xml" in r.path for r in emulator.request_log)
    with pytest.raises(InvalidParameterError):
        list(store.search_data(no_such_facet="x"))


def test_files_search_is_paged_and_batched(store, emulator):
    # SST has 1096 daily files: at least 1000 files are fetched per year, 10000 per page
    cube = store.open_data(SST.drs_id, variable_names=[], bbox=[0, 0, 2, 2])
    assert cube.sizes["time"] == len(SST.files())
    pages = [r.query for r in searches(emulator) if r.query.get("fileFormat") == ".nc"]
    batched = [q for q in pages if q.get("maximumRecords") == "10000"]
    assert sorted(q["startDate"][:4] for q in batched) == ["2000", "2001", "2002"]
    counts = [q for q in pages if q.get("maximumRecords") == "1000"]
    assert len(counts) == 1


def test_small_collections_are_read_page_by_page(store, emulator, monkeypatch):
    from eostores_cci import api

    monkeypatch.setattr(api, "PAGE_SIZE", 10)
    cube = store.open_data(OZONE.drs_id, variable_names=[], time_range=["2003-01-01", "2004-12-31"])
    assert cube.sizes["time"] == 24
    pages = sorted(
        int(r.query["startPage"])
        for r in searches(emulator)
        if r.query.get("fileFormat") == ".nc" and r.query.get("maximumRecords") == "10"
    )
    assert pages == [1, 2, 3]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2000-01-02T03:04:05", datetime(2000, 1, 2, 3, 4, 5)),
        ("2000-01-02T03:04:05Z", datetime(2000, 1, 2, 3, 4, 5)),
        ("2000-01-02T03:04:05+00:00", datetime(2000, 1, 2, 3, 4, 5)),
        ("2000-01-02T01:04:05-02:00", datetime(2000, 1, 2, 3, 4, 5)),
        ("2000-01-02T03:04:05.123", datetime(2000, 1, 2, 3, 4, 5, 123000)),
        ("2000-01-02T03:04:05.123456+01:00", datetime(2000, 1, 2, 2, 4, 5, 123456)),
        (" 2000-01-02 ", datetime(2000, 1, 2)),
        ("..", None),
        ("2000-13-01T00:00:00", None),
    ],
)
def test_service_instants_with_offsets_and_fractions(text, expected):
    assert parse_instant(text) == expected


def test_file_dates_with_offsets_and_fractions_are_used_before_the_name():
    title = "ESACCI-ICESHEETS-L3-SEC-GREENLAND-2010-fv1.0.nc"  # no month in the name
    date = "2010-01-01T00:00:00.000+00:00/2010-12-31T23:59:59.999+00:00"
    start, end = parse_feature_dates({"date": date}, title)
    assert (start, end) == (datetime(2010, 1, 1), datetime(2010, 12, 31, 23, 59, 59, 999000))
    assert period_bounds(start, end) == (datetime(2010, 1, 1), datetime(2011, 1, 1))
    with pytest.raises(ServiceError, match="no date"):
        parse_feature_dates({"date": "../.."}, title)


def test_an_iso_extent_with_offset_bounds_open_searches(store, emulator):
    # the SST record and files give their dates with "+00:00"; the collection has over
    # 1000 files, so an open time range is split by the years of the record's extent
    assert SST.date_style == "offset"
    info = Catalog(store.connection).info(SST.drs_id)
    assert info.time_start.endswith("+00:00")
    assert info.extent == (datetime(2000, 1, 1), datetime(2002, 12, 31, 23, 59, 59))
    assert store.describe_data(SST.drs_id).time_range == ("2000-01-01", "2002-12-31")


def test_dates_are_sent_without_zone_suffix(store, emulator):
    store.open_data(OZONE.drs_id, variable_names=[], time_range=["2004-05-01", "2004-06-30"])
    dated = [r.query for r in searches(emulator) if "startDate" in r.query]
    assert dated and all(
        q["startDate"] == "2004-05-01T00:00:00" and q["endDate"] == "2004-06-30T23:59:59"
        for q in dated
    )


def test_the_service_refuses_searches_past_its_result_window(emulator):
    url = emulator.store_params()["endpoint_url"]
    query = {"parentIdentifier": SST.uuid, "httpAccept": "application/geo+json"}
    assert requests.get(url, params={**query, "startPage": 1, "maximumRecords": 10000}).ok
    refused = requests.get(url, params={**query, "startPage": 2, "maximumRecords": 10000})
    assert refused.status_code == 500 and "Server Error (500)" in refused.text
    too_large = requests.get(url, params={**query, "startPage": 1, "maximumRecords": 10001})
    assert too_large.status_code == 500


@pytest.fixture
def small_window(emulator, monkeypatch):
    """``scale(batch, threshold)``: the store's searches scaled down (pages of ``threshold``
    files, batches from ``threshold`` files on, ``batch`` files per batch) and the
    service's result window with them."""
    from eostores_cci import api

    def scale(batch: int, threshold: int) -> None:
        monkeypatch.setattr(api, "BATCH_SIZE", batch)
        monkeypatch.setattr(api, "BATCH_THRESHOLD", threshold)
        monkeypatch.setattr(api, "PAGE_SIZE", threshold)
        emulator.result_window = max(batch, threshold)

    yield scale
    emulator.result_window = 10000


def test_years_beyond_the_result_window_are_split_into_months(store, emulator, small_window):
    small_window(200, 200)  # 365 or 366 daily files per year, at most 31 per month
    cube = store.open_data(SST.drs_id, variable_names=[], bbox=[0, 0, 2, 2])
    assert cube.sizes["time"] == len(SST.files())
    days = cube.time.values.astype("datetime64[D]")
    assert (np.diff(days) == np.timedelta64(1, "D")).all(), "every day once, in order"
    pages = [r for r in searches(emulator) if r.query.get("fileFormat") == ".nc"]
    assert all(r.status == 200 and r.query["startPage"] == "1" for r in pages), "no deep paging"
    pages = [r for r in pages if "startDate" in r.query]
    windows = {(r.query["startDate"][:10], r.query["endDate"][:10]) for r in pages}
    assert ("2001-01-01", "2001-12-31") in windows, "a year first"
    assert ("2001-02-01", "2001-02-28") in windows and ("2002-12-01", "2002-12-31") in windows
    assert len(windows) == 3 + 36


def test_months_beyond_the_result_window_are_split_into_days(store, emulator, small_window):
    small_window(4, 10)
    cube = store.open_data(SST.drs_id, variable_names=[], time_range=["2001-01-25", "2001-02-05"])
    days = cube.time.values.astype("datetime64[D]").astype(str).tolist()
    assert days == [f"2001-01-{d}" for d in range(25, 32)] + [f"2001-02-0{d}" for d in range(1, 6)]
    windows = {
        (r.query["startDate"], r.query["endDate"])
        for r in searches(emulator)
        if r.query.get("maximumRecords") == "4"
    }
    assert ("2001-01-25T00:00:00", "2001-01-31T23:59:59") in windows  # 7 files: by day
    assert ("2001-01-27T00:00:00", "2001-01-27T23:59:59") in windows
    assert ("2001-02-01T00:00:00", "2001-02-05T23:59:59") in windows  # 5 files: by day
    assert all(r.status == 200 for r in searches(emulator))


def test_a_day_beyond_the_result_window_is_an_error_naming_it(store, emulator, small_window):
    store.describe_data(SST.drs_id)  # reads five files' entries
    small_window(0, 1)
    with pytest.raises(ServiceError, match=r"lists 1 files between 2001-03-02T00:00:00 and"):
        store.open_data(SST.drs_id, variable_names=[], time_range=["2001-03-02", "2001-03-02"])
