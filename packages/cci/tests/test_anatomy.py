"""The package's layout and import rules: layers point down, testing/ stays out of runtime."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import eostores_cci

PACKAGE = Path(eostores_cci.__file__).parent
NAME = "eostores_cci"
ANATOMY = ("store", "api", "catalog", "schema", "convert", "config")
# what each runtime module may import from the package (besides config, always allowed)
ALLOWED = {
    "store": {"catalog", "schema", "chunks", "api", "convert", "kcindex"},
    "schema": {"catalog"},
    "catalog": {"api"},
    "chunks": {"api"},
    "kcindex": set(),
    "api": set(),
    "convert": set(),
    "config": set(),
}


def package_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = f"{NAME}.{module}" if module else NAME
            if module.split(".")[0] == NAME:
                found.append(module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == NAME]
    return found


def test_the_fixed_anatomy_exists():
    for module in ANATOMY:
        assert (PACKAGE / f"{module}.py").is_file(), module
    for module in ("__init__", "emulator", "demo"):
        assert (PACKAGE / "testing" / f"{module}.py").is_file(), module
    runtime = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert runtime == set(ALLOWED), "every runtime module has its place in the layers"


def test_layers_point_down_and_testing_stays_out_of_runtime():
    for module, allowed in ALLOWED.items():
        for imported in package_imports(PACKAGE / f"{module}.py"):
            target = imported.removeprefix(NAME).lstrip(".").split(".")[0]
            assert target != "testing", f"{module} imports the emulator"
            assert target in allowed | {"config", ""}, f"{module} imports {target}"


def test_importing_the_package_and_listing_stores_is_cheap():
    code = (
        "import sys, eostores_cci; from eostores import list_data_store_ids; "
        "ids = list_data_store_ids(); "
        "assert {'cciodp', 'ccizarr', 'esa-cci-kc'} <= set(ids), ids; "
        "heavy = [m for m in ('xarray', 'dask', 'zarr', 'pydap', 'numpy') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
