"""The plugin registry, exercised with real entry points of throw-away distributions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from eostores import (
    DataStoreError,
    find_data_opener_extensions,
    find_data_store_extensions,
    find_data_writer_extensions,
    get_data_store_class,
    get_data_store_params_schema,
    list_data_store_ids,
    new_data_opener,
    new_data_store,
    new_data_writer,
)
from eostores.fs.stores import FileDataStore

CORE_STORES = ["abfs", "file", "ftp", "https", "memory", "reference", "s3"]
HEAVY = ("numpy", "pandas", "xarray", "dask", "zarr", "fsspec", "requests")


def _distribution(site, name, entry_points, modules):
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nSummary: {name} test plugin\n"
    )
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


def _run(site, script):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={"PYTHONPATH": str(site), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def plugin_site(tmp_path):
    site = tmp_path / "site"
    _distribution(
        site,
        "goodplug",
        """
        [eostores.stores]
        good = goodplug_mod:GoodStore
        broken = brokenplug_mod:Store
        """,
        {
            "goodplug_mod": """
            from eostores.fs.stores import MemoryDataStore
            class GoodStore(MemoryDataStore):
                '''A test store.'''
            """,
            "brokenplug_mod": "raise ImportError('needs a library that is not installed')\n",
        },
    )
    _distribution(
        site,
        "rivalplug",
        """
        [eostores.stores]
        memory = goodplug_mod:GoodStore
        """,
        {},
    )
    return site


def test_listing_imports_no_plugin(plugin_site):
    found = _run(
        plugin_site,
        """
        import json, sys
        import eostores
        ids = eostores.list_data_store_ids()
        detail = eostores.list_data_store_ids(detail=True)
        print(json.dumps({"ids": ids, "good": detail["good"],
                          "imported": sorted(m for m in sys.modules if "plug_mod" in m)}))
        """,
    )
    assert found["ids"] == sorted({*list_data_store_ids(), "good", "broken"})
    assert found["good"]["package"] == "goodplug"
    assert found["good"]["description"] == "goodplug test plugin"
    assert found["imported"] == []


def test_broken_plugin_fails_alone_and_duplicates_name_both(plugin_site):
    found = _run(
        plugin_site,
        """
        import json
        import eostores
        errors = {}
        for store_id in ("broken", "memory"):
            try:
                eostores.new_data_store(store_id)
            except eostores.DataStoreError as error:
                errors[store_id] = str(error)
        good = eostores.new_data_store("good", root="/x")
        file = eostores.new_data_store("file")
        print(json.dumps({"errors": errors, "good": type(good).__name__,
                          "file": type(file).__name__}))
        """,
    )
    assert "broken" in found["errors"]["broken"]
    assert "goodplug" in found["errors"]["broken"]
    assert "needs a library that is not installed" in found["errors"]["broken"]
    assert "eostores" in found["errors"]["memory"] and "rivalplug" in found["errors"]["memory"]
    assert (found["good"], found["file"]) == ("GoodStore", "FileDataStore")


def test_import_and_listing_stay_light():
    script = f"""
        import json, sys
        import eostores
        eostores.list_data_store_ids()
        print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60
    )
    assert json.loads(result.stdout) == []


def test_core_stores_are_registered():
    assert set(CORE_STORES) <= set(list_data_store_ids())
    assert {e.name for e in find_data_store_extensions()} == set(list_data_store_ids())
    assert [e.name for e in find_data_store_extensions(lambda e: e.name.startswith("f"))] == [
        "file",
        "ftp",
    ]
    assert get_data_store_class("file") is FileDataStore
    assert "root" in get_data_store_params_schema("s3").properties
    with pytest.raises(DataStoreError, match=r"unknown data store 'nope'.*eostores-nope"):
        new_data_store("nope")


