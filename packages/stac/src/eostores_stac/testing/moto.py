"""An S3 server (the core's moto server) with a reader's key, and the upload of the sample
data in CDSE's layout."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from eostores.testing.moto import MotoServer as CoreMotoServer

from .scenes import SampleData, Scene

__all__ = ["MotoServer", "cdse_key", "upload_sample_data"]


def cdse_key(scene: Scene, relative_path: str) -> str:
    """The object key of a sample file in the CDSE-like ``eodata`` bucket layout."""
    when = datetime.fromisoformat(scene.datetime.replace("Z", "+00:00"))
    name = relative_path.rsplit("/", 1)[-1]
    return f"Sentinel-2/MSI/L2A/{when:%Y/%m/%d}/{scene.item_id}.SAFE/{name}"


class MotoServer(CoreMotoServer):
    """moto's S3 server whose requests must be signed with :attr:`key` and :attr:`secret`
    (the user ``eodata-reader``), so that wrong credentials fail as on AWS."""

    def __init__(self, startup_timeout: float = 60.0):
        super().__init__(startup_timeout, user="eodata-reader")


def upload_sample_data(data: SampleData, s3_client: Any, bucket: str = "eodata") -> int:
    """Upload every sample file to ``bucket`` in the CDSE key layout; returns the count."""
    try:
        s3_client.create_bucket(Bucket=bucket)
    except Exception as error:  # an existing bucket is fine
        if "BucketAlready" not in type(error).__name__ and "BucketAlready" not in str(error):
            raise
    count = 0
    for scene in data.scenes:
        for relative in data.asset_paths(scene).values():
            source = data.root / relative
            files = (
                [source]
                if source.is_file()
                else sorted(p for p in source.rglob("*") if p.is_file())
            )
            for path in files:
                inner = str(path.relative_to(data.root)).replace(os.sep, "/")
                suffix = inner[len(relative) :]
                s3_client.upload_file(str(path), bucket, cdse_key(scene, relative) + suffix)
                count += 1
    return count
