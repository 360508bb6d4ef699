"""The eostores command line."""

from __future__ import annotations

import json
import subprocess
import sys

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
    assert "replace" in capsys.readouterr().err


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
