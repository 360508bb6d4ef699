"""Testing helpers of eostores-stac: the STAC emulator, its sample data, an S3 server.

:class:`StacEmulator` models STAC APIs, static catalogs, the CDSE STAC (assets on S3),
DestinE Cache-A and an xcube server's STAC, serving synthetic scenes whose pixel values are
a known function of position and date (:mod:`.scenes`); :class:`MotoServer` runs an S3
server for the CDSE mode. Users can import these for their own tests; the runtime modules
of the package never do.
"""

from __future__ import annotations

from .emulator import CONFORMANCE_CLASSES, StacEmulator, sample_data_dir
from .moto import MotoServer, cdse_key, upload_sample_data
from .xcubedata import write_xcube_datasets

__all__ = [
    "CONFORMANCE_CLASSES",
    "MotoServer",
    "StacEmulator",
    "cdse_key",
    "sample_data_dir",
    "upload_sample_data",
    "write_xcube_datasets",
]
