"""Listing, describing and open-parameter schemas from the STAC catalogue alone."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from pathlib import Path

import pytest
from conftest import SST, THETAO, ZOS

from eostores import DataNotFoundError, new_data_store

ROOT_CATALOGUE = "/mdl-metadata/metadata/catalog.stac.json"


def _walks(emulator) -> int:
    return sum(1 for r in emulator.request_log if r.path == ROOT_CATALOGUE)


def test_lists_every_dataset_with_titles(emulator, make_store):
    store = make_store(emulator)
    ids = store.list_data_ids()
    assert ids == sorted([SST, THETAO, ZOS])
    titles = dict(store.list_data_ids(include_attrs=["title"]))
    assert titles[THETAO] == {
        "title": "Global Ocean Physics Analysis and Forecast - daily mean potential "
        "temperature and salinity on 10 depth levels"
    }
    full = dict(store.list_data_ids(include_attrs=True))
    assert full[ZOS]["product_id"] == "GLOBAL_MULTIYEAR_PHY_001_030"


def test_listing_needs_no_credentials(emulator, make_store):
    store = make_store(emulator, cmems_username=None, cmems_password=None)
    assert SST in store.list_data_ids()
    assert store.describe_data(SST).data_id == SST
    assert not [r for r in emulator.request_log if "openid-connect" in r.path]


def test_one_walk_per_ttl_and_disk_cache(emulator, make_store, tmp_path):
    store = make_store(emulator)
    store.list_data_ids()
    store.list_data_ids()
    assert _walks(emulator) == 1
    emulator.reset_log()
    again = make_store(emulator)  # a new store on the same cache folder
    assert again.list_data_ids() == store.list_data_ids()
    assert again.has_data(SST) and not again.has_data("no-such-dataset")
    again.describe_data(THETAO)
    assert emulator.request_log == [], "a fresh disk cache answers without requests"
    files = sorted(p.name for p in Path(store.catalogue.root).rglob("*.json"))
    assert "listing.json" in files and len(files) == 4


def test_expired_cache_walks_again(emulator, make_store):
    store = make_store(emulator, catalogue_ttl=0.2)
    store.list_data_ids()
    time.sleep(0.3)
    store.list_data_ids()
    assert _walks(emulator) == 2
    fresh = make_store(emulator, catalogue_ttl=0)
    fresh.list_data_ids()
    assert _walks(emulator) == 3


def _list_in_process(params: dict, queue) -> None:
    store = new_data_store("cmems", **params)
    queue.put(store.list_data_ids())


def test_threads_and_processes_share_one_walk(emulator, make_store, tmp_path):
    params = {**emulator.store_params(), "cache_dir": str(tmp_path / "shared")}
    emulator.latency_ms = 20  # let the walkers overlap
    results: list = []
    stores = [new_data_store("cmems", **params) for _ in range(3)]
    threads = [
        threading.Thread(target=lambda s=s: results.append(s.list_data_ids())) for s in stores
    ]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_list_in_process, args=(params, queue)) for _ in range(2)]
    for worker in [*threads, *processes]:
        worker.start()
    for thread in threads:
        thread.join(120)
    results += [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(120)
    assert len(results) == 5 and all(r == results[0] for r in results)
    assert _walks(emulator) == 1, "one catalogue walk for every thread and process"


def test_has_data_without_a_walk(emulator, make_store):
    store = make_store(emulator)
    assert store.has_data(THETAO)
    assert not store.has_data("cmems_no_such_dataset")
    assert _walks(emulator) == 0
    paths = {r.path for r in emulator.request_log}
    assert "/mdl-metadata/dataset_product_id_mapping.json" in paths


def test_describe_from_metadata_only(emulator, make_store):
    store = make_store(emulator)
    descriptor = store.describe_data(THETAO)
    assert not emulator.data_requests(), "describing must not read data"
    assert not [r for r in emulator.request_log if "openid-connect" in r.path]
    assert descriptor.bbox == (-180.0, -80.0, 180.0, 80.0)
    # The data start on 2023-01-01, but the item's admp_valid_start_date is 2023-01-15.
    assert descriptor.time_range == ("2023-01-15", "2023-12-31")
    assert descriptor.time_period == "1D"
    assert descriptor.spatial_res == 1.0
    # The ARCO axis "elevation" (negative, ascending) is described as "depth".
    assert descriptor.dims == {"time": 351, "depth": 10, "latitude": 160, "longitude": 360}
    thetao = descriptor.data_vars["thetao"]
    assert thetao.dims == ("time", "depth", "latitude", "longitude")
    assert thetao.attrs == {
        "standard_name": "sea_water_potential_temperature",
        "units": "degrees_C",
    }
    assert thetao.chunks == (1, 1, 160, 360)
    assert descriptor.attrs["depth_range"] == [0.494, 541.1]
    assert descriptor.attrs["services"] == ["arco-geo-series", "arco-time-series"]
    assert descriptor.coords["time"].attrs["minimum"] == "2023-01-15T00:00:00"
    assert descriptor.coords["depth"].attrs["minimum"] == 0.494
    json.dumps(descriptor.to_dict())


def test_describe_monthly_multi_version(emulator, make_store):
    descriptor = make_store(emulator).describe_data(ZOS)
    assert descriptor.time_period == "1M"
    assert descriptor.time_range == ("2018-01-01", "2021-12-01")
    assert descriptor.attrs["versions"] == ["202311", "202112"]
    assert descriptor.attrs["default_version"] == "202311"
    assert descriptor.attrs["parts"] == ["default", "interim"]
    assert "depth_range" not in descriptor.attrs


def test_unknown_dataset(emulator, make_store):
    store = make_store(emulator)
    with pytest.raises(DataNotFoundError, match="no such dataset"):
        store.describe_data("cmems_no_such_dataset")
    with pytest.raises(DataNotFoundError):
        store.get_open_data_params_schema("cmems_no_such_dataset")


def test_open_params_schema(emulator, make_store):
    store = make_store(emulator)
    schema = store.get_open_data_params_schema(THETAO).to_dict()
    props = schema["properties"]
    names = [item["const"] for item in props["variable_names"]["items"]["oneOf"]]
    assert names == ["thetao", "so"]
    assert "depth_range" in props
    assert props["service"]["enum"] == [
        "auto",
        "arco-geo-series",
        "geoseries",
        "arco-time-series",
        "timeseries",
    ]
    assert props["spatial_res"]["enum"] == [1.0]
    assert props["time_period"]["enum"] == ["1D"]
    assert (
        props["dataset_version"]["enum"] == ["202406", None]
        or props["dataset_version"]["enum"][0] == "202406"
    )
    zos = store.get_open_data_params_schema(ZOS).to_dict()["properties"]
    assert zos["dataset_version"]["enum"] == ["202311", "202112", None]
    assert zos["dataset_part"]["enum"] == ["default", "interim", None]
    sst = store.get_open_data_params_schema(SST).to_dict()["properties"]
    assert "depth_range" not in sst
    generic = store.get_open_data_params_schema().to_dict()["properties"]
    assert {"variable_names", "bbox", "time_range", "depth_range", "service"} <= set(generic)
    assert not emulator.data_requests()


@pytest.mark.parametrize(
    ("properties", "offered"),
    [
        ({}, True),
        ({"admp_in_preparation": False}, True),
        ({"admp_in_preparation": True}, False),
        ({"admp_retired_date": "2024-06-30T00:00:00Z"}, False),
        ({"admp_retired_date": "2999-06-30T00:00:00Z"}, True),
        ({"admp_retired_date": "not a date"}, True),
    ],
)
def test_only_items_the_toolbox_offers_make_a_dataset_listed(properties, offered):
    from eostores_cmems.catalog import DatasetRecord

    asset = {"href": "https://s3.example/b/x.zarr", "type": "application/vnd+zarr"}
    document = {"id": "cmems_x_202501", "properties": properties, "assets": {"timeChunked": asset}}
    record = DatasetRecord("cmems_x", "P", "Product", None, [{"url": "u", "document": document}])
    assert record.has_zarr_series is offered
