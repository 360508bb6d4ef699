"""The emulator toolkit, exercised over real HTTP with plain ``requests``."""

from __future__ import annotations

import email.utils
import io
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from eostores.testing import EmulatorServer, FaultProfile, Request, Response, route, run_emulator

DATA = bytes(range(256)) * 4  # 1024 bytes with distinct neighbours


class ToyEmulator(EmulatorServer):
    """A small service: records, a file, an echo, a protected endpoint and a stream."""

    name = "toy"

    def __init__(self, *, greeting: str = "hello", **kwargs):
        super().__init__(**kwargs)
        self.greeting = greeting

    @route("GET", r"/api/records/(?P<record_id>\d+)")
    def get_record(self, request: Request, record_id: str) -> Response:
        if record_id == "0":
            return Response.json({"message": "Record 0 does not exist"}, status=404)
        return Response.json({"id": int(record_id), "greeting": self.greeting})

    @route("GET", r"/files/data.bin")
    def get_file(self, request: Request) -> Response:
        return Response.file(DATA, request)

    @route("POST", r"/echo")
    @route("PUT", r"/echo")
    def echo(self, request: Request) -> Response:
        return Response.json(
            {
                "method": request.method,
                "query": request.query,
                "query_list": request.query_list,
                "json": request.json(),
                "basic": request.basic_auth,
                "bearer": request.bearer_token,
                "content_type": request.headers.get("content-type"),
            }
        )

    @route("GET", r"/private")
    def private(self, request: Request) -> Response:
        return self.require_bearer(request) or Response.text("secret area")

    @route("GET", r"/stream")
    def stream(self, request: Request) -> Response:
        return Response(200, (bytes([i]) * 100 for i in range(10)))

    @route("GET", r"/broken")
    def broken(self, request: Request) -> Response:
        raise RuntimeError("kaputt")

    def store_params(self) -> dict:
        return {"api_url": self.url + "/api", "greeting": self.greeting}


@pytest.fixture
def emu():
    with ToyEmulator() as emulator:
        yield emulator


def test_route_groups_and_store_params(emu):
    response = requests.get(f"{emu.url}/api/records/42", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"id": 42, "greeting": "hello"}
    assert emu.store_params()["api_url"] == emu.url + "/api"
    assert emu.url.startswith("http://127.0.0.1:")


def test_unknown_path_is_404_json_and_wrong_method_405(emu):
    missing = requests.get(f"{emu.url}/nowhere", timeout=5)
    assert missing.status_code == 404
    assert "/nowhere" in missing.json()["message"]
    wrong = requests.delete(f"{emu.url}/api/records/1", timeout=5)
    assert wrong.status_code == 405
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "HEAD"}


def test_head_answers_get_routes_with_headers_only(emu):
    get = requests.get(f"{emu.url}/files/data.bin", timeout=5)
    head = requests.head(f"{emu.url}/files/data.bin", timeout=5)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(DATA))
    for name in ("ETag", "Accept-Ranges", "Content-Type"):
        assert head.headers[name] == get.headers[name]


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [("bytes=10-19", 10, 20), ("bytes=1000-", 1000, 1024), ("bytes=-24", 1000, 1024)],
)
def test_file_ranges(emu, range_header, start, end):
    response = requests.get(f"{emu.url}/files/data.bin", headers={"Range": range_header}, timeout=5)
    assert response.status_code == 206
    assert response.content == DATA[start:end]
    assert response.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(DATA)}"


def test_unsatisfiable_range_is_416_and_malformed_range_ignored(emu):
    beyond = requests.get(f"{emu.url}/files/data.bin", headers={"Range": "bytes=5000-"}, timeout=5)
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(DATA)}"
    several = requests.get(
        f"{emu.url}/files/data.bin", headers={"Range": "bytes=0-1,5-6"}, timeout=5
    )
    assert several.status_code == 200
    assert several.content == DATA


def test_file_from_path_streams_ranges_across_chunks(tmp_path):
    payload = bytes(i % 251 for i in range(300_000))
    (tmp_path / "big.nc").write_bytes(payload)

    class FileEmulator(EmulatorServer):
        @route("GET", r"/(?P<name>[^/]+)")
        def serve(self, request, name):
            return Response.file(tmp_path / name, request)

    with FileEmulator() as emulator:
        whole = requests.get(f"{emulator.url}/big.nc", timeout=5)
        assert whole.content == payload
        part = requests.get(
            f"{emulator.url}/big.nc", headers={"Range": "bytes=65000-140000"}, timeout=5
        )
        assert part.status_code == 206
        assert part.content == payload[65000:140001]
        not_modified = requests.get(
            f"{emulator.url}/big.nc", headers={"If-None-Match": whole.headers["ETag"]}, timeout=5
        )
        assert not_modified.status_code == 304


