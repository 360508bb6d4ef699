"""eostores.http against the emulator toolkit over real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextvars
import logging
import pickle
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from eostores.__about__ import __version__
from eostores.credentials import Secret
from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreTimeoutError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
)
from eostores.http import (
    BearerAuth,
    HeaderAuth,
    HttpConfig,
    call_deadline,
    http_params_schema,
    new_session,
    parse_retry_after,
    redact_url,
)
from eostores.schema import JsonObjectSchema, JsonStringSchema
from eostores.testing import EmulatorServer, FaultProfile, Request, Response, route

BLOB = bytes(range(256)) * 16  # 4 KiB


class HttpTestEmulator(EmulatorServer):
    name = "httptest"

    @route("GET", r"/ok")
    @route("POST", r"/ok")
    def ok(self, request: Request) -> Response:
        return Response.json({"ok": True, "method": request.method})

    @route("GET", r"/blob")
    def blob(self, request: Request) -> Response:
        return Response.file(BLOB, request)

    @route("GET", r"/private")
    def private(self, request: Request) -> Response:
        return self.require_bearer(request) or Response.json({"private": True})

    @route("GET", r"/header-auth")
    def header_auth(self, request: Request) -> Response:
        if request.headers.get("PRIVATE-TOKEN") != "header-secret-value":
            return Response.json({"detail": "wrong token"}, status=401)
        return Response.json({"ok": True})

    @route("GET", r"/status/(?P<code>\d+)")
    def status(self, request: Request, code: str) -> Response:
        status = int(code)
        kind = request.query.get("kind", "detail")
        if kind == "detail":
            return Response.json({"detail": f"detail for {status}"}, status=status)
        if kind == "nested":
            return Response.json({"error": {"message": "nested explanation", "code": 7}}, status)
        if kind == "title":
            return Response.json({"title": "Job rejected", "detail": "cost limit exceeded"}, status)
        if kind == "stac":  # the STAC API's error object
            return Response.json({"code": "BadRequest", "description": "bbox is invalid"}, status)
        if kind == "html":
            return Response.html_error(status, "Record is gone")
        if kind == "text":
            return Response.text("\n\nplain explanation here\nsecond line", status=status)
        if kind == "long":
            return Response.json({"message": "x" * 1000}, status=status)
        return Response(status)


@pytest.fixture
def emu():
    with HttpTestEmulator() as emulator:
        yield emulator


def fast_config(**overrides) -> HttpConfig:
    """A config with tiny backoff and a unique store id (so host caps are not shared)."""
    settings = {
        "store_id": f"test-{uuid.uuid4().hex[:8]}",
        "retry_backoff_base": 0.01,
        "retry_backoff_max": 5.0,
        "deadline": 10.0,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
    }
    settings.update(overrides)
    return HttpConfig(**settings)


# --------------------------------------------------------------------------- retries


def test_retries_503_then_succeeds(emu):
    emu.faults = FaultProfile(fail_first=2)
    response = new_session(fast_config()).get(f"{emu.url}/ok")
    assert response.json()["ok"] is True
    assert [r.status for r in emu.request_log] == [503, 503, 200]


def test_404_is_not_retried(emu):
    session = new_session(fast_config(num_retries=5))
    with pytest.raises(DataNotFoundError) as info:
        session.get(f"{emu.url}/status/404")
    assert len(emu.request_log) == 1
    assert "detail for 404" in str(info.value)
    assert info.value.status == 404


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, InvalidParameterError),
        (422, InvalidParameterError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (409, ServiceError),
        (410, DataNotFoundError),
        (501, ServiceError),
    ],
)
def test_non_retryable_statuses_map_to_errors_after_one_request(emu, status, error_class):
    config = fast_config()
    with pytest.raises(error_class) as info:
        new_session(config).get(f"{emu.url}/status/{status}")
    assert len(emu.request_log) == 1
    error = info.value
    assert error.status == status
    assert error.url == f"{emu.url}/status/{status}"
    assert error.store_id == config.store_id
    assert f"HTTP {status}" in str(error)
    assert f"GET {emu.url}/status/{status}" in str(error)
    assert f"detail for {status}" in str(error)


def test_a_plain_500_on_get_is_retried_with_the_service_message(emu):
    with pytest.raises(ServiceError) as info:
        new_session(fast_config(num_retries=2)).get(f"{emu.url}/status/500")
    assert [r.status for r in emu.request_log] == [500, 500, 500]
    assert "detail for 500" in str(info.value)
    assert "after 3 attempts" in str(info.value)


def test_post_statuses_are_retried_only_when_marked_idempotent(emu):
    emu.faults = FaultProfile(fail_first=1, retry_after=0)
    session = new_session(fast_config())
    with pytest.raises(ServiceError, match="503"):
        session.post(f"{emu.url}/ok", json={"q": 1})
    assert len(emu.request_log) == 1
    emu.faults = FaultProfile(fail_first=1, retry_after=0)
    emu.reset_log()
    assert session.post(f"{emu.url}/ok", json={"q": 1}, idempotent=True).json()["ok"]
    assert [r.status for r in emu.request_log] == [503, 200]


def test_fractional_retry_after_is_honoured(emu):
    emu.faults = FaultProfile(fail_first=1, retry_after=0.4)
    new_session(fast_config(retry_backoff_base=0.0)).get(f"{emu.url}/ok")
    first, second = emu.request_log
    assert second.started - first.started >= 0.35


def test_retry_after_seconds_is_honoured_as_seconds(emu):
    emu.faults = FaultProfile(fail_first=1, retry_after=1)
    session = new_session(fast_config(retry_backoff_base=0.0))
    session.get(f"{emu.url}/ok")
    first, second = emu.request_log
    assert second.started - first.started >= 0.95  # one second, not one millisecond


def test_retry_after_of_429_in_milliseconds_when_the_service_counts_so(emu):
    emu.faults = FaultProfile(fail_first=1, retry_after=700, error_statuses=(429,))
    config = fast_config(retry_backoff_base=0.0, retry_backoff_max=30.0, retry_after_unit=0.001)
    new_session(config).get(f"{emu.url}/ok")
    first, second = emu.request_log
    assert 0.65 <= second.started - first.started < 5.0  # 700 ms, not 700 s
    assert parse_retry_after("250", unit=0.001) == 0.25


def test_retry_after_http_date_is_honoured(emu):
    emu.faults = FaultProfile(fail_first=1, retry_after="date")
    started = time.monotonic()
    new_session(fast_config(retry_backoff_base=0.0)).get(f"{emu.url}/ok")
    assert time.monotonic() - started >= 0.9
    assert [r.status for r in emu.request_log] == [503, 200]


def test_retry_after_is_capped_by_backoff_max(emu):
    emu.faults = FaultProfile(fail_first=1, retry_after=3600)
    started = time.monotonic()
    new_session(fast_config(retry_backoff_max=0.2)).get(f"{emu.url}/ok")
    assert time.monotonic() - started < 1.5


def test_429_exhausted_raises_quota_exceeded(emu):
    emu.faults = FaultProfile(error_rate=1.0, error_statuses=(429,), retry_after=0)
    with pytest.raises(QuotaExceededError) as info:
        new_session(fast_config(num_retries=2)).get(f"{emu.url}/ok")
    assert len(emu.request_log) == 3
    assert info.value.status == 429
    assert "3 attempts" in str(info.value)
    assert "Too Many Requests" in str(info.value)


def test_deadline_stops_a_stream_of_503s_in_time(emu):
    emu.faults = FaultProfile(error_rate=1.0, retry_after=1)
    session = new_session(fast_config(deadline=1.5, num_retries=100))
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError) as info:
        session.get(f"{emu.url}/ok")
    assert time.monotonic() - started < 1.6
    assert len(emu.request_log) == 2
    assert "deadline" in str(info.value)
    assert "503" in str(info.value)


def test_dropped_connections_are_retried(emu):
    emu.faults = FaultProfile(drop_rate=0.5, seed=1)
    response = new_session(fast_config(num_retries=20)).get(f"{emu.url}/ok")
    assert response.json()["ok"] is True
    faults = [r.fault for r in emu.request_log]
    assert faults[-1] is None
    assert faults[:-1] == ["drop"] * (len(faults) - 1)
    assert len(faults) > 1


def test_connection_failure_after_retries_is_service_error(emu):
    emu.faults = FaultProfile(drop_rate=1.0)
    with pytest.raises(ServiceError) as info:
        new_session(fast_config(num_retries=2)).get(f"{emu.url}/ok?token=drop-secret-1")
    assert len(emu.request_log) == 3
    assert "connection failed" in str(info.value)
    assert "drop-secret-1" not in str(info.value)


def test_post_is_not_retried_after_a_drop_unless_idempotent(emu):
    emu.faults = FaultProfile(drop_rate=1.0)
    session = new_session(fast_config(num_retries=2))
    with pytest.raises(ServiceError):
        session.post(f"{emu.url}/ok", json={"q": 1})
    assert len(emu.request_log) == 1
    emu.reset_log()
    with pytest.raises(ServiceError):
        session.post(f"{emu.url}/ok", json={"q": 1}, idempotent=True)
    assert len(emu.request_log) == 3


def test_truncated_bodies_are_retried(emu):
    emu.faults = FaultProfile(truncate_rate=0.5, seed=1)
    response = new_session(fast_config(num_retries=20)).get(f"{emu.url}/blob")
    assert response.content == BLOB
    assert emu.request_log[0].fault == "truncate"


def test_read_timeouts_are_retried_for_get_only(emu):
    emu.faults = FaultProfile(latency_ms=400)
    session = new_session(fast_config(read_timeout=0.15, num_retries=1))
    with pytest.raises(DataStoreTimeoutError, match="read timed out"):
        session.get(f"{emu.url}/ok")
    assert len(emu.request_log) == 2
    emu.reset_log()
    with pytest.raises(DataStoreTimeoutError):
        session.post(f"{emu.url}/ok")
    assert len(emu.request_log) == 1


def test_refused_connection_fails_fast_naming_the_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The full policy for statuses (many retries, long waits) does not apply to connecting.
    session = new_session(HttpConfig(num_retries=10, retry_backoff_base=30.0, retry_backoff_max=60))
    started = time.monotonic()
    with pytest.raises(ServiceError) as info:
        session.get(f"http://127.0.0.1:{port}/x?api_key=refused-secret-9")
    assert time.monotonic() - started < 3.0
    assert f"cannot connect to http://127.0.0.1:{port} (" in str(info.value)
    assert f"127.0.0.1:{port}/x" in str(info.value)
    assert "refused-secret-9" not in str(info.value)
    assert "api_key=***" in str(info.value)
    assert "2 attempt(s)" in str(info.value)


def test_unknown_host_fails_fast():
    session = new_session(HttpConfig(num_retries=10, retry_backoff_base=30.0, retry_backoff_max=60))
    started = time.monotonic()
    with pytest.raises(ServiceError, match=r"nowhere\.invalid"):
        session.get("http://nowhere.invalid/data")
    assert time.monotonic() - started < 5.0


def test_a_connection_failure_names_the_store_parameter_of_its_origin():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = {
        "api_url": f"http://127.0.0.1:{port}/api",
        "oauth2_url": f"http://127.0.0.1:{port}/oauth",
        "other_url": "http://127.0.0.1:1/elsewhere",
        "num_retries": 0,
    }
    session = new_session(HttpConfig.from_params(params, store_id="demo"))
    with pytest.raises(ServiceError) as info:
        session.post(f"http://127.0.0.1:{port}/oauth/token")
    assert info.value.parameter == "oauth2_url"
    assert str(info.value).endswith("check the store parameter oauth2_url")
    with pytest.raises(ServiceError) as info:
        session.get(f"http://127.0.0.1:{port}/api/records")
    assert info.value.parameter == "api_url"
    with pytest.raises(ServiceError) as info:  # no parameter gives this origin
        session.get(f"http://localhost:{port}/api/records")
    assert info.value.parameter is None and "check the store parameter" not in str(info.value)


# --------------------------------------------------------------------------- deadline on bodies


def test_deadline_bounds_a_slow_body(emu):
    emu.faults = FaultProfile(slow_body_bytes_per_s=2000)  # 4 KiB would take 2 s
    session = new_session(fast_config(deadline=0.5))
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError):
        session.get(f"{emu.url}/blob")
    assert time.monotonic() - started < 1.0


def test_a_streamed_body_may_outlast_the_request_deadline(emu):
    emu.faults = FaultProfile(slow_body_bytes_per_s=8000)  # 4 KiB take 0.5 s
    response = new_session(fast_config(deadline=0.2)).get(f"{emu.url}/blob", stream=True)
    assert b"".join(response.iter_content(256)) == BLOB


def test_call_deadline_bounds_a_streamed_body(emu):
    emu.faults = FaultProfile(slow_body_bytes_per_s=2000)
    session = new_session(fast_config(deadline=None))
    started = time.monotonic()
    with call_deadline(0.5):
        response = session.get(f"{emu.url}/blob", stream=True)
        with pytest.raises(DataStoreTimeoutError, match="deadline"):
            for _ in response.iter_content(256):
                pass
    assert time.monotonic() - started < 1.0


def test_call_deadline_bounds_all_requests_of_a_call(emu):
    emu.faults = FaultProfile(error_rate=1.0, retry_after=0.2)  # a service answering 503 forever
    session = new_session(fast_config(num_retries=1000, deadline=600, retry_backoff_max=1))
    started = time.monotonic()
    with call_deadline(1.0), pytest.raises(DataStoreTimeoutError) as info:
        for _ in range(100):  # a client polling: every request would wait its own 600 s
            session.get(f"{emu.url}/ok", raise_for_status=False)
    assert time.monotonic() - started < 1.5
    assert "503" in str(info.value) and "deadline 1 s" in str(info.value)
    # Outside the call, requests have their own deadline again.
    emu.faults = None
    assert session.get(f"{emu.url}/ok").json()["ok"] is True


def test_call_deadline_reaches_threads_run_in_its_context(emu):
    emu.faults = FaultProfile(error_rate=1.0, retry_after=0.2)
    session = new_session(fast_config(num_retries=1000, deadline=600))
    errors = []

    def worker():
        try:
            session.get(f"{emu.url}/ok")
        except DataStoreTimeoutError as error:
            errors.append(error)

    started = time.monotonic()
    with call_deadline(0.6):
        thread = threading.Thread(target=contextvars.copy_context().run, args=(worker,))
        thread.start()
        thread.join(10)
    assert len(errors) == 1
    assert time.monotonic() - started < 1.2


def test_call_deadline_validates_and_nests():
    with pytest.raises(InvalidParameterError, match="deadline"), call_deadline(0):
        pass
    session = new_session(fast_config(deadline=None))
    with call_deadline(5), call_deadline(0.001):
        time.sleep(0.01)
        with pytest.raises(DataStoreTimeoutError, match="deadline had passed"):
            session.get("http://127.0.0.1:9/never-sent")


def test_streamed_truncation_is_service_error(emu):
    emu.faults = FaultProfile(truncate_rate=1.0)
    response = new_session(fast_config()).get(f"{emu.url}/blob", stream=True)
    with pytest.raises(ServiceError, match="broke off"):
        _ = response.content


# --------------------------------------------------------------------------- concurrency cap


def _peak_with(emu, cap):
    config = fast_config(max_concurrency_per_host=cap)

    def fetch(_):
        return new_session(config).get(f"{emu.url}/ok").status_code  # a session per thread

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(fetch, range(12)))
    assert statuses == [200] * 12
    return emu.peak_concurrency


def test_per_host_cap_is_never_exceeded():
    with HttpTestEmulator(latency_ms=60) as emu:
        assert _peak_with(emu, None) > 2  # the test can see concurrency
        emu.reset_log()
        assert _peak_with(emu, 2) == 2


def test_streamed_response_holds_its_slot_until_closed(emu):
    config = fast_config(max_concurrency_per_host=1)
    first = new_session(config).get(f"{emu.url}/blob", stream=True)
    done = threading.Event()

    def second():
        new_session(config).get(f"{emu.url}/ok")
        done.set()

    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    assert not done.wait(0.3)
    assert len(emu.request_log) == 1
    first.close()
    assert done.wait(5)
    assert len(emu.request_log) == 2


# --------------------------------------------------------------------------- headers and auth


def test_user_agent_names_version_and_store(emu):
    new_session(HttpConfig(store_id="zenodo")).get(f"{emu.url}/ok")
    new_session(HttpConfig(user_agent="custom/1.0")).get(f"{emu.url}/ok")
    agents = [r.headers["user-agent"] for r in emu.request_log]
    assert agents == [f"eostores/{__version__} (zenodo)", "custom/1.0"]


def test_bearer_and_header_auth_from_secrets(emu):
    token = emu.issue_token()
    session = new_session(fast_config(), auth=BearerAuth(Secret(token)))
    assert session.get(f"{emu.url}/private").json() == {"private": True}
    assert token not in repr(session.auth)
    header_session = new_session(
        fast_config(), auth=HeaderAuth("PRIVATE-TOKEN", Secret("header-secret-value"))
    )
    assert header_session.get(f"{emu.url}/header-auth").json() == {"ok": True}
    with pytest.raises(AuthenticationError, match="wrong token"):
        new_session(fast_config(), headers={"PRIVATE-TOKEN": "nope"}).get(f"{emu.url}/header-auth")


def test_basic_auth_tuple_with_secret_password(emu):
    session = new_session(fast_config(), auth=("alice", Secret("basic-secret-pw")))
    session.get(f"{emu.url}/ok")
    assert emu.request_log[-1].headers["authorization"] == "Basic ***"
    assert "basic-secret-pw" not in repr(session.auth)


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("nested", "nested explanation"),
        ("title", "Job rejected: cost limit exceeded"),
        ("stac", "BadRequest: bbox is invalid"),
        ("html", "Record is gone"),
        ("text", "plain explanation here"),
    ],
)
def test_error_message_carries_the_service_message(emu, kind, expected):
    with pytest.raises(ServiceError) as info:
        new_session(fast_config()).get(f"{emu.url}/status/409?kind={kind}")
    message = str(info.value)
    assert expected in message
    assert "second line" not in message


def test_long_service_messages_are_truncated(emu):
    with pytest.raises(ServiceError) as info:
        new_session(fast_config()).get(f"{emu.url}/status/409?kind=long")
    assert "x" * 299 in str(info.value)
    assert "x" * 301 not in str(info.value)


def test_empty_error_body_gives_reason_phrase(emu):
    with pytest.raises(ServiceError, match="Conflict"):
        new_session(fast_config()).get(f"{emu.url}/status/409?kind=none")


def test_raise_for_status_false_returns_the_response(emu):
    response = new_session(fast_config()).get(f"{emu.url}/status/404", raise_for_status=False)
    assert response.status_code == 404
    assert response.json() == {"detail": "detail for 404"}
    assert len(emu.request_log) == 1


def test_no_secret_in_error_text_or_pickled_error(emu):
    url = f"{emu.url}/status/404?token=tok-abc-123456&x=1"
    with pytest.raises(DataNotFoundError) as info:
        new_session(fast_config()).get(url)
    for text in (str(info.value), repr(info.value), info.value.url):
        assert "tok-abc-123456" not in text
    assert "token=***&x=1" in str(info.value)
    restored = pickle.loads(pickle.dumps(info.value))
    assert restored.status == 404
    assert str(restored) == str(info.value)


def test_registered_secret_echoed_by_the_service_is_removed(emu):
    token = Secret("echoed-secret-77")
    with pytest.raises(ServiceError) as info:
        new_session(fast_config()).get(f"{emu.url}/status/409?kind=detail&q={token.reveal()}")
    assert "echoed-secret-77" not in str(info.value)


def test_debug_and_retry_logging_is_redacted(emu, caplog):
    emu.faults = FaultProfile(fail_first=1)
    with caplog.at_level(logging.DEBUG, logger="eostores.http"):
        new_session(fast_config()).get(f"{emu.url}/ok?access_token=log-secret-42&page=2")
    text = caplog.text
    assert "log-secret-42" not in text
    assert "access_token=***&page=2" in text
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("-> 200" in line and "attempt 2" in line and "bytes" in line for line in debug)
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "HTTP 503" in warning
    assert "retry 1/" in warning


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://u:pw@host/p?a=1", "https://u:***@host/p?a=1"),
        ("https://host/p?token=t1&Key=k&x=2", "https://host/p?token=***&Key=***&x=2"),
        (
            "https://b.s3.amazonaws.com/o?X-Amz-Signature=abc&X-Amz-Credential=c&X-Amz-Date=d",
            "https://b.s3.amazonaws.com/o?X-Amz-Signature=***&X-Amz-Credential=***&X-Amz-Date=d",
        ),
        (
            "https://a.blob.core.windows.net/c?sv=1&sig=zz",
            "https://a.blob.core.windows.net/c?sv=1&sig=***",
        ),
        (
            "https://host/p?client_secret=s&refresh_token=r",
            "https://host/p?client_secret=***&refresh_token=***",
        ),
        ("https://host/p?monkey=banana", "https://host/p?monkey=banana"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_parse_retry_after():
    assert parse_retry_after("7") == 7
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
    future = time.time() + 30
    header = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(future))
    assert 28 <= parse_retry_after(header) <= 30
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT") == 0


def test_config_from_params_maps_known_keys_and_validates():
    config = HttpConfig.from_params(
        {"num_retries": 2, "retry_backoff_max": 3, "deadline": None, "unrelated": 1, "num": 2},
        store_id="cds",
    )
    assert (config.num_retries, config.retry_backoff_max, config.deadline) == (2, 3, None)
    assert config.store_id == "cds"
    assert HttpConfig.from_params({"num_retries": None}).num_retries == HttpConfig().num_retries
    with pytest.raises(InvalidParameterError, match="num_retries"):
        HttpConfig.from_params({"num_retries": -1})


def test_http_params_schema_defaults_validation_and_round_trip():
    properties = http_params_schema(num_retries=3, deadline=None, max_concurrency_per_host=4)
    assert set(properties) == {
        "num_retries",
        "retry_backoff_base",
        "retry_backoff_max",
        "connect_timeout",
        "read_timeout",
        "deadline",
        "max_concurrency_per_host",
    }
    assert all(schema.title and schema.description for schema in properties.values())
    schema = JsonObjectSchema(properties=dict(endpoint=JsonStringSchema(), **properties))
    params = schema.validate_instance({"endpoint": "x", "read_timeout": 5})
    config = HttpConfig.from_params(params, store_id="s")
    assert (config.num_retries, config.read_timeout, config.deadline) == (3, 5, None)
    assert config.max_concurrency_per_host == 4
    assert config.retry_backoff_max == HttpConfig().retry_backoff_max
    with pytest.raises(InvalidParameterError, match="read_timeout"):
        schema.validate_instance({"read_timeout": 0})
    with pytest.raises(TypeError, match="num_retry"):
        http_params_schema(num_retry=3)
    with pytest.raises(InvalidParameterError, match="num_retries"):
        http_params_schema(num_retries=-1)


def test_session_pickles_with_its_config(emu):
    session = new_session(fast_config(num_retries=2), auth=BearerAuth(Secret("pickled-tok-1")))
    restored = pickle.loads(pickle.dumps(session))
    assert restored.config == session.config
    emu.faults = FaultProfile(fail_first=1, retry_after=0)
    assert restored.get(f"{emu.url}/ok").json()["ok"] is True
    assert [r.status for r in emu.request_log] == [503, 200]


def test_backoff_is_jittered_and_capped():
    config = HttpConfig(retry_backoff_base=1.0, retry_backoff_max=4.0)
    delays = [config.backoff(10) for _ in range(200)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100
