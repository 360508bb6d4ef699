"""The access token goes to the configured API's origin and nowhere else."""

from __future__ import annotations

import numpy as np
import pytest
from eostores_zenodo.api import ApiOriginAuth, origin_of
from eostores_zenodo.testing import ZenodoEmulator
from eostores_zenodo.testing.samples import sample_files, temperature_value

from eostores.errors import AuthenticationError
from eostores.http import BearerAuth

RECORD_ID = "7700001"


@pytest.fixture
def elsewhere():
    """A second server on another port, holding the files a record's links point to."""
    with ZenodoEmulator(rate_limit=None, sample=False) as emulator:
        yield emulator


def _files() -> dict:
    v2 = sample_files()["v2"].files
    return {key: v2[key] for key in ("stations.geojson", "temperature.nc", "collection.zip")}


def test_file_links_to_another_origin_get_no_token(fresh_zenodo, elsewhere, make_store):
    elsewhere.add_record(RECORD_ID, _files())
    fresh_zenodo.add_record(RECORD_ID, _files(), link_base=elsewhere.url)
    token = fresh_zenodo.issue_token()
    store = make_store(fresh_zenodo, root=RECORD_ID, access_token=token)

    assert len(store.open_data("stations.geojson")) == 5
    dataset = store.open_data("temperature.nc", variable_names=["temperature"])
    value = float(dataset.temperature.isel(time=1, lat=3, lon=4))
    expected = temperature_value(1.0, float(dataset.lat[3]), float(dataset.lon[4]))
    assert value == pytest.approx(expected, rel=1e-6)
    store.preload_data("collection.zip").raise_for_failures()

    served_elsewhere = elsewhere.request_log
    assert served_elsewhere, "the files should have been read from the other server"
    assert all("authorization" not in r.headers for r in served_elsewhere)
    api_requests = fresh_zenodo.request_log
    assert api_requests and all(
        r.headers.get("authorization") == "Bearer ***" for r in api_requests
    )


def test_origin_comparison_is_exact():
    api = "https://zenodo.org/api"
    assert origin_of(api) == origin_of("https://ZENODO.org:443/api/records/1/files/a/content")
    for other in (
        "http://zenodo.org/api/records",
        "https://zenodo.org:8443/api",
        "https://zenodo.org.evil.example/api",
        "https://evil.example/zenodo.org/api",
        "https://user@evil.example/api",
    ):
        assert origin_of(other) != origin_of(api), other


def test_origin_auth_adds_the_token_only_for_its_origin():
    import requests

    auth = ApiOriginAuth(BearerAuth("s3cr3t-token"), "https://zenodo.org/api")
    inside = requests.Request("GET", "https://zenodo.org/api/records/1").prepare()
    outside = requests.Request(
        "GET", "https://files.example/x", headers={"Authorization": "Bearer leaked"}
    ).prepare()
    assert auth(inside).headers["Authorization"] == "Bearer s3cr3t-token"
    assert "Authorization" not in auth(outside).headers
    assert "s3cr3t" not in repr(auth)


def test_access_token_none_means_not_given(fresh_zenodo, make_store, monkeypatch):
    files = {"stations.geojson": sample_files()["v2"].files["stations.geojson"]}
    fresh_zenodo.add_record("7200001", files, restricted=True)
    monkeypatch.delenv("ZENODO_ACCESS_TOKEN", raising=False)
    anonymous = make_store(fresh_zenodo, root="7200001", access_token=None)
    with pytest.raises(AuthenticationError):
        anonymous.open_data("stations.geojson")
    monkeypatch.setenv("ZENODO_ACCESS_TOKEN", fresh_zenodo.issue_token())
    from_env = make_store(fresh_zenodo, root="7200001", access_token=None)
    assert len(from_env.open_data("stations.geojson")) == 5


def test_store_without_token_reads_open_records(store):
    dataset = store.open_data("temperature.nc", variable_names=["precipitation"])
    assert np.isfinite(float(dataset.precipitation.isel(time=0, lat=0, lon=0)))
