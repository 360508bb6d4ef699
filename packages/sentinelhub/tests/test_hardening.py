"""Secrets in logs, the process environment, where credentials go, sharing across threads."""

from __future__ import annotations

import io
import logging
import os
import sys
import threading

import numpy as np
import pytest
from conftest import PROCESS_PATH, SEARCH_PATH, TOKEN_PATH, paths
from eostores_sentinelhub.api import api_for
from eostores_sentinelhub.testing import BYOC_ID, DEFAULT_CLIENT_SECRET, SentinelHubEmulator

from eostores.errors import AuthenticationError, ServiceError

PARAMS = {
    "variable_names": ["B04", "B08"],
    "bbox": [10.0, 50.0, 10.04, 50.02],
    "spatial_res": 0.001,
    "time_range": ["2021-06-02", "2021-06-03"],
    "tile_size": [20, 10],
}


@pytest.fixture
def debug_logging():
    """What ``logging.basicConfig(level=logging.DEBUG)`` would print, as text."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream.getvalue
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_no_secret_or_token_is_logged_at_debug_level(make_store, caplog, capfd, debug_logging):
    caplog.set_level(logging.DEBUG)
    with SentinelHubEmulator() as server:
        store = make_store(server)
        assert "S2L2A" in store.list_data_ids()
        store.open_data("S2L2A", **PARAMS, time_period=None).compute()
        custom = {k: v for k, v in PARAMS.items() if k != "variable_names"}
        store.open_data("CUSTOM", collection_id=BYOC_ID, **custom).compute()
        wrong = make_store(server, client_secret="another-secret-9b1e")
        with pytest.raises(AuthenticationError):
            wrong.list_data_ids()
        tokens = server.issued_tokens()
        assert paths(server, TOKEN_PATH) and paths(server, SEARCH_PATH) and tokens
    printed = capfd.readouterr()
    texts = [caplog.text, debug_logging(), printed.out, printed.err]
    texts += [repr(record.args) for record in caplog.records]
    assert "/oauth/token" in debug_logging(), "requests must have been logged at DEBUG"
    for secret in (DEFAULT_CLIENT_SECRET, "another-secret-9b1e", *tokens):
        for text in texts:
            assert secret not in text


def test_the_process_environment_is_left_alone(clean_emulator, make_store, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    before = dict(os.environ)
    store = make_store(clean_emulator, client_id="another-client-for-env")
    with pytest.raises(AuthenticationError):  # a fresh token request over plain http
        store.list_data_ids()
    make_store(clean_emulator).open_data("S2L2A", **PARAMS).compute()
    assert dict(os.environ) == before


def test_tokens_go_to_the_api_origin_only(clean_emulator, make_store):
    store = make_store(clean_emulator)
    store.open_data("S2L2A", **PARAMS).compute()
    token_requests = paths(clean_emulator, TOKEN_PATH)
    for record in token_requests:
        assert "authorization" not in record.headers  # client credentials in the form body
    for record in paths(clean_emulator, PROCESS_PATH):
        assert record.headers["authorization"] == "Bearer ***"
    api = api_for(store.connection)
    with SentinelHubEmulator() as elsewhere:
        for url in (
            f"{elsewhere.url}/api/v1/process",
            clean_emulator.url.replace("127.0.0.1", "localhost") + "/api/v1/process",
            clean_emulator.url.replace("http://", "https://") + "/api/v1/process",
        ):
            with pytest.raises(ServiceError, match="refusing to send the access token"):
                api.send("POST", url, json={})
        assert elsewhere.request_log == []


def test_threads_and_store_instances_share_one_token_and_the_concurrency_cap(make_store):
    # the emulated account serves 3 requests at once; 6 stores in 6 threads send at most
    # 3 at once between them (the cap is per store id and host in the process), so none
    # is refused with 429, and one token serves them all
    with SentinelHubEmulator(max_concurrent_requests=3, processing_ms=20) as server:
        results: list[np.ndarray] = []
        failures: list[BaseException] = []

        def work() -> None:
            try:
                store = make_store(server, max_concurrency_per_host=3)
                results.append(store.open_data("S2L2A", **PARAMS).B08.values)
            except BaseException as error:  # reported below
                failures.append(error)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        assert server.rate_limited == 0
        assert len(paths(server, TOKEN_PATH)) == 1
        assert len(paths(server, PROCESS_PATH)) == 6 * 2 * 2 * 2
        for values in results[1:]:
            np.testing.assert_array_equal(values, results[0])


def test_construction_and_import_need_no_client_library(tmp_path):
    import subprocess

    code = (
        "import os, sys\n"
        "before = dict(os.environ)\n"
        "import eostores_sentinelhub\n"
        "from eostores import new_data_store\n"
        "store = new_data_store('sentinelhub', client_id='x', client_secret='secret-x')\n"
        "assert 'sentinelhub' not in sys.modules, 'sentinelhub-py imported'\n"
        "assert 'eostores_sentinelhub.testing' not in sys.modules\n"
        "assert dict(os.environ) == before\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
