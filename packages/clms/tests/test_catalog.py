"""Listing and describing: from every @search batch, without credentials, cached on disk."""

from __future__ import annotations

import pytest
from conftest import CORINE, IMD_4X4, IMD_100M, SOIL_MOISTURE, TCD, WATER, requests_to
from eostores_clms.testing import ClmsEmulator

from eostores import new_data_store
from eostores.errors import DataNotFoundError, InvalidParameterError, ServiceError
from eostores.testing import FaultProfile


@pytest.fixture
def paged():
    with ClmsEmulator(page_size=2) as emulator:
        yield emulator


def _anonymous(emulator, tmp_path, **params):
    return new_data_store(
        "clms",
        api_url=f"{emulator.url}/api",
        cache_store_params={"root": str(tmp_path / "cache")},
        **params,
    )


def test_listing_and_describing_need_no_credentials_and_read_every_batch(paged, tmp_path):
    store = _anonymous(paged, tmp_path)
    assert store.list_data_ids() == [IMD_100M, IMD_4X4, TCD, WATER, SOIL_MOISTURE, CORINE]
    searches = requests_to(paged, "/@search")
    assert [r.query.get("b_start") for r in searches] == [None, "2", "4"]
    assert all(r.query["fullobjects"] == "1" for r in searches)
    assert not any("authorization" in r.headers for r in paged.request_log)
    assert not requests_to(paged, "/@@oauth2-token")

    descriptor = store.describe_data(IMD_100M)
    assert descriptor.crs == "EPSG:3035"
    assert descriptor.time_range == ("2018-01-01", "2018-12-31")
    west, south, east, north = descriptor.bbox
    assert 0 < west < 1e6 and 5e6 < east < 9e6 and 0 < south < north < 7e6  # metres, LAEA
    assert descriptor.attrs["geographic_bbox"] == [-31.3, 27.6, 44.8, 71.2]
    assert descriptor.attrs["file"] == "IMD_2018_100m_eu_03035_v020"
    assert descriptor.attrs["format"] == "GeoTIFF"
    assert "preloaded_as" not in descriptor.attrs
    assert "time_range" in descriptor.open_params_schema.properties
    assert store.describe_data(WATER).crs == "EPSG:4326"
    assert len(requests_to(paged, "/@search")) == 3, "described from the cached catalogue"


def test_attributes_of_listed_ids(store):
    pairs = dict(store.list_data_ids(include_attrs=["dataset_id", "file", "hosted_by"]))
    assert pairs[TCD] == {"dataset_id": "tree-cover-density-2018", "file": TCD.split("|")[1]}
    assert pairs[CORINE] == {
        "dataset_id": "corine-land-cover-1990",
        "hosted_by": "WEKEO (https://wekeo.copernicus.eu/data?view=dataset&dataset=EO:EEA:DAT:CORINE)",
    }


def test_catalogue_is_cached_on_disk_and_refreshed_after_its_ttl(paged, tmp_path):
    _anonymous(paged, tmp_path).list_data_ids()
    paged.reset_log()
    again = _anonymous(paged, tmp_path)
    assert again.has_data(IMD_100M)
    assert not requests_to(paged, "/@search"), "a second store reads the disk cache"
    expired = _anonymous(paged, tmp_path, catalog_ttl=0)
    assert expired.has_data(IMD_100M)
    assert len(requests_to(paged, "/@search")) == 3


def test_stale_catalogue_stands_in_when_the_service_fails(paged, tmp_path):
    _anonymous(paged, tmp_path).list_data_ids()
    paged.faults = FaultProfile(error_rate=1.0, error_statuses=(500,), paths=r"/api/@search")
    store = _anonymous(paged, tmp_path, catalog_ttl=0, num_retries=1, retry_backoff_max=0.05)
    assert store.has_data(TCD)
    fresh = new_data_store(
        "clms",
        api_url=f"{paged.url}/api",
        cache_store_params={"root": str(tmp_path / "other")},
        num_retries=1,
        retry_backoff_max=0.05,
    )
    with pytest.raises(ServiceError) as caught:
        fresh.list_data_ids()
    assert caught.value.store_id == "clms"


def test_datasets_hosted_elsewhere_are_listed_but_not_preloadable(store, clms):
    descriptor = store.describe_data(SOIL_MOISTURE)
    assert descriptor.attrs["hosted_by"].startswith("CDSE (https://browser.dataspace")
    assert descriptor.attrs["description"].startswith("Hosted by CDSE")
    clms.reset_log()
    for call in (
        lambda: store.open_data(SOIL_MOISTURE),
        lambda: store.preload_data(SOIL_MOISTURE),
        lambda: store.get_open_data_params_schema(CORINE),
    ):
        with pytest.raises(InvalidParameterError) as caught:
            call()
        assert "hosted by" in str(caught.value)
        assert "dataspace.copernicus.eu" in str(caught.value) or "wekeo" in str(caught.value)
    assert not requests_to(clms, "/@datarequest_post")


def test_unknown_and_malformed_ids(store):
    assert not store.has_data("imperviousness-density-2018|no-such-file")
    with pytest.raises(DataNotFoundError, match=r"dataset id>\|<file name"):
        store.describe_data("no-such-dataset")
    with pytest.raises(DataNotFoundError):
        store.preload_data(IMD_100M, "no-such-dataset|file")
    for bad in (None, 42, ["a"], ""):
        with pytest.raises(InvalidParameterError):
            store.has_data(bad)
        with pytest.raises(InvalidParameterError):
            store.open_data(bad)


def test_batching_links_to_another_origin_keep_to_the_api_url(tmp_path):
    class ProxiedEmulator(ClmsEmulator):  # links name the host the proxy was asked for
        def _search_url(self, request, start):
            url = super()._search_url(request, start)
            return url.replace("http://127.0.0.1", "https://localhost") if start else url

    with ProxiedEmulator(page_size=2) as emulator:
        store = _anonymous(emulator, tmp_path)
        listed = {data_id.partition("|")[0] for data_id in store.list_data_ids()}
        assert listed == {product.id for product in emulator.products.values()}
        searches = requests_to(emulator, "/@search")
        assert len(searches) == 3, "every batch of 5 datasets, 2 at a time"
        assert {r.headers["host"] for r in searches} == {f"127.0.0.1:{emulator.port}"}
