"""Store pools: configurations from dicts and files, lazy shared instances, @references."""

from __future__ import annotations

import json
import threading

import pytest

from eostores.errors import DataNotFoundError, InvalidParameterError
from eostores.storepool import (
    DataStoreConfig,
    DataStoreInstance,
    DataStorePool,
    get_data_store_instance,
)

POOL_YAML = """
local:
  store_id: file
  title: Local cubes
  description: Cubes on this machine
  store_params:
    root: {root}
scratch:
  store_id: memory
"""


@pytest.fixture
def pool_file(tmp_path):
    path = tmp_path / "pool.yaml"
    path.write_text(POOL_YAML.format(root=json.dumps(str(tmp_path / "data"))))
    (tmp_path / "data").mkdir()
    return path


def test_pool_from_yaml_creates_stores_lazily_and_shares_them(pool_file, tmp_path):
    pool = DataStorePool.from_file(pool_file)
    assert pool.store_instance_ids == ["local", "scratch"]
    config = pool.get_store_config("local")
    assert config.store_id == "file"
    assert config.title == "Local cubes"
    assert config.store_params == {"root": str(tmp_path / "data")}
    instance = pool.get_store_instance("local")
    assert not instance.is_open
    store = pool.get_store("local")
    assert instance.is_open
    assert pool.get_store("local") is store
    assert store.list_data_ids() == []


def test_pool_round_trips_through_json(pool_file, tmp_path):
    pool = DataStorePool.from_file(pool_file)
    json_file = tmp_path / "pool.json"
    json_file.write_text(json.dumps(pool.to_dict()))
    again = DataStorePool.from_file(json_file)
    assert again.to_dict() == pool.to_dict()
    assert again.get_store_instance_id(pool.get_store_config("local")) == "local"


def test_concurrent_first_access_creates_one_store(pool_file):
    pool = DataStorePool.from_file(pool_file)
    stores = []
    threads = [
        threading.Thread(target=lambda: stores.append(pool.get_store("scratch"))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(store) for store in stores}) == 1


def test_get_data_store_instance_by_reference_and_by_id(pool_file, tmp_path):
    pool = DataStorePool.from_file(pool_file)
    assert get_data_store_instance("@local", store_pool=pool) is pool.get_store_instance("local")
    fresh = get_data_store_instance("file", {"root": str(tmp_path)})
    assert isinstance(fresh, DataStoreInstance)
    assert fresh.store.store_params["root"] == str(tmp_path)
    with pytest.raises(InvalidParameterError, match="store_pool"):
        get_data_store_instance("@local")
    with pytest.raises(InvalidParameterError, match="store_params"):
        get_data_store_instance("@local", {"root": "x"}, store_pool=pool)
    with pytest.raises(DataNotFoundError, match="nope"):
        get_data_store_instance("@nope", store_pool=pool)


@pytest.mark.parametrize(
    "entry",
    [
        {"store_params": {}},
        {"store_id": "file", "unknown": 1},
        {"store_id": ""},
        {"store_id": "file", "store_params": [1, 2]},
        "file",
    ],
)
def test_bad_configurations_are_refused(entry):
    with pytest.raises(InvalidParameterError):
        DataStorePool.from_dict({"x": entry})


def test_bad_files_are_refused(tmp_path):
    with pytest.raises(DataNotFoundError):
        DataStorePool.from_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n")
    with pytest.raises(InvalidParameterError, match="neither JSON nor YAML"):
        DataStorePool.from_file(broken)


def test_config_repr_hides_secrets():
    config = DataStoreConfig("s3", {"root": "b", "storage_options": {"secret": "s3cr3t"}})
    assert "s3cr3t" not in repr(config)
    config = DataStoreConfig("zenodo", {"access_token": "t0k3n"})
    assert "t0k3n" not in repr(config)


def test_removing_and_replacing_configs(pool_file):
    pool = DataStorePool.from_file(pool_file)
    store = pool.get_store("scratch")
    pool.add_store_config("scratch", DataStoreConfig("memory"))
    assert pool.get_store("scratch") is not store
    pool.remove_store_config("scratch")
    assert "scratch" not in pool
    pool.remove_all_store_configs()
    assert len(pool) == 0
