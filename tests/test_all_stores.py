"""Every installed store together: registry, schemas, emulators and the demo."""

from __future__ import annotations

import itertools
import subprocess
import sys

import jsonschema
import pytest

from eostores import get_data_store_class, list_data_store_ids, new_data_store
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


@pytest.mark.parametrize("name", EMULATORS)
def test_each_emulated_store_lists_and_describes(name):
    emulator_class = get_emulator_class(name)
    store_ids = _emulated_store_ids(emulator_class)
    assert store_ids, f"emulator {name!r} serves no installed store"
    with emulator_class() as emulator:
        for store_id in store_ids:
            store = new_data_store(store_id, **emulator.store_params())
            first = list(itertools.islice(store.get_data_ids(), 3))
            assert first, f"{store_id} lists no data from its emulator"
            assert store.describe_data(first[0]).data_id == first[0]


def test_demo_runs_every_installed_store(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "eostores.cli", "demo", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "demo finished" in result.stdout
