"""The ESA CCI emulator and its sample data, for the package's tests and your own.

:class:`CciEmulator` models the Open Data Portal (OpenSearch, ISO 19115, OPeNDAP, files,
kerchunk references); :class:`ZarrBucket` runs an S3 server (moto) holding Zarr copies.
Values are a known function of the coordinates: :func:`expected_value`.
"""

from __future__ import annotations

from .datasets import DATASETS, SampleDataset, dataset_by_id, expected_value
from .emulator import HOSTILE_DRS_ID, KERCHUNK_SETS, CciEmulator
from .zarrbucket import ZARR_DATA_IDS, ZarrBucket

__all__ = [
    "DATASETS",
    "HOSTILE_DRS_ID",
    "KERCHUNK_SETS",
    "ZARR_DATA_IDS",
    "CciEmulator",
    "SampleDataset",
    "ZarrBucket",
    "dataset_by_id",
    "expected_value",
]
