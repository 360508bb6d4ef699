"""Stores and formats whose optional libraries are missing: listed as such, clear errors.

A missing library is simulated in a fresh interpreter by a meta-path finder that refuses to
find it, so that the import system (and nothing else) sees it as not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

REFUSE = """
import sys

class Refuse:
    '''Makes the modules named in REFUSED (and their submodules) impossible to import.'''

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Refuse())
"""


def _run(refused, script, *, env=None):
    source = f"REFUSED = {sorted(refused)!r}\n{REFUSE}\n{textwrap.dedent(script)}"
    result = subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_store_without_its_library_is_listed_with_the_install_command():
    found = _run(
        {"s3fs"},
        """
        import json, sys
        import eostores
        detail = eostores.list_data_store_ids(detail=True)
        print(json.dumps({"s3": detail["s3"], "abfs": detail["abfs"], "file": detail["file"],
                          "ids": eostores.list_data_store_ids(),
                          "imported": [m for m in ("s3fs", "xarray") if m in sys.modules]}))
        """,
    )
    assert found["s3"]["available"] is False
    assert found["s3"]["missing"] == ["s3fs"]
    assert found["s3"]["install"] == 'pip install "eostores[s3]"'
    assert found["abfs"]["available"] is True
    assert "available" not in found["file"], "the file store needs nothing optional"
    assert "s3" in found["ids"]
    assert found["imported"] == []


def test_using_a_store_without_its_library_says_what_to_install(tmp_path):
    found = _run(
        {"s3fs"},
        """
        import json
        import eostores
        from eostores.fs.remote import S3DataStore
        errors = {}
        attempts = {
            "new_data_store": lambda: eostores.new_data_store("s3", root="bucket"),
            "new_fs_data_store": lambda: eostores.new_fs_data_store("s3", root="bucket"),
            "class": lambda: S3DataStore(root="bucket").list_data_ids(),
            "opener": lambda: eostores.new_data_opener("dataset:zarr:s3", root="bucket"),
        }
        for name, attempt in attempts.items():
            try:
                attempt()
            except eostores.DataStoreError as error:
                errors[name] = [type(error).__name__, str(error)]
            except Exception as error:
                errors[name] = ["raw " + type(error).__name__, str(error)]
        print(json.dumps(errors))
        """,
    )
    assert set(found) == {"new_data_store", "new_fs_data_store", "class", "opener"}
    for kind, message in found.values():
        assert kind == "DataStoreError"
        assert "s3fs" in message and 'pip install "eostores[s3]"' in message
    assert found["new_data_store"][1] == (
        "data store 's3' needs s3fs, which is not installed; "
        'install it with: pip install "eostores[s3]"'
    )


@pytest.mark.parametrize(
    "refused, data_id, extra",
    [
        ({"rioxarray"}, "scene.tif", "geotiff"),
        ({"geopandas"}, "places.geojson", "vector"),
        ({"pyogrio"}, "roads.shp", "vector"),
    ],
)
def test_format_without_its_library_fails_with_the_install_command(
    tmp_path, refused, data_id, extra
):
    (tmp_path / data_id).write_bytes(b"not read: the check comes first")
    found = _run(
        refused,
        f"""
        import json
        import eostores
        from eostores.registry import find_format_extensions
        store = eostores.new_data_store("file", root={str(tmp_path)!r})
        result = {{"ids": store.list_data_ids(),
                   "formats": {{e.name: e.metadata.get("available")
                               for e in find_format_extensions()}}}}
        for method in ("open_data", "describe_data"):
            try:
                getattr(store, method)({data_id!r})
            except eostores.DataStoreError as error:
                result[method] = str(error)
        print(json.dumps(result))
        """,
    )
    assert found["ids"] == [data_id], "listing needs no format library"
    for method in ("open_data", "describe_data"):
        message = found[method]
        assert message.startswith(f"store 'file', data {data_id!r}: data format")
        assert f'pip install "eostores[{extra}]"' in message
        assert sorted(refused)[0] in message
    unavailable = {name for name, ok in found["formats"].items() if ok is False}
    assert unavailable == ({"geotiff"} if extra == "geotiff" else {"geojson", "shapefile"})
    assert found["formats"]["zarr"] is None, "zarr needs nothing optional"


def _plugin(site, entry_points, requires, module_source):
    info = site / "extraplug-1.0.dist-info"
    info.mkdir(parents=True)
    metadata = "Metadata-Version: 2.1\nName: extraplug\nVersion: 1.0\n"
    metadata += "".join(f"Requires-Dist: {line}\n" for line in requires)
    (info / "METADATA").write_text(metadata)
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    (site / "extraplug_mod.py").write_text(textwrap.dedent(module_source))


def test_plugins_declare_their_extras_in_the_entry_point(tmp_path):
    site = tmp_path / "site"
    _plugin(
        site,
        """
        [eostores.stores]
        fancy = extraplug_mod:FancyStore [fast]
        plain = extraplug_mod:FancyStore
        needy = extraplug_needy:Store
        """,
        ["eostores", 'not-installed-lib-xyz>=1; extra == "fast"'],
        """
        from eostores.fs.stores import MemoryDataStore
        class FancyStore(MemoryDataStore):
            '''A store whose speed-up library is optional.'''
        """,
    )
    (site / "extraplug_needy.py").write_text("import not_installed_module_xyz\n")
    found = _run(
        set(),
        """
        import json
        import eostores
        detail = eostores.list_data_store_ids(detail=True)
        errors = {}
        for store_id in ("fancy", "needy"):
            try:
                eostores.new_data_store(store_id)
            except eostores.DataStoreError as error:
                errors[store_id] = str(error)
        plain = type(eostores.new_data_store("plain")).__name__
        print(json.dumps({"fancy": detail["fancy"], "plain": detail["plain"],
                          "errors": errors, "plain_store": plain}))
        """,
        env={"PYTHONPATH": str(site), "PATH": ""},
    )
    assert found["fancy"]["missing"] == ["not-installed-lib-xyz"]
    assert found["fancy"]["install"] == 'pip install "extraplug[fast]"'
    assert "available" not in found["plain"]
    assert 'pip install "extraplug[fast]"' in found["errors"]["fancy"]
    assert "not_installed_module_xyz" in found["errors"]["needy"]
    assert "which is not installed" in found["errors"]["needy"]
    assert found["plain_store"] == "FancyStore"