def test_streamed_body_without_length_is_complete(emu):
    response = requests.get(f"{emu.url}/stream", timeout=5)
    assert response.content == b"".join(bytes([i]) * 100 for i in range(10))
    assert emu.request_log[-1].bytes_sent == 1000


def test_request_helpers_see_body_query_and_auth(emu):
    response = requests.post(
        f"{emu.url}/echo?a=1&b=2&a=3",
        json={"x": [1, 2]},
        auth=("alice", "pa:ss"),
        timeout=5,
    )
    echoed = response.json()
    assert echoed["query"] == {"a": "3", "b": "2"}
    assert echoed["query_list"] == [["a", "1"], ["b", "2"], ["a", "3"]]
    assert echoed["json"] == {"x": [1, 2]}
    assert echoed["basic"] == ["alice", "pa:ss"]
    assert echoed["content_type"] == "application/json"


def test_chunked_request_body_is_decoded(emu):
    parts = (piece for piece in [b'{"chunked"', b": true}"])
    response = requests.put(f"{emu.url}/echo", data=parts, timeout=5)
    assert response.json()["json"] == {"chunked": True}


def test_route_exception_becomes_500_with_message(emu):
    response = requests.get(f"{emu.url}/broken", timeout=5)
    assert response.status_code == 500
    assert "kaputt" in response.json()["message"]


def test_latency_is_added_to_every_request():
    with ToyEmulator(latency_ms=150) as emulator:
        started = time.monotonic()
        requests.get(f"{emulator.url}/api/records/1", timeout=5)
        assert time.monotonic() - started >= 0.15
        emulator.faults = FaultProfile(latency_ms=100)
        started = time.monotonic()
        requests.get(f"{emulator.url}/api/records/1", timeout=5)
        assert time.monotonic() - started >= 0.25


def test_slow_body_is_throttled(emu):
    emu.faults = FaultProfile(slow_body_bytes_per_s=4096)
    started = time.monotonic()
    response = requests.get(f"{emu.url}/files/data.bin", timeout=5)
    elapsed = time.monotonic() - started
    assert response.content == DATA
    assert elapsed >= 0.2  # 1024 bytes at 4096 B/s


def test_fail_first_counts_matching_requests_and_restarts_with_new_profile(emu):
    emu.faults = FaultProfile(fail_first=2, error_statuses=(502, 503), retry_after=3)
    statuses = [requests.get(f"{emu.url}/api/records/1", timeout=5) for _ in range(3)]
    assert [r.status_code for r in statuses] == [502, 502, 200]
    assert statuses[0].headers["Retry-After"] == "3"
    assert [record.fault for record in emu.request_log] == ["fail_first", "fail_first", None]
    emu.faults = FaultProfile(fail_first=1)
    assert requests.get(f"{emu.url}/api/records/1", timeout=5).status_code == 503


def test_error_rate_is_reproducible_with_a_seed():
    def statuses() -> list[int]:
        profile = FaultProfile(error_rate=0.5, error_statuses=(500, 503), seed=7)
        with ToyEmulator(faults=profile) as emulator:
            return [
                requests.get(f"{emulator.url}/api/records/1", timeout=5).status_code
                for _ in range(20)
            ]

    first = statuses()
    assert first == statuses()
    assert 200 in first
    assert any(status in (500, 503) for status in first)


class ShapedFaults(ToyEmulator):
    """Answers injected faults in its own shape, with Retry-After in milliseconds."""

    def fault_response(self, request: Request, status: int, profile) -> Response:
        seconds = float(super().fault_response(request, status, profile).headers["Retry-After"])
        return Response.json(
            {"error": {"status": status, "path": request.path}},
            status,
            headers={"Retry-After": str(round(seconds * 1000))},
        )


def test_emulators_answer_injected_faults_in_their_own_shape():
    faults = FaultProfile(error_rate=1.0, error_statuses=(429,), retry_after=0.25)
    with ShapedFaults(faults=faults) as emulator:
        response = requests.get(f"{emulator.url}/api/records/1", timeout=5)
        assert response.status_code == 429
        assert response.json() == {"error": {"status": 429, "path": "/api/records/1"}}
        assert response.headers["Retry-After"] == "250"
        emulator.faults = FaultProfile(max_concurrency_per_client=0)  # refused before routing
        refused = requests.get(f"{emulator.url}/api/records/1", timeout=5)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1000"
        assert emulator.request_log[-1].fault == "concurrency"


