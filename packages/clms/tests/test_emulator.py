"""The emulator speaks the CLMS protocol: grants, search batches, tasks, result archives."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile

import jwt
import pytest
import requests
from eostores_clms.testing import ClmsEmulator
from eostores_clms.testing.keys import new_key_pair

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _grant(key, private_key=None, **claims):
    now = int(time.time())
    body = {
        "iss": key["client_id"],
        "sub": key["user_id"],
        "aud": key["token_uri"],
        "iat": now,
        "exp": now + 3600,
        **claims,
    }
    return jwt.encode(body, private_key or key["private_key"], algorithm="RS256")


def _token(key, **kwargs):
    return requests.post(
        key["token_uri"], data={"grant_type": GRANT, "assertion": _grant(key, **kwargs)}, timeout=30
    )


@pytest.fixture
def key(clms):
    return clms.service_key()


@pytest.fixture
def auth(key):
    return {"Authorization": f"Bearer {_token(key).json()['access_token']}"}


def _refusal(answer):
    assert answer.status_code == 400, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    return body["error"], body["error_description"]


def test_grant_is_verified_with_the_key_pair_of_the_service_key(clms, key):
    answer = _token(key)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.json()["token_type"] == "Bearer" and answer.json()["expires_in"] == 3600
    other = clms.new_service_key(user_id="second-user")
    assert _token(other).status_code == 200
    assert _refusal(_token(key, private_key=new_key_pair()[0])) == (
        "invalid_grant",
        "Signature verification failed",
    )
    assert _refusal(_token(key, aud="https://elsewhere.example/@@oauth2-token")) == (
        "invalid_grant",
        "Audience doesn't match",
    )
    assert _refusal(_token(key, sub="someone-else")) == (
        "invalid_grant",
        "JWT subject doesn't match user_id of service key.",
    )
    assert _refusal(_token(key, exp=int(time.time()) - 10)) == (
        "invalid_grant",
        "Signature has expired",
    )
    assert _refusal(_token(key, iss="unknown-client")) == (
        "invalid_grant",
        "No associated key found",
    )


@pytest.mark.parametrize(
    ("claims", "said"),
    [
        ({"exp": 2 * 86400}, "more than a day in the future"),
        ({"nbf": -10}, "'nbf' claim is not"),
        ({"scope": None}, "Scopes are not supported"),
        ({"iat": -2 * 3600}, "issued more than an hour in the past"),
        # PyJWT refuses a future iat before the grant processor's one-minute allowance.
        ({"iat": 600}, "(iat)"),
    ],
)
def test_grants_the_service_refuses(key, claims, said):
    now = int(time.time())
    shifted = {k: "read" if v is None else now + v for k, v in claims.items()}
    error, description = _refusal(_token(key, **shifted))
    assert error == "invalid_grant" and said in description


def test_token_requests_without_a_jwt_bearer_grant(key):
    def post(**form):
        return requests.post(key["token_uri"], data=form, timeout=30)

    assert _refusal(post(assertion=_grant(key))) == ("invalid_request", "Missing 'grant_type'")
    error, description = _refusal(post(grant_type="password", assertion=_grant(key)))
    assert error == "invalid_request" and description.startswith("Only grant type")
    assert _refusal(post(grant_type=GRANT)) == ("invalid_request", "Missing 'assertion'")
    hs256 = jwt.encode({"iss": key["client_id"]}, "a shared secret of 32 bytes!!!!!", "HS256")
    assert _refusal(post(grant_type=GRANT, assertion=hs256)) == (
        "invalid_request",
        "Only RS256 signature algorithm is supported",
    )


def test_search_batches_and_full_objects(clms):
    url = f"{clms.url}/api/@search"
    first = requests.get(url, params={"portal_type": "DataSet", "b_size": 2}, timeout=30).json()
    assert first["items_total"] == 5 and len(first["items"]) == 2
    assert "downloadable_files" not in first["items"][0], "summaries without fullobjects"
    second = requests.get(first["batching"]["next"], timeout=30).json()
    assert second["batching"]["prev"].endswith("b_start=0")
    full = requests.get(url, params={"portal_type": "DataSet", "fullobjects": 1}, timeout=30).json()
    assert "batching" not in full
    item = full["items"][0]
    assert item["dataset_download_information"]["items"][0]["full_source"] == "EEA"
    assert item["downloadable_files"]["items"][0]["format"] == "Geotiff"


def test_task_lifecycle_and_zip_in_zip_result(clms, auth):
    clms.queue_s, clms.run_s = 1.0, 1.0
    try:
        item = requests.get(
            f"{clms.url}/api/@search",
            params={"portal_type": "DataSet", "fullobjects": 1},
            timeout=30,
        ).json()["items"][0]
        file = item["downloadable_files"]["items"][0]
        body = {"Datasets": [{"DatasetID": item["UID"], "FileID": file["@id"]}]}
        posted = requests.post(
            f"{clms.url}/api/@datarequest_post", json=body, headers=auth, timeout=30
        )
        assert posted.status_code == 201
        task_id = posted.json()["TaskIds"][0]["TaskID"]
        assert clms.task_status(task_id) == "Queued"
        seen = []
        while not seen or seen[-1] != "Finished_ok":
            state = requests.get(
                f"{clms.url}/api/@datarequest_status_get",
                params={"TaskID": task_id},
                headers=auth,
                timeout=30,
            ).json()
            if not seen or seen[-1] != state["Status"]:
                seen.append(state["Status"])
            time.sleep(0.02)
        order = ["Queued", "In_progress", "Finished_ok"]
        assert seen == sorted(seen, key=order.index) and "In_progress" in seen
        for field in ("RegistrationDateTime", "FinalizationDateTime"):
            assert dt.datetime.fromisoformat(state[field]).utcoffset() == dt.timedelta(0)
        archive = requests.get(state["DownloadURL"], timeout=30)
        assert len(archive.content) == state["FileSize"]
        ranged = requests.get(state["DownloadURL"], headers={"Range": "bytes=10-19"}, timeout=30)
        assert ranged.status_code == 206 and ranged.content == archive.content[10:20]
        outer = zipfile.ZipFile(io.BytesIO(archive.content))
        (inner_name,) = [n for n in outer.namelist() if n.startswith("Results/")]
        inner = zipfile.ZipFile(io.BytesIO(outer.read(inner_name)))
        tiles = sorted(n for n in inner.namelist() if n.endswith(".tif"))
        assert tiles == [
            "IMD_2018_100m_E40N20_03035_v020.tif",
            "IMD_2018_100m_E40N21_03035_v020.tif",
            "IMD_2018_100m_E41N20_03035_v020.tif",
        ]
        listed = requests.get(f"{clms.url}/api/@datarequest_search", headers=auth, timeout=30)
        assert task_id in listed.json()
        finished = requests.get(
            f"{clms.url}/api/@datarequest_search",
            params={"status": "Queued"},
            headers=auth,
            timeout=30,
        )
        assert task_id not in finished.json()
    finally:
        clms.queue_s, clms.run_s = 0.0, 0.05


def test_request_errors_carry_the_service_message(clms, auth):
    url = f"{clms.url}/api/@datarequest_post"
    assert requests.post(url, json={"Datasets": []}, timeout=30).status_code == 401
    bad = requests.post(
        url, json={"Datasets": [{"DatasetID": "nope", "FileID": "x"}]}, headers=auth, timeout=30
    )
    assert bad.status_code == 400 and bad.json()["msg"] == "Error, the DatasetID is not valid"
    missing = requests.get(
        f"{clms.url}/api/@datarequest_status_get",
        params={"TaskID": "0" * 32},
        headers=auth,
        timeout=30,
    )
    assert missing.status_code == 404
    wrong_status = requests.get(
        f"{clms.url}/api/@datarequest_search", params={"status": "Done"}, headers=auth, timeout=30
    )
    assert wrong_status.status_code == 400
    gone = requests.get(f"{clms.url}/downloads/{'0' * 32}/x.zip", timeout=30)
    assert gone.status_code == 404


def test_duplicate_too_many_and_failed_requests(fresh_clms):
    auth = {"Authorization": f"Bearer {_token(fresh_clms.service_key()).json()['access_token']}"}
    url = f"{fresh_clms.url}/api/@datarequest_post"
    product, file = fresh_clms.find_file("tree-cover-density-2018", "TCD_2018_100m_eu_03035_v020")
    one = {"Datasets": [{"DatasetID": product.uid, "FileID": product.file_id(file)}]}

    def post(body):
        return requests.post(url, json=body, headers=auth, timeout=30)

    fresh_clms.script_outcomes("fme_failed", "stuck")
    failed = post(one)
    assert failed.status_code == 500
    assert failed.json() == {"status": "error", "msg": "Error, all requests failed"}
    (orphan,) = fresh_clms.task_ids
    assert fresh_clms.task_status(orphan) == "Queued", "registered, never processed"
    duplicate = post(one)
    assert duplicate.status_code == 400
    assert duplicate.json()["msg"].startswith("You have requested to download the same thing")
    fresh_clms.cancel_task(orphan)
    stuck = post(one)
    assert stuck.status_code == 201 and stuck.json()["ErrorTaskIds"] == []
    stuck_id = stuck.json()["TaskIds"][0]["TaskID"]
    time.sleep(0.2)
    assert fresh_clms.task_status(stuck_id) == "Queued"
    fresh_clms.cancel_task(stuck_id)
    twice = post({"Datasets": one["Datasets"] * 2})
    assert twice.status_code == 400 and "same thing at least twice" in twice.json()["msg"]
    many = post({"Datasets": one["Datasets"] * 6})
    assert many.status_code == 400 and "only process 5 items" in many.json()["msg"]
    assert post(one).status_code == 201


def _delete(clms, auth, task_id):
    return requests.delete(
        f"{clms.url}/api/@datarequest_delete", json={"TaskID": task_id}, headers=auth, timeout=30
    )


def test_scripted_outcomes_and_deletes(clms, auth):
    tcd = ("tree-cover-density-2018", "TCD_2018_100m_eu_03035_v020")
    task_id = clms.add_task(*tcd, status="Queued")
    deleted = _delete(clms, auth, task_id)
    assert deleted.status_code == 204 and clms.task_status(task_id) == "Cancelled"
    finished = clms.add_task(*tcd, status="Finished_ok")
    assert _delete(clms, auth, finished).status_code == 204, "any state can be cancelled"
    assert clms.task_status(finished) == "Cancelled"
    unknown = _delete(clms, auth, "0" * 32)
    assert unknown.status_code == 403 and unknown.json()["msg"] == "Error, TaskID not registered"
    foreign = clms.add_task(*tcd, status="Queued", user="someone-else")
    refused = _delete(clms, auth, foreign)
    assert refused.status_code == 404 and refused.json()["msg"] == "Error, permission denied"
    assert clms.task_status(foreign) == "Queued"
    assert _delete(clms, auth, None).status_code == 400
    rejected = clms.add_task(*tcd, status="Rejected")
    state = requests.get(
        f"{clms.url}/api/@datarequest_status_get",
        params={"TaskID": rejected},
        headers=auth,
        timeout=30,
    ).json()
    assert state["Status"] == "Rejected" and "rejected" in state["Message"]
    with pytest.raises(ValueError):
        clms.script_outcomes("Exploded")


def test_naive_times_as_in_older_tasks():
    with ClmsEmulator(naive_times=True) as emulator:
        key = emulator.service_key()
        auth = {"Authorization": f"Bearer {_token(key).json()['access_token']}"}
        task_id = emulator.add_task(
            "tree-cover-density-2018", "TCD_2018_100m_eu_03035_v020", age_s=60
        )
        listed = requests.get(f"{emulator.url}/api/@datarequest_search", headers=auth, timeout=30)
        state = listed.json()[task_id]
        for field in ("RegistrationDateTime", "FinalizationDateTime"):
            assert dt.datetime.fromisoformat(state[field]).tzinfo is None
