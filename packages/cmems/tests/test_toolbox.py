"""The store against the unmodified copernicusmarine toolbox on the same emulator.

The toolbox runs in its own process, configured only through the variables it documents
(COPERNICUSMARINE_CONFIG_URL, credentials, HTTP(S)_PROXY, its certificate path): a proxy
carries its hard-coded authentication host and its port-less data URLs to the emulator.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SST, THETAO, ZOS
from eostores_cmems.testing import DEFAULT_PASSWORD, DEFAULT_USERNAME
from eostores_cmems.testing.proxy import ServiceProxy

pytest.importorskip("trustme")

REQUESTS = [
    (
        dict(
            dataset_id=THETAO,
            variables=["thetao", "so"],
            minimum_longitude=10,
            maximum_longitude=14,
            minimum_latitude=40,
            maximum_latitude=43,
            start_datetime="2023-02-01T00:00:00",
            end_datetime="2023-02-03T00:00:00",
            minimum_depth=1,
            maximum_depth=11,
        ),
        dict(
            variable_names=["thetao", "so"],
            bbox=[10, 40, 14, 43],
            time_range=["2023-02-01T00:00:00Z", "2023-02-03T00:00:00Z"],
            depth_range=[1, 11],
        ),
    ),
    (  # from the first valid date (admp_valid_start_date), every level of the elevation axis
        dict(
            dataset_id=THETAO,
            variables=["thetao"],
            minimum_longitude=-3,
            maximum_longitude=0,
            minimum_latitude=-1,
            maximum_latitude=1,
            start_datetime="2023-01-15T00:00:00",
            end_datetime="2023-01-16T00:00:00",
            minimum_depth=0,
            maximum_depth=600,
        ),
        dict(
            variable_names=["thetao"],
            bbox=[-3, -1, 0, 1],
            time_range=["2023-01-15T00:00:00Z", "2023-01-16T00:00:00Z"],
            depth_range=[0, 600],
        ),
    ),
    (
        dict(
            dataset_id=SST,
            minimum_longitude=10.2,
            maximum_longitude=10.8,
            minimum_latitude=40.2,
            maximum_latitude=40.8,
            start_datetime="2020-01-01T00:00:00",
            end_datetime="2020-12-31T00:00:00",
        ),
        dict(
            bbox=[10.2, 40.2, 10.8, 40.8],
            time_range=["2020-01-01T00:00:00Z", "2020-12-31T00:00:00Z"],
        ),
    ),
    (
        dict(
            dataset_id=ZOS,
            dataset_version="202112",
            minimum_longitude=-20,
            maximum_longitude=-10,
            minimum_latitude=-5,
            maximum_latitude=5,
            start_datetime="2019-01-01T00:00:00",
            end_datetime="2019-06-01T00:00:00",
        ),
        dict(
            dataset_version="202112",
            bbox=[-20, -5, -10, 5],
            time_range=["2019-01-01T00:00:00Z", "2019-06-01T00:00:00Z"],
        ),
    ),
]


@pytest.fixture(scope="module")
def toolbox_results(tmp_path_factory):
    from eostores_cmems.testing import CmemsEmulator

    folder = tmp_path_factory.mktemp("toolbox")
    (folder / "requests.json").write_text(json.dumps([r[0] for r in REQUESTS]))
    with CmemsEmulator() as emu, ServiceProxy((emu.host, emu.port)) as proxy:
        env = proxy.toolbox_environment(
            emu.config_url, DEFAULT_USERNAME, DEFAULT_PASSWORD, folder / "home"
        )
        script = Path(__file__).with_name("toolbox_reference.py")
        done = subprocess.run(
            [sys.executable, str(script), str(folder / "requests.json"), str(folder)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        paths = {r.path for r in emu.request_log}
    ids = json.loads((folder / "ids.json").read_text())
    datasets = [pickle.loads((folder / f"{i}.pickle").read_bytes()) for i in range(len(REQUESTS))]
    return ids, datasets, paths


def test_the_toolbox_reads_the_emulator(toolbox_results):
    _, _, paths = toolbox_results
    assert "/realms/MIS/protocol/openid-connect/token" in paths
    assert any(p.endswith("/.zmetadata") for p in paths)


def test_same_dataset_ids_as_the_toolbox(toolbox_results, shared_store):
    ids, _, _ = toolbox_results
    assert shared_store.list_data_ids() == ids


@pytest.mark.parametrize("index", range(len(REQUESTS)))
def test_same_values_as_the_toolbox(toolbox_results, shared_store, index):
    _, datasets, _ = toolbox_results
    reference = datasets[index]
    ours = shared_store.open_data(REQUESTS[index][0]["dataset_id"], **REQUESTS[index][1])
    assert dict(ours.sizes) == dict(reference.sizes)
    for name in reference.coords:
        np.testing.assert_array_equal(ours[name].values, reference[name].values)
    assert sorted(ours.data_vars) == sorted(reference.data_vars)
    for name in reference.data_vars:
        assert ours[name].dims == reference[name].dims
        np.testing.assert_array_equal(ours[name].values, reference[name].values)
