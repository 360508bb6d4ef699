"""A public S3 bucket of Zarr copies of CCI datasets, on moto's S3 server in a subprocess.

The bucket holds consolidated Zarr (format 2) datasets whose values follow
:func:`~eostores_cci.testing.datasets.expected_value`, and the index ``data_ids.json``
listing them. Reading needs no credentials (anonymous access, like the real bucket).
Needs ``moto[server]`` (in the package's ``test`` extra).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from eostores.fs.zarr import zarr_store
from eostores.testing.moto import ADMIN_CREDENTIALS, MotoServer

from .datasets import DATASETS, SampleDataset

__all__ = ["ZARR_DATA_IDS", "ZarrBucket", "zarr_copy"]

#: Data id -> (DRS id of the sample dataset, number of files from the first).
ZARR_DATA_IDS = {
    "ESACCI-L4_GHRSST-SSTdepth-OSTIA-GLOB_CDR2.1-2000-01-fv01.0.zarr": (DATASETS[0].drs_id, 10),
    "ESACCI-OZONE-L3-NP-MERGED-KNMI-2003-2004-fv0002.zarr": (DATASETS[1].drs_id, 24),
}


def zarr_copy(dataset: SampleDataset, count: int) -> Any:
    """The first ``count`` time steps of ``dataset`` as an in-memory xarray.Dataset whose
    encoding asks for chunks of one time step and up to 90 x 180 cells."""
    import xarray as xr

    samples = dataset.files()[:count]
    times = np.array([np.datetime64(s.midpoint, "ns") for s in samples])
    lats, lons = dataset.lats(), dataset.lons()
    from .datasets import expected_value

    data_vars = {}
    for variable in dataset.variables:
        values = expected_value(
            dataset, variable.name, times[:, None, None], lats[None, :, None], lons[None, None]
        ).astype("float32")
        data_vars[variable.name] = (
            ("time", "lat", "lon"),
            values,
            {"units": variable.units, "long_name": variable.long_name},
        )
    cube = xr.Dataset(
        data_vars,
        coords={"time": times, "lat": lats, "lon": lons},
        attrs={"title": dataset.title, "institution": dataset.institute},
    )
    for variable in dataset.variables:
        cube[variable.name].encoding["chunks"] = (1, min(90, len(lats)), min(180, len(lons)))
    return cube


class ZarrBucket:
    """The core's moto server with the public bucket ``bucket`` filled; a context manager.

    ``with_index=False`` leaves ``data_ids.json`` out, so that stores list the bucket.
    """

    def __init__(self, bucket: str = "esacci", with_index: bool = True):
        self.bucket = bucket
        self.with_index = with_index
        self._server: MotoServer | None = None

    def __enter__(self) -> ZarrBucket:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the bucket is not started"
        return self._server.endpoint_url

    def start(self) -> ZarrBucket:
        self._server = MotoServer()
        try:
            self._fill()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def store_params(self) -> dict[str, Any]:
        """``ccizarr`` store parameters pointing at this bucket."""
        return {"root": self.bucket, "storage_options": {"anon": True, "endpoint_url": self.url}}

    def admin_filesystem(self) -> Any:
        """An s3fs filesystem that writes public objects into the bucket (for tests)."""
        import s3fs

        return s3fs.S3FileSystem(
            key=ADMIN_CREDENTIALS["aws_access_key_id"],
            secret=ADMIN_CREDENTIALS["aws_secret_access_key"],
            client_kwargs={"endpoint_url": self.url},
            s3_additional_kwargs={"ACL": "public-read"},
            skip_instance_cache=True,
        )

    def _fill(self) -> None:
        fs = self.admin_filesystem()
        fs.mkdir(self.bucket, acl="public-read")
        for data_id, (drs_id, count) in ZARR_DATA_IDS.items():
            dataset = next(d for d in DATASETS if d.drs_id == drs_id)
            cube = zarr_copy(dataset, count)
            store = zarr_store(fs, f"{self.bucket}/{data_id}", read_only=False)
            cube.to_zarr(store, zarr_format=2, consolidated=True)
        if self.with_index:
            fs.pipe(f"{self.bucket}/data_ids.json", json.dumps(list(ZARR_DATA_IDS)).encode())
