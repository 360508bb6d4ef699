"""Service faults: plain 500s retried, and no fault on a GeoTIFF can take the process down."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from eostores_zenodo.testing.samples import (
    chlorophyll_value,
    elevation_value,
    station_value,
    temperature_value,
)

from eostores.testing import FaultProfile


def test_a_fifth_of_plain_500s_is_retried_and_everything_succeeds(fresh_zenodo, make_store):
    fresh_zenodo.faults = FaultProfile(error_rate=0.2, error_statuses=(500,), seed=20)
    store = make_store(fresh_zenodo, retry_backoff_base=0.02, retry_backoff_max=0.1)

    dataset = store.open_data("temperature.nc", bbox=[0, 40, 10, 50])
    day = np.arange(4.0)[:, None, None]
    lat, lon = dataset.lat.values[None, :, None], dataset.lon.values[None, None, :]
    np.testing.assert_allclose(
        dataset.temperature.values, temperature_value(day, lat, lon), rtol=1e-6
    )
    cube = store.open_data("cube.zarr.zip", bbox=[-20, -10, 20, 10])
    la, lo = cube.lat.values[:, None], cube.lon.values[None, :]
    np.testing.assert_allclose(
        cube.chl.isel(time=1).values, chlorophyll_value(1.0, la, lo), rtol=1e-6
    )
    cog = store.open_data("elevation.tif", bbox=[10, 20, 30, 40])
    ya, xa = cog.y.values[:, None], cog.x.values[None, :]
    np.testing.assert_allclose(cog.elevation.values, elevation_value(ya, xa), rtol=1e-6)
    frame = store.open_data("stations.geojson")
    for lon_, lat_, value in zip(frame.geometry.x, frame.geometry.y, frame["value"], strict=True):
        assert value == pytest.approx(station_value(lon_, lat_))
    store.describe_data("collection.zip")
    handle = store.preload_data("collection.zip", "temperature.nc")
    handle.raise_for_failures()
    assert len(handle.data_ids) == 3

    statuses = [r.status for r in fresh_zenodo.request_log]
    assert statuses.count(500) >= 5, "the profile should have injected plain 500s"
    assert set(statuses) <= {200, 206, 500}


_GEOTIFF_SCRIPT = textwrap.dedent(
    """
    import json, sys, urllib.request
    from eostores import new_data_store
    from eostores.errors import DataStoreError

    url, kind = sys.argv[1], sys.argv[2]
    paths = r".*/elevation\\.tif/content"
    if kind == "drop":
        profile = {"drop_rate": 1.0, "paths": paths}
    elif kind == "truncate":
        profile = {"truncate_rate": 1.0, "paths": paths}
    else:
        profile = {
            "error_rate": 1.0, "error_statuses": [int(kind)], "retry_after": 0, "paths": paths,
        }

    def set_faults(faults):
        request = urllib.request.Request(
            url + "/_emulator/faults", data=json.dumps(faults).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=30).read()

    def attempt(phase):
        store = new_data_store(
            "zenodo", root="7000002", api_url=url + "/api", num_retries=1,
            retry_backoff_base=0.01, retry_backoff_max=0.05, read_timeout=10,
        )
        store.record
        set_faults(profile if phase == "open" else None)
        try:
            dataset = store.open_data("elevation.tif", bbox=[10, 20, 30, 40])
            set_faults(profile)
            dataset.elevation.values
            return {"raised": None}
        except DataStoreError as error:
            return {"raised": type(error).__name__, "datastore": True, "message": str(error)}
        except Exception as error:
            return {"raised": type(error).__name__, "datastore": False, "message": str(error)}
        finally:
            set_faults(None)

    for phase in ("open", "compute"):
        print(json.dumps({"phase": phase, **attempt(phase)}), flush=True)
    """
)

FAULT_KINDS = [
    "400",
    "401",
    "403",
    "404",
    "410",
    "429",
    "500",
    "502",
    "503",
    "504",
    "drop",
    "truncate",
]


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_geotiff_faults_raise_instead_of_aborting(fresh_zenodo, kind):
    """Every failing request for the file, while opening and while computing: an error
    naming the file, never a dead process."""
    completed = subprocess.run(
        [sys.executable, "-c", _GEOTIFF_SCRIPT, fresh_zenodo.url, kind],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, (
        f"the process died ({completed.returncode}): {completed.stderr[-2000:]}"
    )
    outcomes = [json.loads(line) for line in completed.stdout.strip().splitlines()]
    assert [outcome["phase"] for outcome in outcomes] == ["open", "compute"]
    for outcome in outcomes:
        assert outcome["raised"] is not None, "every request failed, so the read must fail"
        assert outcome["datastore"], outcome
        assert "elevation.tif" in outcome["message"], outcome


def test_one_deadline_bounds_a_whole_call(fresh_zenodo, make_store):
    """Each request is well within the deadline, the call with all of them is not."""
    from eostores.errors import DataStoreTimeoutError

    fresh_zenodo.faults = FaultProfile(latency_ms=400)
    store = make_store(fresh_zenodo, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError):
        store.open_data("temperature.nc")  # the record, then several header reads
    assert time.monotonic() - started < 10
    fresh_zenodo.faults = None
    dataset = make_store(fresh_zenodo, deadline=30.0).open_data("temperature.nc")
    assert "temperature" in dataset
