"""The eostores command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

from eostores import new_data_store
from eostores.cli import main


@pytest.fixture
def root(tmp_path, cube):
    new_data_store("file", root=str(tmp_path)).write_data(cube, "cube.zarr")
    return tmp_path


def _json(capsys, *argv):
    assert main(["--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_stores(capsys):
    stores = _json(capsys, "stores")
    assert {"file", "s3", "reference"} <= set(stores)
    assert stores["file"]["package"] == "eostores"


def test_ids_describe_schema(capsys, root):
    assert _json(capsys, "ids", "file", "-s", f"root={root}") == ["cube.zarr"]
    described = _json(capsys, "describe", "file", "cube.zarr", "-s", f"root={root}")
    assert described["dims"] == {"time": 6, "lat": 18, "lon": 36}
    open_schema = _json(capsys, "schema", "file", "cube.zarr", "-s", f"root={root}")
    assert "variable_names" in open_schema["properties"]
    store_schema = _json(capsys, "schema", "s3")
    assert "storage_options" in store_schema["properties"]


def test_store_params_from_yaml_file(capsys, root, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(f"root: {root}\nmax_depth: 2\n")
    assert _json(capsys, "ids", "file", "--store-params-file", str(params)) == ["cube.zarr"]


def test_search(capsys, root):
    found = _json(
        capsys,
        "search",
        "file",
        "-s",
        f"root={root}",
        "-p",
        "pattern=*.zarr",
        "-p",
        "time_range=2024-01-02,2024-01-03",
    )
    assert [d["data_id"] for d in found] == ["cube.zarr"]


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_open_writes_subset(capsys, root, tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    result = _json(
        capsys,
        "open",
        "file",
        "cube.zarr",
        "-s",
        f"root={root}",
        "-p",
        "variable_names=sst",
        "-p",
        "bbox=0,40,30,60",
        "-p",
        "time_range=2024-01-02,2024-01-03",
        "-o",
        str(out),
    )
    assert result["sizes"] == {"time": 2, "lat": 2, "lon": 3}
    written = xr.open_dataset(out, engine="zarr" if suffix == ".zarr" else "h5netcdf")
    assert list(written.data_vars) == ["sst"]
    assert float(written.sst.isel(time=0, lat=0, lon=0)) == pytest.approx(
        20 + float(written.lat[0]) / 10 + float(written.lon[0]) / 100 + 1
    )
    assert main(["open", "file", "cube.zarr", "-s", f"root={root}", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--overwrite" in err and "replace=True" not in err


def test_errors_are_one_line_without_traceback(root):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "eostores.cli",
            "open",
            "file",
            "cube.zarr",
            "-s",
            f"root={root}",
            "-p",
            "bbox=10,0,0,10",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "bbox" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    debug = subprocess.run(
        [
            sys.executable,
            "-m",
            "eostores.cli",
            "--debug",
            "describe",
            "file",
            "missing.zarr",
            "-s",
            f"root={root}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_bad_pairs_are_rejected(capsys):
    assert main(["ids", "file", "-s", "root"]) == 1
    assert "NAME=VALUE" in capsys.readouterr().err


def test_demo_runs_offline(capsys, tmp_path):
    assert main(["demo", "file", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "eostores demo: file" in out
    assert "value check" in out and "demo finished" in out
    assert list(tmp_path.iterdir()) == []


def test_unknown_demo_is_a_clean_error(capsys):
    assert main(["demo", "no-such-demo"]) == 1
    err = capsys.readouterr().err
    assert "no-such-demo" in err and "file" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ("{bad json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"no_such_setting": 1}', "no_such_setting"),
        ('{"error_rate": 7}', "error_rate"),
    ],
)
def test_emulate_with_bad_faults_is_a_clean_error(capsys, faults, message):
    assert main(["emulate", "anything", "--faults", faults]) == 1
    err = capsys.readouterr().err
    assert "--faults" in err and message in err
    assert "Traceback" not in err and "JSONDecodeError" not in err


# --------------------------------------------------------------------------- through a process


def _cli(*argv, timeout=120, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "eostores.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_flag_before_or_after_the_command(root, where):
    args = ["describe", "file", "cube.zarr", "-s", f"root={root}"]
    result = _cli(*(["--json", *args] if where == "before" else [*args, "--json"]))
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["data_id"] == "cube.zarr"
    assert described["dims"] == {"time": 6, "lat": 18, "lon": 36}
    ids = _cli("ids", "file", "-s", f"root={root}", "--json")
    assert json.loads(ids.stdout) == ["cube.zarr"]


def test_debug_flag_after_the_command_shows_the_traceback(root):
    result = _cli("describe", "file", "missing.zarr", "-s", f"root={root}", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_existing_output_names_the_overwrite_flag_before_opening(root, tmp_path):
    out = tmp_path / "out.nc"
    out.write_bytes(b"not replaced")
    args = ["open", "file", "cube.zarr", "-s", f"root={root}", "-o", str(out)]
    refused = _cli(*args)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1
    assert "--overwrite" in refused.stderr and "replace=True" not in refused.stderr
    assert out.read_bytes() == b"not replaced"
    replaced = _cli(*args, "-p", "variable_names=sst", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert list(xr.open_dataset(out, engine="h5netcdf").data_vars) == ["sst"]


def test_preload_waits_and_tells_how_to_open_the_results(root):
    result = _cli("preload", "file", "cube.zarr", "-s", f"root={root}")
    assert result.returncode == 0, result.stderr
    header, _, row = result.stdout.splitlines()[:3]
    assert header.split() == ["Data", "ID", "Status", "Progress", "Message"]
    assert row.split() == ["cube.zarr", "completed", "100%"]
    assert f"eostores open file cube.zarr -s root={root}" in result.stdout
    reported = _cli("preload", "file", "cube.zarr", "-s", f"root={root}", "--json")
    assert json.loads(reported.stdout)["data_ids"] == ["cube.zarr"]
    assert json.loads(reported.stdout)["store"] == {
        "store_id": "file",
        "store_params": {"root": str(root)},
    }


def test_preload_of_missing_data_is_a_one_line_error(root):
    result = _cli("preload", "file", "missing.zarr", "-s", f"root={root}")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "missing.zarr" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_preload_refuses_bad_parameters_at_once(root):
    result = _cli("preload", "file", "cube.zarr", "-s", f"root={root}", "-p", "no_such=1")
    assert result.returncode == 1 and "no_such" in result.stderr
    waiting = _cli("preload", "file", "cube.zarr", "-s", f"root={root}", "-p", "blocking=false")
    assert waiting.returncode == 1 and "--no-wait" in waiting.stderr


def test_preload_without_waiting_runs_in_the_background(root, tmp_path):
    log = tmp_path / "preload.log"
    result = _cli("preload", "file", "cube.zarr", "-s", f"root={root}", "--no-wait", "--log", log)
    assert result.returncode == 0, result.stderr
    assert str(log) in result.stdout and "background" in result.stdout
    pid = int(result.stdout.split("process ")[1].split(")")[0])
    deadline = time.monotonic() + 120
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), "the background preload did not finish"
    text = log.read_text()
    assert "cube.zarr" in text and "completed" in text
    assert f"eostores open file cube.zarr -s root={root}" in text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_output_into_a_closed_pipe_ends_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `eostores stores | head` after head has gone
    try:
        result = subprocess.run(
            [sys.executable, "-m", "eostores.cli", "stores"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141
