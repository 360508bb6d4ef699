"""The emulator speaks the CDS protocol: the legacy cdsapi client retrieves from it."""

from __future__ import annotations

import time
import zipfile
from urllib.parse import parse_qs, urlsplit

import cdsapi
import numpy as np
import pytest
import requests
import xarray as xr
from ecmwf.datastores import Client


def test_cdsapi_retrieves_files_like_the_service(emulator, tmp_path):
    params = emulator.store_params()
    client = cdsapi.Client(
        url=params["endpoint_url"],
        key=params["cds_api_key"],
        sleep_max=0.1,
        retry_max=2,
        quiet=True,
        progress=False,
    )
    target = tmp_path / "era5.zip"
    client.retrieve(
        "reanalysis-era5-single-levels",
        {
            "product_type": ["reanalysis"],
            "variable": ["2m_temperature", "total_precipitation"],
            "year": ["2020"],
            "month": ["02"],
            "day": ["28", "29", "30"],
            "time": ["00:00", "12:00"],
            "area": [50, -1, 49, 1],
            "data_format": "netcdf",
        },
        str(target),
    )
    with zipfile.ZipFile(target) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path)
    assert names == [
        "data_stream-oper_stepType-accum.nc",
        "data_stream-oper_stepType-instant.nc",
    ]
    ds = xr.open_dataset(tmp_path / names[1], engine="h5netcdf")
    assert ds["t2m"].dims == ("valid_time", "latitude", "longitude")
    assert ds.sizes["valid_time"] == 4, "February 30 does not exist"
    assert np.all(np.diff(ds["latitude"].values) < 0), "latitudes descend"
    assert ds["longitude"].values[0] == -1.0
    assert {"number", "expver"} <= set(ds.coords)
    assert ds["t2m"].attrs["GRIB_shortName"] == "2t" and ds["t2m"].attrs["units"] == "K"


def test_catalogue_pages_and_cost_estimate(emulator):
    params = emulator.store_params()
    client = Client(url=params["endpoint_url"], key=params["cds_api_key"], maximum_tries=1)
    page = client.get_collections(limit=2)
    ids = []
    while page is not None:
        ids += page.collection_ids
        page = page.next
    assert len(ids) == len(emulator.datasets) == len(set(ids))
    costs = client.estimate_costs(
        "reanalysis-era5-land",
        {
            "variable": ["2m_temperature"],
            "year": "2020",
            "month": "01",
            "day": ["01", "02"],
            "time": ["00:00", "06:00", "12:00"],
        },
    )
    assert (
        costs["cost"] == 6
        and costs["limit"] == emulator.datasets["reanalysis-era5-land"].cost_limit
    )


def small_request() -> dict:
    return {
        "variable": ["2m_temperature"],
        "year": "2020",
        "month": "01",
        "day": "01",
        "time": "00:00",
        "area": [1, 0, 0, 1],
        "data_format": "netcdf",
    }


def test_another_accounts_job_and_expired_results(emulator, other_account_key):
    """403 "permission denied" for another account's job; 404 "results expired" once
    the results are gone, and the download link 404s too."""
    url = emulator.store_params()["endpoint_url"]
    mine = Client(url=url, key=emulator.store_params()["cds_api_key"], maximum_tries=1)
    theirs = Client(url=url, key=other_account_key, maximum_tries=1)
    remote = mine.submit("reanalysis-era5-land", small_request())
    while remote.status != "successful":
        time.sleep(0.05)
    with pytest.raises(requests.HTTPError) as caught:
        theirs.get_remote(remote.request_id)
    assert caught.value.response.status_code == 403
    assert caught.value.response.json()["title"] == "permission denied"
    results = requests.get(
        f"{url}/retrieve/v1/jobs/{remote.request_id}/results",
        headers={"PRIVATE-TOKEN": other_account_key},
        timeout=10,
    )
    assert results.status_code == 403 and results.json()["detail"] == "operation not allowed"
    href = mine.get_results(remote.request_id).location
    assert requests.get(href, timeout=10).status_code == 200
    emulator.results_ttl_s = 0.0
    try:
        with pytest.raises(requests.HTTPError) as caught:
            mine.get_results(remote.request_id)
        assert caught.value.response.status_code == 404
        assert caught.value.response.json()["title"] == "results expired"
        assert requests.get(href, timeout=10).status_code == 404
        assert remote.status == "successful", "the job itself is still known"
    finally:
        emulator.results_ttl_s = None


def test_classic_netcdf_option(tmp_path):
    from eostores_cds.testing import CdsEmulator

    with CdsEmulator(netcdf3_datasets=["reanalysis-era5-land"]) as emulator:
        params = emulator.store_params()
        client = cdsapi.Client(
            url=params["endpoint_url"], key=params["cds_api_key"], quiet=True, progress=False
        )
        client.retrieve("reanalysis-era5-land", small_request(), str(tmp_path / "land.nc"))
        era5 = {**small_request(), "product_type": "reanalysis"}
        client.retrieve("reanalysis-era5-single-levels", era5, str(tmp_path / "e.nc"))
    assert (tmp_path / "land.nc").read_bytes()[:4] == b"CDF\x01"
    assert (tmp_path / "e.nc").read_bytes()[:4] == b"\x89HDF"
    ds = xr.open_dataset(tmp_path / "land.nc", engine="scipy")
    assert ds["t2m"].dims == ("valid_time", "latitude", "longitude")


def test_catalogue_paging_and_documents_like_the_service(emulator):
    """``page``/``limit`` with 422 outside 1..500 and urlencoded next links; form.json
    and constraints.json redirect (307) to the document storage."""
    url = emulator.store_params()["endpoint_url"] + "/catalogue/v1"
    for query in ({"limit": 0}, {"limit": 501}, {"page": -1}, {"limit": "x"}):
        answer = requests.get(f"{url}/datasets", params=query, timeout=10)
        assert answer.status_code == 422, query
        assert answer.json()["title"] == "submitted data is not valid"
    first = requests.get(f"{url}/datasets", params={"limit": 2, "q": "era5 "}, timeout=10).json()
    (next_href,) = [link["href"] for link in first["links"] if link["rel"] == "next"]
    assert parse_qs(urlsplit(next_href).query) == {"limit": ["2"], "q": ["era5 "], "page": ["1"]}
    assert " " not in next_href, "the query is urlencoded"
    second = requests.get(next_href, timeout=10).json()
    ids = [r["id"] for r in first["collections"] + second["collections"]]
    assert len(ids) == len(set(ids)) == 4 and first["numberMatched"] >= 4
    for name in ("form", "constraints"):
        answer = requests.get(
            f"{url}/collections/reanalysis-era5-land/{name}.json",
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 307
        assert "/document-storage/resources/reanalysis-era5-land/" in answer.headers["Location"]
        assert requests.get(answer.headers["Location"], timeout=10).json()
