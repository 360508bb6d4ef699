"""Tokens, keys and hostile names: the grant, its renewal, secrets kept out of sight."""

from __future__ import annotations

import logging
import os
import pickle
import time
from pathlib import Path

import pytest
from conftest import TCD, WATER, requests_to
from eostores_clms.api import TokenSource
from eostores_clms.testing import ClmsEmulator
from eostores_clms.testing.keys import new_key_pair

from eostores.errors import AuthenticationError, ServiceError
from eostores.testing import FaultProfile


def _pem_body(key: str) -> str:
    """A line from the middle of a PEM key: what a leak would show."""
    lines = key.strip().splitlines()
    return lines[len(lines) // 2]


def _revoke_while_polling(emulator, handle) -> None:
    """Revoke the tokens once the task is being polled; the preload must carry on."""
    ends = time.monotonic() + 60
    while not requests_to(emulator, "/@datarequest_status_get"):
        assert time.monotonic() < ends
        time.sleep(0.02)
    emulator.revoke_tokens()
    assert handle.wait(timeout=120)
    handle.raise_for_failures()


def test_one_token_serves_many_calls_and_is_renewed_when_refused(fresh_clms, make_store):
    store = make_store(fresh_clms)
    store.list_data_ids()
    assert not requests_to(fresh_clms, "/@@oauth2-token"), "listing needs no token"
    store.preload_data(TCD, silent=True).raise_for_failures()
    assert len(requests_to(fresh_clms, "/@@oauth2-token")) == 1
    assert store.api.tokens.grants == 1
    fresh_clms.queue_s = 1.0
    fresh_clms.reset_log()
    _revoke_while_polling(fresh_clms, store.preload_data(WATER, blocking=False, silent=True))
    assert [r.status for r in fresh_clms.request_log if r.status == 401] == [401]
    assert [r.status for r in requests_to(fresh_clms, "/@@oauth2-token")] == [200]
    assert store.api.tokens.grants == 2


def test_injected_token_expiry_is_survived(fresh_clms, make_store):
    fresh_clms.faults = FaultProfile(token_ttl_s=2.5)  # the service drops tokens early
    fresh_clms.queue_s = 4.0
    store = make_store(fresh_clms, poll_interval=0.1)
    store.preload_data(TCD, silent=True).raise_for_failures()
    refused = [r for r in fresh_clms.request_log if r.status == 401]
    grants = requests_to(fresh_clms, "/@@oauth2-token")
    assert refused and len(grants) == len(refused) + 1, "a new token only after a refusal"


def test_tokens_are_renewed_before_they_expire(fresh_clms, make_store):
    fresh_clms.token_lifetime_s = 2.0  # expires_in says 2 s
    fresh_clms.queue_s = 4.5
    store = make_store(fresh_clms, poll_interval=0.1)
    store.preload_data(TCD, silent=True).raise_for_failures()
    grants = len(requests_to(fresh_clms, "/@@oauth2-token"))
    polls = len(requests_to(fresh_clms, "/@datarequest_status_get"))
    assert 3 <= grants < polls, "renewed about every 2 s, not per call"


class _SlowAnswers:
    """A session whose answers reach the client ``delay`` seconds of ``clock`` after the
    service handled the request (a slow network, or a client busy elsewhere)."""

    def __init__(self, session, clock, delay: float):
        self.session, self.clock, self.delay = session, clock, delay

    def post(self, *args, **kwargs):
        response = self.session.post(*args, **kwargs)
        self.clock.now += self.delay
        return response


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_lifetime_counts_from_when_it_was_asked_for(clms, make_store):
    """expires_in 3600 s, renewed 300 s early: due 3300 s after the request was sent, even
    when the answer took 250 s to arrive (due at 3550 s it would be used after expiry)."""
    api = make_store(clms).api
    clock = _Clock()
    tokens = TokenSource(api.key_loader(), _SlowAnswers(api.session, clock, 250.0), clock)
    first = tokens.get()
    clock.now = 1000.0 + 3299.0
    assert tokens.get() == first and tokens.grants == 1
    clock.now = 1000.0 + 3301.0
    assert tokens.get() != first and tokens.grants == 2


def test_a_wrong_key_is_refused_quickly_and_requests_nothing(fresh_clms, make_store):
    key = fresh_clms.service_key()
    key["private_key"] = new_key_pair()[0]
    store = make_store(fresh_clms, credentials=key)
    started = time.monotonic()
    error = store.preload_data(TCD, silent=True).failures[TCD]
    assert time.monotonic() - started < 20
    assert isinstance(error, AuthenticationError) and error.parameter == "credentials"
    assert "refused the service key" in str(error)
    assert "invalid_grant" in str(error) and "signature" in str(error).lower()
    assert [r.status for r in requests_to(fresh_clms, "/@@oauth2-token")] == [400]
    assert not requests_to(fresh_clms, "/@datarequest_search")
    assert _pem_body(key["private_key"]) not in str(error)


def test_a_malformed_or_missing_key_fails_before_any_request(fresh_clms, make_store, monkeypatch):
    key = fresh_clms.service_key()
    key["private_key"] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    store = make_store(fresh_clms, credentials=key)
    store.list_data_ids()
    fresh_clms.reset_log()
    error = store.preload_data(TCD, silent=True).failures[TCD]
    assert isinstance(error, AuthenticationError) and "not a valid RSA private key" in str(error)
    assert fresh_clms.request_log == []
    monkeypatch.delenv("CLMS_CREDENTIALS", raising=False)
    anonymous = make_store(fresh_clms, credentials=None)
    with pytest.raises(AuthenticationError, match="CLMS_CREDENTIALS"):
        anonymous.preload_data(TCD)
    assert not requests_to(fresh_clms, "/@@oauth2-token")


def test_the_private_key_and_tokens_never_show(fresh_clms, make_store, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    key = fresh_clms.service_key()
    secret = _pem_body(key["private_key"])
    store = make_store(fresh_clms, credentials=key)
    fresh_clms.queue_s = 1.0
    _revoke_while_polling(fresh_clms, store.preload_data(TCD, blocking=False, silent=True))
    texts = [caplog.text, repr(store), str(store)]
    bad = dict(key, private_key=new_key_pair()[0])
    failure = make_store(fresh_clms, credentials=bad).preload_data(WATER, silent=True)
    texts += [str(e) for e in failure.failures.values()] + [failure.table()]
    for text in texts:
        assert secret not in text
        assert "BEGIN PRIVATE KEY" not in text
    tokens = fresh_clms.issued_tokens
    assert tokens and not any(token in caplog.text for token in tokens)
    pickled = pickle.dumps(store)
    assert secret.encode() not in pickled and b"BEGIN PRIVATE KEY" not in pickled
    again = pickle.loads(pickled)
    assert again.store_params["credentials"]["private_key"] == key["private_key"]
    for path in Path(tmp_path).rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_a_key_file_and_the_environment_variable(fresh_clms, make_store, tmp_path, monkeypatch):
    import json

    path = tmp_path / "clms-key.json"
    path.write_text(json.dumps(fresh_clms.service_key()), encoding="utf-8")
    os.chmod(path, 0o600)
    make_store(fresh_clms, credentials=str(path)).preload_data(
        TCD, silent=True
    ).raise_for_failures()
    monkeypatch.setenv("CLMS_CREDENTIALS", str(path))
    store = make_store(
        fresh_clms, credentials=None, cache_store_params={"root": str(tmp_path / "b")}
    )
    store.preload_data(TCD, silent=True).raise_for_failures()


@pytest.fixture
def hostile():
    with ClmsEmulator(hostile=True) as emulator:
        yield emulator


def _outside_names(tmp_path: Path) -> list[str]:
    names = []
    for folder in (tmp_path, *tmp_path.parents[:3]):
        names += [
            p.name
            for p in folder.iterdir()
            if "outside-the-cache" in p.name or p.name.startswith("escaped_E40N20")
        ]
    return names


def test_hostile_file_names_stay_inside_the_cache(hostile, make_store, tmp_path):
    data_id = "hostile-names|../../../outside-the-cache"
    store = make_store(hostile)
    assert store.has_data(data_id)
    handle = store.preload_data(data_id, silent=True)
    handle.raise_for_failures()
    (cache_id,) = handle.data_ids
    assert cache_id.startswith("hostile-names/") and ".." not in cache_id.split("/")
    assert (tmp_path / "cache" / cache_id).is_dir()
    assert store.open_data(data_id).imperviousness.size == 16 * 16
    assert _outside_names(tmp_path) == []


def test_archive_entries_escaping_the_folder_are_refused(hostile, make_store, tmp_path):
    store = make_store(hostile)
    error = store.preload_data("hostile-names|escaping-archive", silent=True).failures[
        "hostile-names|escaping-archive"
    ]
    assert isinstance(error, ServiceError) and "refusing to extract" in str(error)
    assert _outside_names(tmp_path) == []
    assert not list((tmp_path / "cache").rglob("*.tif"))
    assert store.cache_store.list_data_ids() == []


def test_a_download_link_that_is_no_web_address_is_refused(hostile, make_store):
    store = make_store(hostile)
    error = store.preload_data("hostile-names|foreign-link", silent=True).failures[
        "hostile-names|foreign-link"
    ]
    assert isinstance(error, ServiceError) and "not http(s)" in str(error)
    assert "/etc/passwd" not in [r.path for r in hostile.request_log]
