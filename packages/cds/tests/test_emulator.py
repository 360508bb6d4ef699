"""The emulator speaks the CDS protocol: the legacy cdsapi client retrieves from it."""

from __future__ import annotations

import zipfile

import cdsapi
import numpy as np
import xarray as xr


def test_cdsapi_retrieves_files_like_the_service(emulator, tmp_path):
    params = emulator.store_params()
    client = cdsapi.Client(
        url=params["endpoint_url"],
        key=params["cds_api_key"],
        sleep_max=0.1,
        retry_max=2,
        quiet=True,
        progress=False,
    )
    target = tmp_path / "era5.zip"
    client.retrieve(
        "reanalysis-era5-single-levels",
        {
            "product_type": ["reanalysis"],
            "variable": ["2m_temperature", "total_precipitation"],
            "year": ["2020"],
            "month": ["02"],
            "day": ["28", "29", "30"],
            "time": ["00:00", "12:00"],
            "area": [50, -1, 49, 1],
            "data_format": "netcdf",
        },
        str(target),
    )
    with zipfile.ZipFile(target) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path)
    assert names == [
        "data_stream-oper_stepType-accum.nc",
        "data_stream-oper_stepType-instant.nc",
    ]
    ds = xr.open_dataset(tmp_path / names[1], engine="h5netcdf")
    assert ds["t2m"].dims == ("valid_time", "latitude", "longitude")
    assert ds.sizes["valid_time"] == 4, "February 30 does not exist"
    assert np.all(np.diff(ds["latitude"].values) < 0), "latitudes descend"
    assert ds["longitude"].values[0] == -1.0
    assert {"number", "expver"} <= set(ds.coords)
    assert ds["t2m"].attrs["GRIB_shortName"] == "2t" and ds["t2m"].attrs["units"] == "K"


def test_catalogue_pages_and_cost_estimate(emulator):
    from ecmwf.datastores import Client

    params = emulator.store_params()
    client = Client(url=params["endpoint_url"], key=params["cds_api_key"], maximum_tries=1)
    page = client.get_collections(limit=2)
    ids = []
    while page is not None:
        ids += page.collection_ids
        page = page.next
    assert len(ids) == len(emulator.datasets) == len(set(ids))
    costs = client.estimate_costs(
        "reanalysis-era5-land",
        {
            "variable": ["2m_temperature"],
            "year": "2020",
            "month": "01",
            "day": ["01", "02"],
            "time": ["00:00", "06:00", "12:00"],
        },
    )
    assert (
        costs["cost"] == 6
        and costs["limit"] == emulator.datasets["reanalysis-era5-land"].cost_limit
    )
