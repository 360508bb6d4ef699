"""The emulator's protocol, spoken directly over HTTP and through sentinelhub-py."""

from __future__ import annotations

import threading
import time
import zlib
from datetime import datetime

import numpy as np
import pytest
import requests
from conftest import PROCESS_PATH, TOKEN_PATH
from eostores_sentinelhub.api import evalscript
from eostores_sentinelhub.testing import (
    BYOC_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SentinelHubEmulator,
    expected_values,
    to_sample_type,
)
from eostores_sentinelhub.testing.samples import BYOC_FOOTPRINT

from eostores.testing import FaultProfile


def token(server, **kwargs):
    response = requests.post(
        f"{server.url}{TOKEN_PATH}",
        data={"grant_type": "client_credentials", **kwargs.pop("data", {})},
        timeout=5,
        **kwargs,
    )
    return response


def bearer(server) -> dict[str, str]:
    answer = token(server, auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)).json()
    return {"Authorization": f"Bearer {answer['access_token']}"}


def process_body(width=4, height=3, bands=("B04",), sample_type="FLOAT32", fmt="image/tiff"):
    return {
        "input": {
            "bounds": {
                "bbox": [10.0, 50.0, 10.004, 50.003],
                "properties": {"crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
            },
            "data": [
                {
                    "type": "sentinel-2-l2a",
                    "dataFilter": {
                        "timeRange": {"from": "2021-06-03T00:00:00Z", "to": "2021-06-03T23:59:59Z"}
                    },
                }
            ],
        },
        "output": {
            "width": width,
            "height": height,
            "responses": [{"identifier": "default", "format": {"type": fmt}}],
        },
        "evalscript": evalscript(list(bands), ["REFLECTANCE"] * len(bands), sample_type),
    }


def test_token_with_basic_auth_or_form_credentials(clean_emulator):
    basic = token(clean_emulator, auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
    form = token(
        clean_emulator,
        data={"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
    )
    for answer in (basic, form):
        assert answer.status_code == 200
        body = answer.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert body["access_token"].count(".") == 2  # JWT-shaped
    wrong = token(clean_emulator, auth=(DEFAULT_CLIENT_ID, "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    grant = requests.post(f"{clean_emulator.url}{TOKEN_PATH}", data={"grant_type": "password"})
    assert grant.status_code == 400


def test_process_needs_a_bearer_token(clean_emulator):
    answer = requests.post(f"{clean_emulator.url}{PROCESS_PATH}", json=process_body(), timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "COMMON_UNAUTHORIZED"


def test_process_geotiff_and_raw_samples_agree(clean_emulator):
    import tifffile

    headers = bearer(clean_emulator)
    url = f"{clean_emulator.url}{PROCESS_PATH}"
    tiff = requests.post(url, json=process_body(), headers=headers, timeout=5)
    assert tiff.headers["Content-Type"] == "image/tiff"
    # raw samples are asked for with the Accept header only; the body names GeoTIFF
    raw = requests.post(
        url,
        json=process_body(),
        headers={**headers, "Accept": "application/octet-stream"},
        timeout=5,
    )
    assert raw.headers["Content-Type"] == "application/octet-stream"
    described = [raw.headers[f"SH-{name}"] for name in ("Width", "Height", "Components")]
    assert described == ["4", "3", "2"] and raw.headers["SH-SampleType"] == "FLOAT32"
    data = zlib.decompress(raw.content)  # compressed, as xcube-sh declares its chunks
    assert len(data) == 4 * 3 * 2 * 4  # B04 and dataMask as float32
    image = tifffile.imread(__import__("io").BytesIO(tiff.content))
    samples = np.frombuffer(data, "<f4").reshape(3, 4, 2)
    np.testing.assert_array_equal(image, samples)
    assert (samples[:, :, 1] == 1).all()
    xs = 10.0 + (np.arange(4) + 0.5) * 0.001
    ys = 50.003 - (np.arange(3) + 0.5) * 0.001
    when = max(
        clean_emulator.acquisition_times(
            "sentinel-2-l2a", datetime(2021, 6, 3), datetime(2021, 6, 3, 23, 59, 59)
        )
    )
    expected = expected_values("B04", xs[None, :], ys[:, None], when, geographic=True)
    np.testing.assert_allclose(samples[:, :, 0], to_sample_type(expected, "FLOAT32"), rtol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b: b.update(evalscript=b["evalscript"].replace("bands: 2", "bands: 3")),
            "returns 2",
        ),
        (
            lambda b: b.update(evalscript=b["evalscript"].replace("B04", "B4")),
            "'B4' does not exist",
        ),
        (lambda b: b["output"].update(width=3000), "1..2500"),
        (lambda b: b["input"]["bounds"]["properties"].update(crs="EPSG:4326"), "not supported"),
        (lambda b: b.update(evalscript="return 1"), "VERSION=3"),
        (
            lambda b: b["output"]["responses"][0]["format"].update(type="application/octet-stream"),
            "Invalid output format type 'application/octet-stream'",
        ),
    ],
    ids=["band-count", "unknown-band", "too-wide", "crs-form", "script-version", "raw-in-body"],
)
def test_process_errors_are_service_json(clean_emulator, change, message):
    body = process_body()
    change(body)
    answer = requests.post(
        f"{clean_emulator.url}{PROCESS_PATH}", json=body, headers=bearer(clean_emulator), timeout=5
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == 400 and message in error["message"]


def test_concurrency_limit_answers_429_with_retry_after_in_ms():
    # the first request holds the only slot for 3 s: ample time for the second to arrive
    with SentinelHubEmulator(max_concurrent_requests=1, processing_ms=3000) as server:
        headers = bearer(server)
        url = f"{server.url}{PROCESS_PATH}"
        first = threading.Thread(
            target=requests.post, args=(url,), kwargs={"json": process_body(), "headers": headers}
        )
        first.start()
        while server.process_requests == 0 and not server.in_flight:
            time.sleep(0.001)
        refused = requests.post(url, json=process_body(), headers=headers, timeout=5)
        first.join()
    assert refused.status_code == 429
    wait_ms = int(refused.headers["Retry-After"])
    assert 1 <= wait_ms <= 3000  # milliseconds until the running request ends
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"


def test_injected_faults_answer_like_the_service(clean_emulator):
    clean_emulator.faults = FaultProfile(error_rate=1.0, error_statuses=(429,), retry_after=1.5)
    refused = requests.post(f"{clean_emulator.url}{PROCESS_PATH}", json=process_body(), timeout=5)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1500"
    error = refused.json()["error"]
    assert (error["status"], error["code"]) == (429, "RATE_LIMIT_EXCEEDED")
    identity = token(clean_emulator, auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
    assert identity.status_code == 429 and identity.headers["Retry-After"] == "1.5"
    clean_emulator.faults = FaultProfile(error_rate=1.0, error_statuses=(503,), retry_after=2)
    failed = requests.post(f"{clean_emulator.url}{PROCESS_PATH}", json=process_body(), timeout=5)
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert failed.json()["error"]["status"] == 503


def test_catalog_paging_through_sentinelhub_py(clean_emulator, monkeypatch):
    from sentinelhub import DataCollection, SentinelHubCatalog, SHConfig

    # sentinelhub-py's own session uses requests-oauthlib, which refuses plain http unless
    # told; the variable is set for this test only (the store itself needs no such setting)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")

    config = SHConfig(
        use_defaults=True,
        sh_client_id=DEFAULT_CLIENT_ID,
        sh_client_secret=DEFAULT_CLIENT_SECRET,
        sh_base_url=clean_emulator.url,
        sh_token_url=f"{clean_emulator.url}{TOKEN_PATH}",
    )
    catalog = SentinelHubCatalog(config=config)
    search = catalog.search(
        DataCollection.SENTINEL3_OLCI, time=("2021-01-01", "2021-03-31"), limit=40
    )
    assert len(search.get_timestamps()) == 90
    pages = [r for r in clean_emulator.request_log if r.path.endswith("/search")]
    assert len(pages) == 3
    ids = {c["id"] for c in catalog.get_collections()}
    assert "sentinel-2-l2a" in ids and "dem" not in ids


@pytest.mark.parametrize(
    ("collection", "refused"),
    [("sentinel-1-grd", True), ("dem", True), ("sentinel-2-l2a", False)],
)
def test_least_cloud_cover_needs_cloud_cover_metadata(clean_emulator, collection, refused):
    body = process_body()
    source = body["input"]["data"][0]
    source["type"] = collection
    source["dataFilter"]["mosaickingOrder"] = "leastCC"
    band = "VV" if collection == "sentinel-1-grd" else "DEM" if collection == "dem" else "B04"
    unit = "LINEAR_POWER" if band == "VV" else "METERS" if band == "DEM" else "REFLECTANCE"
    body["evalscript"] = evalscript([band], [unit], "FLOAT32")
    answer = requests.post(
        f"{clean_emulator.url}{PROCESS_PATH}", json=body, headers=bearer(clean_emulator), timeout=5
    )
    if refused:
        assert answer.status_code == 400
        assert "'leastCC' is not supported" in answer.json()["error"]["message"]
    else:
        assert answer.status_code == 200


def test_catalog_search_returns_the_items_intersecting_the_bbox(clean_emulator):
    west, south, east, north = BYOC_FOOTPRINT
    url = f"{clean_emulator.url}/api/v1/catalog/1.0.0/search"

    def search(bbox):
        body = {"collections": [BYOC_ID], "datetime": "2021-06-01T00:00:00Z/2021-06-10T00:00:00Z"}
        answer = requests.post(
            url, json={**body, "bbox": bbox}, headers=bearer(clean_emulator), timeout=5
        )
        assert answer.status_code == 200
        return answer.json()["features"]

    assert search([east + 0.5, south, east + 1.0, south + 1.0]) == []
    found = search([east - 0.5, south, east + 1.0, south + 1.0])
    assert found and all(item["bbox"] == [west, south, east, north] for item in found)
    everywhere = search([-180, -90, 180, 90])
    assert [item["id"] for item in everywhere] == [item["id"] for item in found]
    assert search([170.0, south, west + 0.5, north]) == found  # across the antimeridian
    assert search([170.0, south, west - 0.5, north]) == []