def test_retry_after_as_http_date_is_at_least_a_second_ahead(emu):
    emu.faults = FaultProfile(error_rate=1.0, error_statuses=(429,), retry_after="date")
    response = requests.get(f"{emu.url}/api/records/1", timeout=5)
    assert response.status_code == 429
    when = email.utils.parsedate_to_datetime(response.headers["Retry-After"]).timestamp()
    assert when - time.time() >= 0.9


def test_dropped_connection_raises_connection_error(emu):
    emu.faults = FaultProfile(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{emu.url}/api/records/1", timeout=5)
    assert emu.request_log[-1].status == 0
    assert emu.request_log[-1].fault == "drop"


def test_truncated_body_raises_and_sends_half(emu):
    emu.faults = FaultProfile(truncate_rate=1.0)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{emu.url}/files/data.bin", timeout=5)
    record = emu.request_log[-1]
    assert record.fault == "truncate"
    assert record.bytes_sent == len(DATA) // 2


def test_faults_apply_only_to_matching_paths(emu):
    emu.faults = FaultProfile(error_rate=1.0, paths=r"/files/.*")
    assert requests.get(f"{emu.url}/files/data.bin", timeout=5).status_code == 503
    assert requests.get(f"{emu.url}/api/records/1", timeout=5).status_code == 200


def test_concurrency_limit_answers_429_with_retry_after():
    with ToyEmulator(latency_ms=300) as emulator:
        emulator.faults = FaultProfile(max_concurrency_per_client=2)
        barrier = threading.Barrier(5)

        def fetch(_):
            barrier.wait()
            return requests.get(f"{emulator.url}/api/records/1", timeout=5)

        with ThreadPoolExecutor(5) as pool:
            responses = list(pool.map(fetch, range(5)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 200, 429, 429, 429]
        rejected = next(r for r in responses if r.status_code == 429)
        assert int(rejected.headers["Retry-After"]) >= 1
        assert emulator.peak_concurrency == 2


def test_tokens_expire_after_ttl(emu):
    emu.faults = FaultProfile(token_ttl_s=0.3)
    token = emu.issue_token()
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{emu.url}/private", headers=headers, timeout=5).status_code == 200
    assert requests.get(f"{emu.url}/private", timeout=5).status_code == 401
    time.sleep(0.35)
    expired = requests.get(f"{emu.url}/private", headers=headers, timeout=5)
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]
    assert not emu.check_token("never-issued")


def test_request_log_records_requests_and_redacts_authorization(emu):
    requests.get(
        f"{emu.url}/api/records/7?x=1&y=two",
        headers={"Authorization": "Bearer tok-123456", "X-Custom": "v"},
        timeout=5,
    )
    (record,) = emu.request_log
    assert (record.method, record.path, record.query) == (
        "GET",
        "/api/records/7",
        {"x": "1", "y": "two"},
    )
    assert record.status == 200
    assert record.bytes_sent == len(json.dumps({"id": 7, "greeting": "hello"}))
    assert record.duration_s >= 0
    assert record.headers["x-custom"] == "v"
    assert record.headers["authorization"] == "Bearer ***"
    assert "tok-123456" not in repr(emu.request_log)
    emu.reset_log()
    assert emu.request_log == []


def test_control_endpoints_escape_faults_and_log(emu):
    emu.faults = FaultProfile(error_rate=1.0, drop_rate=1.0)
    log = requests.get(f"{emu.url}/_emulator/log", timeout=5)
    assert log.status_code == 200
    assert log.json()["records"] == []
    assert emu.request_log == []


def test_run_emulator_prints_url_and_store_params():
    out = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(
        target=run_emulator,
        args=(ToyEmulator,),
        kwargs={"out": out, "stop_event": stop, "faults": '{"fail_first": 1}'},
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        info = json.loads(out.getvalue())
        assert info["store_params"] == {"api_url": info["url"] + "/api", "greeting": "hello"}
        assert requests.get(f"{info['url']}/api/records/1", timeout=5).status_code == 503
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_subprocess_mode_with_control_endpoints():
    with ToyEmulator.start_subprocess(greeting="bonjour", latency_ms=0) as child:
        assert child.store_params() == {"api_url": child.url + "/api", "greeting": "bonjour"}
        assert requests.get(f"{child.url}/api/records/3", timeout=5).json()["greeting"] == "bonjour"
        child.set_faults(FaultProfile(fail_first=1, error_statuses=(504,)))
        first = requests.get(f"{child.url}/api/records/3", timeout=5)
        second = requests.get(f"{child.url}/api/records/3", timeout=5)
        assert (first.status_code, second.status_code) == (504, 200)
        log = child.request_log
        assert [(r.path, r.status, r.fault) for r in log] == [
            ("/api/records/3", 200, None),
            ("/api/records/3", 504, "fail_first"),
            ("/api/records/3", 200, None),
        ]
        token = child.issue_token()
        private = requests.get(
            f"{child.url}/private", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert private.status_code == 200
        child.reset_log()
        assert child.request_log == []
        process = child._process
    assert process.poll() is not None


def test_subprocess_exits_when_parent_dies(tmp_path):
    script = (
        "import sys, os\n"
        f"sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})\n"
        "from test_testing_server import ToyEmulator\n"
        "child = ToyEmulator.start_subprocess()\n"
        "print(child.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    parent = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    child_pid = int(parent.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child_pid):
        time.sleep(0.05)
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_package_import_is_cheap_and_needs_no_pytest():
    code = (
        "import sys, eostores.testing as t\n"
        "assert 'pytest' not in sys.modules and 'eostores.testing.server' not in sys.modules\n"
        "assert t.FaultProfile().error_statuses == (503,)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_pytest_plugin_starts_and_stops_emulators(eostores_emulator):
    from eostores.testing import EmulatorServer, Response, route

    class Hello(EmulatorServer):
        name = "hello"

        @route("GET", r"/hello")
        def hello(self, request):
            return Response.json({"hello": "world"})

    emulator = eostores_emulator(Hello, latency_ms=1)
    assert requests.get(emulator.url + "/hello", timeout=10).json() == {"hello": "world"}
    assert emulator.request_log[0].path == "/hello"


def test_a_content_type_given_in_headers_wins_over_the_default():
    from eostores.testing import Response

    geojson = Response.json({}, headers={"content-type": "application/geo+json"})
    assert geojson.headers["Content-Type"] == "application/geo+json"
    assert Response.json({}).headers["Content-Type"] == "application/json"
    assert Response(200, "x", content_type="text/csv").headers["Content-Type"] == "text/csv"


class Echo(EmulatorServer):
    name = "echo"

    @route("GET", r"/x/(?P<n>\d+)")
    def x(self, request, n):
        return Response.json({"n": n})


def test_random_faults_never_hit_one_request_more_often_than_the_bound():
    faults = FaultProfile(error_rate=0.9, error_statuses=(500,), seed=1, max_faults_per_request=2)
    with Echo(faults=faults) as server:
        faults_met = [
            [requests.get(f"{server.url}/x/{n}", timeout=5).status_code for _ in range(9)].count(
                500
            )
            for n in range(5)
        ]
        assert max(faults_met) == 2, faults_met  # a rate of 0.9 reaches the bound, never more
        server.faults = FaultProfile(error_rate=1.0, error_statuses=(500,))
        assert {requests.get(f"{server.url}/x/1", timeout=5).status_code for _ in range(5)} == {500}


def test_the_fault_bound_holds_for_clients_asking_the_same_thing_at_once():
    """Successes of other clients in between do not give one client more faults: a client
    that retries more often than the bound always gets through."""
    faults = FaultProfile(error_rate=0.7, error_statuses=(503,), seed=3, max_faults_per_request=3)
    url_count, clients = 4, 8
    outcomes: list[list[int]] = []
    lock = threading.Lock()

    def client(url: str) -> None:
        statuses = []
        for _ in range(4):  # one attempt more than the bound
            statuses.append(requests.get(url, timeout=10).status_code)
            if statuses[-1] == 200:
                break
        with lock:
            outcomes.append(statuses)

    with Echo(faults=faults) as server:
        threads = [
            threading.Thread(target=client, args=(f"{server.url}/x/{i % url_count}",))
            for i in range(clients * url_count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        faulted = [r for r in server.request_log if r.status == 503]
    assert len(outcomes) == clients * url_count
    assert all(statuses[-1] == 200 for statuses in outcomes), outcomes
    assert faulted, "the profile injected faults"
    per_url = {path: sum(r.path == path for r in faulted) for path in {r.path for r in faulted}}
    assert max(per_url.values()) <= 3
