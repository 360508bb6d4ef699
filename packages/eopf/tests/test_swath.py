"""Sentinel-3 OLCI and Sentinel-1 GRD swaths rectified onto the requested grid."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pystac_client
import pytest
import xarray as xr
from conftest import OLCI, S1, lonlat_grid, product_requests
from eostores_eopf.products import component_groups
from eostores_eopf.testing.scenes import NR_OFFSET, olci_radiance, s1_amplitude

OLCI_OPEN = dict(
    bbox=[12.22, 45.22, 12.38, 45.38],
    time_range=["2025-06-01", "2025-06-05"],
    variables=["oa01_radiance", "oa17_radiance"],
)


def test_olci_cube_keeps_the_non_time_critical_copy(store):
    cube = store.open_data(OLCI, spatial_res=0.004, **OLCI_OPEN)
    assert cube.sizes["time"] == 2
    assert len(cube.attrs["stac_items_per_time"][0]) == 1
    assert "_NT_" in cube.attrs["stac_items_per_time"][0][0]
    lon, lat = lonlat_grid(cube)
    values = cube.oa01_radiance.values
    assert np.isfinite(values).all()
    for step, day in enumerate((0, 1)):
        expected = olci_radiance(lon, lat, day, "oa01_radiance")
        # mean of the 300 m pixels in a ~450 m cell: within one source pixel's gradient
        assert np.abs(values[step] - expected).max() < 0.2
        assert np.abs(values[step] - expected - NR_OFFSET).min() > 4.0


@pytest.mark.parametrize(("method", "tolerance"), [("bilinear", 0.02), ("nearest", 0.2)])
def test_olci_interpolation_methods_are_applied(store, method, tolerance):
    cube = store.open_data(
        OLCI, spatial_res=0.001, interp_methods=method, **{**OLCI_OPEN, "variables": "oa01.*"}
    )
    assert list(cube.data_vars) == ["oa01_radiance"]
    assert cube.attrs["resampling"] == {"oa01_radiance": method}
    lon, lat = lonlat_grid(cube)
    error = np.abs(
        cube.oa01_radiance.isel(time=0).values - olci_radiance(lon, lat, 0, "oa01_radiance")
    )
    assert np.nanmax(error) < tolerance
    if method == "nearest":
        # nearest keeps source values: neighbouring cells repeat them
        row = cube.oa01_radiance.isel(time=0, lat=10).values
        assert (np.diff(row) == 0).mean() > 0.4
        assert np.nanmax(error) > 0.02


@pytest.mark.parametrize("method", ["min", "max", "median"])
def test_olci_aggregation_methods_are_applied(store, method):
    mean = store.open_data(OLCI, spatial_res=0.01, **OLCI_OPEN).oa01_radiance.isel(time=0)
    other = store.open_data(OLCI, spatial_res=0.01, agg_methods=method, **OLCI_OPEN)
    values = other.oa01_radiance.isel(time=0).values
    assert other.attrs["resampling"]["oa01_radiance"] == method
    difference = values - mean.values
    if method == "min":
        assert (difference <= 1e-4).all() and difference.mean() < -0.1
    elif method == "max":
        assert (difference >= -1e-4).all() and difference.mean() > 0.1
    else:
        assert np.abs(difference).max() < 0.2


def test_olci_cube_in_utm_and_outside_the_swath(store):
    cube = store.open_data(
        OLCI, crs="EPSG:32633", bbox=[250000, 5015000, 262000, 5027000], spatial_res=400,
        time_range=["2025-06-01", "2025-06-01"], variables="oa17_radiance",
    )  # fmt: skip
    assert set(cube.dims) == {"time", "y", "x"}
    lon, lat = lonlat_grid(cube)
    values = cube.oa17_radiance.isel(time=0).values
    covered = np.isfinite(values)
    assert 0.2 < covered.mean() < 1.0, "the bbox reaches beyond the swath's edge"
    error = np.abs(values - olci_radiance(lon, lat, 0, "oa17_radiance"))[covered]
    assert error.max() < 0.5


def test_s1_grd_from_ground_control_points(store):
    cube = store.open_data(
        S1, bbox=[12.59, 45.09, 12.61, 45.11], spatial_res=0.0002,
        time_range=["2025-06-01", "2025-06-02"], interp_methods=1,
    )  # fmt: skip
    assert set(cube.data_vars) == {"vv", "vh"}
    lon, lat = lonlat_grid(cube)
    vv = cube.vv.isel(time=0).values
    vh = cube.vh.isel(time=0).values
    inside = np.isfinite(vv)
    assert inside.mean() > 0.5
    assert np.abs(vv - s1_amplitude(lon, lat, 0, "vv"))[inside].max() < 0.5
    assert np.abs(vh - s1_amplitude(lon, lat, 0, "vh"))[inside].max() < 0.5


def test_s1_polarisations_are_groups_named_after_their_component_products(shared_emulator):
    item = next(pystac_client.Client.open(shared_emulator.url).search(collections=[S1]).items())
    product = item.assets["product"].href
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = xr.open_datatree(product, engine="zarr", chunks={})
    groups = {name[-2:]: name for name in tree.children}
    assert set(groups) == {"VV", "VH"}
    assert all(re.fullmatch(r"S01SIWGRH_\d{8}T\d{6}_\w+_V[VH]", name) for name in groups.values())
    assert tree.attrs["stac_discovery"]["links"] == [groups["VV"], groups["VH"]]
    for pol in ("vv", "vh"):
        # the asset is the measurements group of the component, not an array
        assert item.assets[pol].href == f"{product}/{groups[pol.upper()]}/measurements"
        assert {"grd"} <= set(tree[f"{groups[pol.upper()]}/measurements"].data_vars)
        assert "latitude" in tree[f"{groups[pol.upper()]}/conditions/gcp"].data_vars


@pytest.mark.parametrize(
    ("children", "component", "expected"),
    [
        (["S01SIWGRH_20250601_0025_A065_S000_5464A_VV", "S01SIWGRH_x_VH"], "VV",
         ["S01SIWGRH_20250601_0025_A065_S000_5464A_VV"]),
        (["s01siwgrh_x_vh", "s01siwgrh_x_vv"], "VH", ["s01siwgrh_x_vh"]),
        (["vv", "VH", "conditions"], "VV", ["vv"]),
        (["vv", "S01SIWGRH_x_VV"], "VV", ["S01SIWGRH_x_VV"]),  # the EOPF name first
        (["S01SIWGRH_x_VV", "S01SIWGRH_x_HH"], "VH", []),
        (["S01SIWGRH_XVV", "VVX"], "VV", []),
        (["a_VV", "b_vv"], "VV", ["a_VV", "b_vv"]),
    ],
)  # fmt: skip
def test_component_groups_of_a_product(children, component, expected):
    assert component_groups(children, component) == expected


def test_swath_reads_only_the_window_it_needs(shared_emulator, make_store):
    store = make_store(shared_emulator)
    before = len(shared_emulator.request_log)
    cube = store.open_data(
        OLCI, bbox=[12.15, 45.43, 12.165, 45.44], spatial_res=0.002,
        time_range=["2025-06-04", "2025-06-04"], variables=["oa08_radiance"],
    )  # fmt: skip
    opened = product_requests(shared_emulator, before)
    cube.load()
    reads = product_requests(shared_emulator, before)[len(opened) :]
    chunk_reads = [r for r in reads if "oa08_radiance" in r.path]
    # the product has 2 x 2 chunks per variable; a bbox inside one quarter needs one
    assert len(chunk_reads) == 1
    assert np.isfinite(cube.oa08_radiance.values).all()
    assert not [r for r in reads if "oa01_radiance" in r.path]