def test_openers_and_writers(tmp_path, cube):
    openers = {e.name for e in find_data_opener_extensions(storage_id="file")}
    assert {"dataset:zarr:file", "dataset:netcdf:file", "mldataset:levels:file"} <= openers
    writers = {e.name for e in find_data_writer_extensions(data_type="dataset", format_id="zarr")}
    assert {"dataset:zarr:file", "dataset:zarr:s3", "dataset:zarr:memory"} <= writers
    assert not find_data_writer_extensions(format_id="geotiff")

    writer = new_data_writer("dataset:netcdf:file", root=str(tmp_path))
    assert writer.write_data(cube, "c.nc") == "c.nc"
    opener = new_data_opener("dataset:netcdf:file", root=str(tmp_path))
    assert "group" in opener.get_open_data_params_schema("c.nc").properties
    assert opener.open_data("c.nc", variable_names=["chl"]).chl.shape == (6, 18, 36)
    with pytest.raises(DataStoreError, match="unknown data opener"):
        new_data_opener("dataset:grib:file")


def test_emulate_command_runs_a_registered_emulator(tmp_path):
    site = tmp_path / "site"
    _distribution(
        site,
        "echoplug",
        """
        [eostores.emulators]
        echo = echoplug_mod:EchoEmulator
        """,
        {
            "echoplug_mod": """
            from eostores.testing import EmulatorServer, Response, route
            class EchoEmulator(EmulatorServer):
                name = "echo"
                @route("GET", r"/echo/(?P<word>\\w+)")
                def echo(self, request, word):
                    return Response.json({"word": word})
                def store_params(self):
                    return {"api_url": self.url + "/echo"}
            """,
        },
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "eostores.cli", "emulate", "echo", "--latency-ms", "1"],
        env={"PYTHONPATH": str(site), "PATH": ""},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(process.stdout.readline())
        assert info["store_params"] == {"api_url": info["url"] + "/echo"}
        import requests

        assert requests.get(info["url"] + "/echo/hello", timeout=10).json() == {"word": "hello"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_core_components_are_entry_points_like_any_plugin():
    """Every format, and an opener per format, data type and storage, is declared."""
    from eostores.fs.accessors import PROTOCOLS
    from eostores.fs.formats import all_handlers
    from eostores.registry import find_demo_extensions, find_format_extensions

    handlers = all_handlers()
    assert {h.format_id for h in handlers} == {e.name for e in find_format_extensions()}
    assert {"zarr", "netcdf", "levels", "geotiff", "geojson", "shapefile"} <= {
        h.format_id for h in handlers
    }
    core = {e.name for e in find_data_opener_extensions() if e.package == "eostores"}
    expected = {f"{t}:{h.format_id}:{p}" for h in handlers for t in h.data_types for p in PROTOCOLS}
    assert core == expected
    written = {e.name for e in find_data_writer_extensions() if e.package == "eostores"}
    assert written == {
        f"{t}:{h.format_id}:{p}" for h in handlers for t in h.writable_types for p in PROTOCOLS
    }
    assert "file" in {e.name for e in find_demo_extensions()}


def test_accessors_are_created_for_their_accessor_id(tmp_path, cube):
    writer = new_data_writer("dataset:zarr:memory", root=f"/accessor-{tmp_path.name}")
    assert writer.accessor_id == "dataset:zarr:memory"
    assert writer.write_data(cube, "c.zarr") == "c.zarr"
    opener = new_data_opener("dataset:zarr:memory", root=f"/accessor-{tmp_path.name}")
    assert opener.open_data("c.zarr").sst.shape == cube.sst.shape


def test_cli_runs_commands_of_other_distributions_with_their_own_arguments(tmp_path):
    site = tmp_path / "site"
    _distribution(
        site,
        "hello_command",
        """
        [eostores.commands]
        hello = hello_command:main
        """,
        {
            "hello_command": """
            import json
            def main(argv):
                print(json.dumps(argv))
                return 3 if "--fail" in argv else 0
            """
        },
    )

    def cli(*argv):
        return subprocess.run(
            [sys.executable, "-m", "eostores.cli", *argv],
            env={**os.environ, "PYTHONPATH": str(site)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = cli("--help")
    assert "hello" in listed.stdout and "hello_command test plugin" in listed.stdout
    done = cli("hello", "--help", "-x", "1", "data")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["--help", "-x", "1", "data"]
    assert cli("--json", "hello", "--fail").returncode == 1


def test_a_known_command_that_is_not_installed_names_its_pip_install(monkeypatch, capsys):
    from eostores import cli, registry

    monkeypatch.setattr(registry, "find_command_extensions", lambda predicate=None: [])
    assert cli.main(["ui", "--port", "0"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: the command 'ui' is not installed: pip install 'eostores[ui]'"
    )
