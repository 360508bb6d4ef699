"""The emulator speaks the Zenodo REST API as documented (probed with plain HTTP)."""

from __future__ import annotations

import hashlib

import pytest
import requests
from eostores_zenodo.testing import (
    CONCEPT_ID,
    EXTERNAL_DOI,
    EXTERNAL_RECORD_ID,
    LATEST_RECORD_ID,
)
from eostores_zenodo.testing.samples import sample_files


def _get(emulator, path, **kwargs):
    return requests.get(f"{emulator.url}{path}", timeout=10, **kwargs)


def test_record_json_has_files_checksums_and_links(zenodo):
    record = _get(zenodo, f"/api/records/{LATEST_RECORD_ID}").json()
    assert record["id"] == int(LATEST_RECORD_ID)
    assert record["conceptrecid"] == CONCEPT_ID
    assert record["doi"] == f"10.5281/zenodo.{LATEST_RECORD_ID}"
    assert record["metadata"]["relations"]["version"][0]["is_last"] is True
    files = {entry["key"]: entry for entry in record["files"]}
    entry = files["temperature.nc"]
    content = _get(zenodo, entry["links"]["self"].removeprefix(zenodo.url))
    assert content.headers["Accept-Ranges"] == "bytes"
    assert int(content.headers["Content-Length"]) == entry["size"]
    assert entry["checksum"] == "md5:" + hashlib.md5(content.content).hexdigest()
    corrupted = files["corrupted.nc"]
    body = _get(zenodo, corrupted["links"]["self"].removeprefix(zenodo.url)).content
    assert corrupted["checksum"] != "md5:" + hashlib.md5(body).hexdigest()


@pytest.mark.parametrize(
    ("raw", "written"),
    [(False, "dir/a%20b%23c%3F%25.nc"), (True, "dir/a b#c?%.nc")],
)
def test_file_links_write_keys_as_zenodos_serializer_does(fresh_zenodo, raw, written):
    # zenodo-rdm quotes keys in file links since March 2026, keeping "/"; before, raw.
    fresh_zenodo.raw_file_links = raw
    key = "dir/a b#c?%.nc"
    fresh_zenodo.add_record("7300001", {key: sample_files()["v2"].files["temperature.nc"]})
    record = _get(fresh_zenodo, "/api/records/7300001").json()
    [entry] = record["files"]
    assert entry["key"] == key
    assert entry["links"]["self"] == (
        f"{fresh_zenodo.url}/api/records/7300001/files/{written}/content"
    )


def test_files_api_has_invenio_rdm_links(zenodo):
    listing = _get(zenodo, f"/api/records/{LATEST_RECORD_ID}/files").json()
    assert listing["enabled"] is True
    assert listing["links"]["self"].endswith(f"/api/records/{LATEST_RECORD_ID}/files")
    entry = next(e for e in listing["entries"] if e["key"] == "temperature.nc")
    metadata = _get(zenodo, entry["links"]["self"].removeprefix(zenodo.url))
    assert metadata.headers["Content-Type"].startswith("application/json")
    assert metadata.json()["key"] == "temperature.nc"
    assert metadata.json()["links"] == entry["links"]
    content = _get(zenodo, entry["links"]["content"].removeprefix(zenodo.url))
    assert int(content.headers["Content-Length"]) == entry["size"]
    assert entry["checksum"] == "md5:" + hashlib.md5(content.content).hexdigest()


@pytest.mark.parametrize("listed", [True, False])
def test_restricted_files_are_listed_to_anonymous_callers_only_if_configured(fresh_zenodo, listed):
    fresh_zenodo.list_restricted_files = listed
    files = {"stations.geojson": sample_files()["v2"].files["stations.geojson"]}
    fresh_zenodo.add_record("7200001", files, restricted=True)
    anonymous = _get(fresh_zenodo, "/api/records/7200001").json()
    assert anonymous["metadata"]["access_right"] == "restricted"
    assert [f["key"] for f in anonymous["files"]] == (["stations.geojson"] if listed else [])
    assert _get(fresh_zenodo, "/api/records/7200001/files").status_code == (200 if listed else 403)
    token = {"Authorization": f"Bearer {fresh_zenodo.issue_token()}"}
    with_token = _get(fresh_zenodo, "/api/records/7200001", headers=token).json()
    assert [f["key"] for f in with_token["files"]] == ["stations.geojson"]
    listing = _get(fresh_zenodo, "/api/records/7200001/files", headers=token).json()
    assert [e["key"] for e in listing["entries"]] == ["stations.geojson"]


def test_ranges_are_served(zenodo):
    path = f"/api/records/{LATEST_RECORD_ID}/files/temperature.nc/content"
    response = _get(zenodo, path, headers={"Range": "bytes=0-7"})
    assert response.status_code == 206
    assert response.content == b"\x89HDF\r\n\x1a\n"
    assert response.headers["Content-Range"].startswith("bytes 0-7/")


def test_concept_ids_redirect_to_the_latest_version(zenodo):
    response = _get(zenodo, f"/api/records/{CONCEPT_ID}", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/api/records/{LATEST_RECORD_ID}")
    versions = _get(zenodo, f"/api/records/{CONCEPT_ID}/versions").json()
    assert versions["hits"]["total"] == 2


def test_unknown_records_and_files(zenodo):
    missing = _get(zenodo, "/api/records/123")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    page = _get(zenodo, f"/api/records/{LATEST_RECORD_ID}/files/nothing.nc/content")
    assert page.status_code == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Retry-After"] == "60"


def test_default_rate_limit_is_zenodos():
    from eostores_zenodo.testing import ZenodoEmulator

    with ZenodoEmulator(sample=False) as emulator:
        page = _get(emulator, "/api/records/1/files/x.nc/content")
    assert page.status_code == 404
    assert page.headers["X-RateLimit-Limit"] == "133"
    assert page.headers["X-RateLimit-Remaining"] == "132"


def test_search_by_doi(zenodo):
    hits = _get(zenodo, "/api/records", params={"q": f'doi:"{EXTERNAL_DOI}"'}).json()
    assert [hit["id"] for hit in hits["hits"]["hits"]] == [int(EXTERNAL_RECORD_ID)]


def test_rate_limit_answers_429_with_retry_after(fresh_zenodo):
    fresh_zenodo.rate_limit = 1
    fresh_zenodo.rate_window_s = 30.0
    assert _get(fresh_zenodo, f"/api/records/{LATEST_RECORD_ID}").status_code == 200
    limited = _get(fresh_zenodo, f"/api/records/{LATEST_RECORD_ID}")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert limited.headers["X-RateLimit-Remaining"] == "0"
