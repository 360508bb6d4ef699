"""Store parameters, item-mode parameter checks, import cost, and the demo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eostores import new_data_store
from eostores.errors import InvalidParameterError


def test_construction_needs_url_and_does_no_io():
    with pytest.raises(InvalidParameterError, match="url"):
        new_data_store("stac")
    store = new_data_store("stac", url="http://127.0.0.1:9/unreachable")
    assert store.url.endswith("unreachable")
    with pytest.raises(InvalidParameterError, match="stak_mode"):
        new_data_store("stac", url="http://x", stak_mode=True)


def test_secrets_stay_out_of_the_repr():
    store = new_data_store("stac", url="http://x", key="AKIA8D1F", secret="s3cr3t-8d1f")
    assert "s3cr3t-8d1f" not in repr(store)
    destine = new_data_store("stac-destine", token="t0ken-8d1f")
    assert "t0ken-8d1f" not in repr(destine)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bbox": [708000, 5550000, 705000, 5553000]}, "bbox"),
        ({"crs": "EPSG:0"}, "crs"),
        ({"spatial_res": 0}, "spatial_res"),
        ({"tile_size": [0, 10]}, "tile_size"),
        ({"apply_scaling": "yes"}, "apply_scaling"),
        ({"error_policy": "skip"}, "error_policy"),
        ({"time_range": ["2024-01-01"]}, "time_range"),
        ({"bbox": [11.9, 50.0, 11.8, 50.1], "crs": "EPSG:4326"}, "bbox"),
    ],
)
def test_item_parameters_are_checked_before_any_request(api_log, params, parameter):
    store = new_data_store("stac", **api_log.store_params())
    data_id = api_log.item_data_id(api_log.data.scenes[0].item_id)
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(data_id, **params)
    assert caught.value.parameter == parameter or parameter in str(caught.value)
    assert not api_log.request_log


def test_importing_the_package_is_cheap():
    code = (
        "import sys, eostores_stac, eostores_stac.store;"
        "heavy = [m for m in ('xarray', 'dask', 'odc.stac', 'rasterio', 'pystac_client')"
        " if m in sys.modules]; print(heavy)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_demo_runs_offline():
    from eostores_stac.testing.demo import demo

    lines: list[str] = []
    demo(lines.append)
    assert any("stack mode" in line for line in lines)
    assert any("UTM zones 32N and 33N" in line for line in lines)
