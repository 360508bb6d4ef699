"""Every installed store together: registry, schemas, emulators and the demo."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from eostores import (
    get_data_store_class,
    get_data_store_params_schema,
    list_data_store_ids,
    new_data_store,
)
from eostores.registry import find_emulator_extensions, get_emulator_class

STORE_IDS = list_data_store_ids()
EMULATORS = sorted(e.name for e in find_emulator_extensions())


def test_core_stores_are_installed():
    assert {"file", "memory", "s3", "https", "ftp", "abfs", "reference"} <= set(STORE_IDS)


@pytest.mark.parametrize("store_id", STORE_IDS)
def test_store_params_schema_is_valid_json_schema(store_id):
    cls = get_data_store_class(store_id)
    schema = cls.get_data_store_params_schema().to_dict()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert cls.get_data_types(), f"{store_id} declares no data types"


def _emulated_store_ids(emulator_class) -> tuple[str, ...]:
    ids = getattr(emulator_class, "store_ids", None) or (emulator_class.name,)
    return tuple(i for i in ids if i in STORE_IDS)


def _cache_params(store_id: str, folder: Path) -> dict[str, object]:
    """Store parameters that put the store's cache into ``folder``."""
    properties = get_data_store_params_schema(store_id).properties
    params: dict[str, object] = {}
    if "cache_dir" in properties:
        params["cache_dir"] = str(folder / "cache")
    if "cache_store_params" in properties:
        params["cache_store_params"] = {"root": str(folder / "cache-store")}
    return params


@pytest.mark.parametrize("name", EMULATORS)
def test_each_emulated_store_lists_and_describes(name, tmp_path):
    emulator_class = get_emulator_class(name)
    store_ids = _emulated_store_ids(emulator_class)
    assert store_ids, f"emulator {name!r} serves no installed store"
    with emulator_class() as emulator:
        for store_id in store_ids:
            params = {**emulator.store_params(), **_cache_params(store_id, tmp_path)}
            store = new_data_store(store_id, **params)
            first = list(itertools.islice(store.get_data_ids(), 3))
            assert first, f"{store_id} lists no data from its emulator"
            assert store.describe_data(first[0]).data_id == first[0]


@pytest.mark.timeout(1200)  # every store's demo, sample data written first, on 2 cores
def test_demo_runs_every_installed_store(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "eostores.cli", "demo", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "demo finished" in result.stdout
    # the demo shows data, not the emulators' hostile test fixtures or whole reprs
    for fixture in ("escape-dotdot", "escape-absolute", "escape-link", "corrupted.nc"):
        assert fixture not in result.stdout
    long = [line for line in result.stdout.splitlines() if len(line) > 400]
    assert not long, f"unreadably long demo lines: {[line[:80] for line in long]}"
    assert "Unclosed" not in result.stderr, "the demo left an aiohttp session open"
