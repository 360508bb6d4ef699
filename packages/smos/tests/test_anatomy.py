"""The package's layout and import rules: layers point down, testing/ stays out of runtime."""

from __future__ import annotations

import ast
from pathlib import Path

import eostores_smos

PACKAGE = Path(eostores_smos.__file__).parent
NAME = "eostores_smos"
ANATOMY = ("store", "api", "catalog", "schema", "convert", "config")
# what each runtime module may import from the package (besides config, always allowed)
ALLOWED = {
    "store": {"api", "archive", "catalog", "grid", "schema", "cube"},
    "cube": {"archive", "convert", "grid"},
    "schema": set(),
    "catalog": {"api"},
    "archive": {"productfile"},
    "productfile": set(),
    "api": set(),
    "grid": set(),
    "convert": set(),
    "config": set(),
}


def package_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names imported) for every import of the package in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    here = [NAME, *parts[:-1]]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.split(".")[0] == NAME:
                found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == NAME]
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
        for imported, _ in package_imports(PACKAGE / f"{module}.py"):
            target = imported.removeprefix(NAME + ".").split(".")[0]
            assert target != "testing", f"{module} imports the emulator"
            assert target in allowed | {"config"}, f"{module} imports {target}"


def test_no_private_names_cross_modules():
    for path in PACKAGE.rglob("*.py"):
        for imported, names in package_imports(path):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name} imports {private} from {imported}"


def test_importing_the_package_loads_no_heavy_modules():
    import subprocess
    import sys

    code = (
        "import sys, eostores_smos; from eostores import list_data_store_ids; "
        "assert 'smos' in list_data_store_ids(); "
        "print(sorted(m for m in ('xarray', 'dask', 'zarr', 'h5py', 'scipy', 's3fs', "
        "'eostores_smos.store') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
