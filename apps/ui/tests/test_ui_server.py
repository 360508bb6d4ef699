"""The application over HTTP, without a browser: who may use it, errors, jobs, secrets."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import threading
import time
from importlib import resources
from typing import Any

import numpy as np
import pytest
import requests
import xarray as xr
from eostores_ui import main
from eostores_ui.server import TOKEN_HEADER, UiServer

from eostores.errors import InvalidParameterError
from eostores.registry import list_data_store_ids, new_data_store

WAIT_S = 60


def page_token(server: UiServer, session: requests.Session | None = None) -> str:
    page = (session or requests).get(server.url, timeout=10)
    assert page.status_code == 200
    match = re.search(r'name="eostores-token" content="([^"]+)"', page.text)
    assert match
    return match.group(1)


class Client:
    """Calls the API as the page does."""

    def __init__(self, server: UiServer):
        self.base = f"http://127.0.0.1:{server.port}/api/"
        self.headers = {TOKEN_HEADER: page_token(server)}

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, headers=self.headers, timeout=30)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(self.base + path, json=body or {}, headers=self.headers, timeout=60)

    def wait_job(self) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            job = self.get("job").json()["job"]
            if job["state"] != "running":
                return job
            time.sleep(0.05)
        raise AssertionError("the job did not end in time")


@pytest.fixture
def sample_root(tmp_path, cube):
    root = tmp_path / "data"
    new_data_store("file", root=str(root)).write_data(cube, "cube.zarr")
    return root


# -- who may use it ---------------------------------------------------------------------------


def test_loopback_serves_the_page_and_its_assets_without_a_url_token(ui_server):
    server = ui_server()
    assert server.url == f"http://127.0.0.1:{server.port}/"
    page = requests.get(server.url, timeout=10)
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    for name in ("app.js", "app.css", "icon.svg"):
        asset = requests.get(f"{server.url}static/{name}", timeout=10)
        assert asset.status_code == 200 and asset.content
    assert requests.get(f"{server.url}static/../server.py", timeout=10).status_code == 404


def test_the_api_requires_the_page_token(ui_server):
    server = ui_server()
    api = f"http://127.0.0.1:{server.port}/api/stores"
    assert requests.get(api, timeout=10).status_code == 403
    assert requests.get(api, headers={TOKEN_HEADER: "wrong"}, timeout=10).status_code == 403
    answer = requests.get(api, headers={TOKEN_HEADER: page_token(server)}, timeout=30)
    assert answer.status_code == 200
    stores = {s["id"]: s for s in answer.json()["stores"]}
    assert sorted(stores) == list_data_store_ids()
    assert stores["file"]["description"]


def test_other_host_names_are_refused_on_loopback(ui_server):
    server = ui_server()
    answer = requests.get(server.url, headers={"Host": f"attacker.example:{server.port}"})
    assert answer.status_code == 403


def test_other_interfaces_require_the_token_in_the_url(ui_server):
    server = ui_server(host="0.0.0.0")
    assert not server.loopback
    assert server.url_token and server.url.endswith(f"?token={server.url_token}")
    plain = f"http://127.0.0.1:{server.port}/"
    refused = requests.get(plain, timeout=10)
    assert refused.status_code == 403
    assert "token" in refused.text
    assert requests.get(plain + "?token=wrong", timeout=10).status_code == 403
    session = requests.Session()
    assert session.get(server.url, timeout=10).status_code == 200
    assert session.get(plain, timeout=10).status_code == 200  # the cookie from the first visit
    assert page_token(server) == server.url_token


def test_other_interfaces_refuse_an_empty_token():
    with pytest.raises(InvalidParameterError, match="requires a token"):
        UiServer("0.0.0.0", 0, token="")


def test_the_token_never_reaches_the_log(ui_server, caplog):
    server = ui_server(host="0.0.0.0")
    with caplog.at_level(logging.DEBUG, logger="eostores.ui"):
        requests.get(server.url, timeout=10)
    assert caplog.records
    assert server.url_token not in caplog.text


def test_every_asset_is_served_by_the_package():
    """Nothing is loaded from elsewhere: no URL but the SVG namespace in the assets."""
    static = resources.files("eostores_ui").joinpath("static")
    names = [entry.name for entry in static.iterdir()]
    assert {"index.html", "app.js", "app.css", "icon.svg"} <= set(names)
    for name in names:
        text = static.joinpath(name).read_text()
        urls = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
        assert "@import" not in text


# -- flow, errors and jobs --------------------------------------------------------------------


def connect_file_store(client: Client, root) -> None:
    answer = client.post("connect", {"store": "file", "values": {"root": str(root)}})
    assert answer.status_code == 200, answer.text


def test_open_download_over_the_api(ui_server, sample_root, cube):
    server = ui_server()
    client = Client(server)
    connect_file_store(client, sample_root)
    ids = client.get("data-ids?q=cube").json()
    assert ids["items"] == [{"id": "cube.zarr", "title": ""}]
    described = client.post("describe", {"data_id": "cube.zarr"}).json()
    fields = {f["name"]: f for f in described["form"]["fields"]}
    assert list(fields)[:3] == ["variable_names", "bbox", "time_range"]
    values = {"variable_names": ["sst"], "time_range": ["2024-01-02", "2024-01-03"]}
    started = client.post("open", {"data_id": "cube.zarr", "values": values})
    assert started.status_code == 202
    job = client.wait_job()
    assert job["state"] == "done", job.get("error")
    result = job["result"]
    assert result["summary"]["dims"] == {"time": 2, "lat": 18, "lon": 36}
    assert [v["name"] for v in result["summary"]["variables"]] == ["sst"]
    assert result["quicklook"]["src"].startswith("data:image/png;base64,")
    assert "variable_names=['sst']" in result["snippet"]

    started = client.post("download", {"format": "netcdf", "filename": "subset.nc"})
    assert started.status_code == 202
    job = client.wait_job()
    assert job["state"] == "done", job.get("error")
    written = server.app.output_dir / "subset.nc"
    assert job["result"]["path"] == str(written)
    expected = cube[["sst"]].sel(time=slice("2024-01-02", "2024-01-03"))
    with xr.open_dataset(written) as downloaded:
        xr.testing.assert_allclose(downloaded.load(), expected.load())
    fetched = requests.get(
        f"{client.base}files/subset.nc", params={"token": client.headers[TOKEN_HEADER]}
    )
    assert fetched.status_code == 200 and fetched.content == written.read_bytes()
    assert client.get("files/..%2Fdata").status_code == 404

    again = client.post("download", {"format": "netcdf", "filename": "subset.nc"})
    assert again.status_code == 400
    assert "exists" in again.json()["field_errors"]["filename"]


def test_errors_are_reported_on_their_fields(ui_server, sample_root):
    client = Client(ui_server())
    bad_store = client.post("connect", {"store": "file", "values": {"max_depth": "0"}})
    assert bad_store.status_code == 400
    assert "max_depth" in bad_store.json()["field_errors"]
    connect_file_store(client, sample_root)
    client.post("describe", {"data_id": "cube.zarr"})
    cases = [
        ({"chunks": '{"time": "x"}'}, "chunks"),
        ({"bbox": ["10", "40", "0", "50"]}, "bbox"),
        ({"bbox": ["a", "40", "0", "50"]}, "bbox[0]"),
        ({"time_range": ["2024-01-05", "2024-01-01"]}, "time_range"),
        ({"cache_size": "-5"}, "cache_size"),
    ]
    for values, field in cases:
        answer = client.post("open", {"data_id": "cube.zarr", "values": values})
        assert answer.status_code == 400, (values, answer.text)
        assert list(answer.json()["field_errors"]) == [field], (values, answer.json())
    assert client.get("job").json()["job"] is None  # nothing was started


def test_service_errors_go_to_the_banner_without_secrets(ui_server, caplog):
    client = Client(ui_server())
    secret = "tok-SECRET-4711-abcdef"
    form = client.get("store-form?store=https").json()
    token_field = next(f for f in form["fields"] if f["name"] == "bearer_token")
    assert token_field["kind"] == "password" and "default" not in token_field
    with caplog.at_level(logging.DEBUG):
        answer = client.post(
            "connect",
            {
                "store": "https",
                "values": {
                    "root": "http://127.0.0.1:9/nothing",
                    "bearer_token": secret,
                    "num_retries": "0",
                },
            },
        )
        assert answer.status_code == 200
        assert secret not in answer.text
        listing = client.get("data-ids")
    assert listing.status_code >= 400
    assert listing.json()["error"]
    assert "field_errors" not in listing.json()
    assert secret not in listing.text
    assert secret not in caplog.text


def test_a_second_action_while_one_runs_is_refused(ui_server, sample_root):
    server = ui_server()
    client = Client(server)
    connect_file_store(client, sample_root)
    client.post("describe", {"data_id": "cube.zarr"})
    release = threading.Event()
    server.app.guard.start("download", "Download", lambda job: release.wait(WAIT_S) and {}, dict)
    try:
        for path, body in (
            ("open", {"data_id": "cube.zarr", "values": {}}),
            ("describe", {"data_id": "cube.zarr"}),
            ("download", {"format": "netcdf"}),
            ("connect", {"store": "file", "values": {"root": str(sample_root)}}),
        ):
            answer = client.post(path, body)
            assert answer.status_code == 409, path
            assert answer.json()["busy"] is True
            assert "'Download' is still running" in answer.json()["error"]
        assert client.get("job").json()["job"]["state"] == "running"
    finally:
        release.set()
    assert client.wait_job()["state"] == "done"
    assert client.post("open", {"data_id": "cube.zarr", "values": {}}).status_code == 202
    assert client.wait_job()["state"] == "done"


def slow_dataset(seconds_per_block: float, computed: list) -> xr.Dataset:
    import dask.array as da

    def block(values):
        time.sleep(seconds_per_block)
        computed.append(1)
        return values + 1.0

    lazy = da.zeros((40, 20, 20), chunks=(1, 20, 20)).map_blocks(block, dtype="float64")
    return xr.Dataset(
        {"v": (("time", "y", "x"), lazy)},
        coords={"time": np.arange(40), "y": np.arange(20.0), "x": np.arange(20.0)},
    )


@pytest.mark.parametrize(("fmt", "name"), [("zarr", "slow.zarr"), ("netcdf", "slow.nc")])
def test_download_shows_progress_and_cancel_leaves_nothing(ui_server, fmt, name):
    server = ui_server()
    client = Client(server)
    computed: list = []
    server.app.opened = {"data_id": "slow", "data": slow_dataset(0.1, computed), "params": {}}
    assert client.post("download", {"format": fmt, "filename": name}).status_code == 202
    deadline = time.monotonic() + WAIT_S
    job = client.get("job").json()["job"]
    while not (job["progress"] or 0) > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
        job = client.get("job").json()["job"]
    assert job["state"] == "running" and 0 < job["progress"] < 1
    assert "tasks" in job["message"]
    assert client.post("cancel").json()["job"]["id"] == job["id"]
    job = client.wait_job()
    assert job["state"] == "cancelled"
    assert len(computed) < 40
    assert list(server.app.output_dir.iterdir()) == []


# -- the command --------------------------------------------------------------------------------


def test_importing_eostores_leaves_the_ui_alone():
    code = (
        "import sys, eostores; eostores.list_data_store_ids(); "
        "import eostores.cli; "
        "assert not any(m.startswith('eostores_ui') for m in sys.modules), 'ui imported'; "
        "import eostores_ui; "
        "assert 'numpy' not in sys.modules and 'eostores_ui.server' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_main_reports_a_busy_port_and_a_refused_empty_token(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--no-browser"]) == 1
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
    assert main(["--host", "0.0.0.0", "--port", "0", "--token", "", "--no-browser"]) == 1
    assert "requires a token" in capsys.readouterr().err


def test_main_serves_until_interrupted(capsys, monkeypatch, tmp_path):
    from eostores_ui import server as server_module

    served = []

    def interrupt(self):
        self.start()  # serve in a thread while the "user" visits the page, then Ctrl+C
        try:
            served.append(requests.get(self.url, timeout=10).status_code)
        finally:
            self.stop()
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.UiServer, "serve_forever", interrupt)
    assert main(["--port", "0", "--no-browser", "--output-dir", str(tmp_path)]) == 0
    assert served == [200]
    printed = capsys.readouterr().out
    assert "serving on http://127.0.0.1:" in printed
    assert f"downloads are written to {tmp_path}" in printed


def test_the_eostores_cli_runs_the_ui_command_through_its_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "eostores.cli", "ui", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: eostores ui")
    assert "--no-browser" in done.stdout and "--output-dir" in done.stdout
