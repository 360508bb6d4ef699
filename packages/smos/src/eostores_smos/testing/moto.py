"""The S3 archive: the core's moto server holding products of the emulator.

Requests are signed and checked: the server creates a user with an access key first, and
refuses requests without valid credentials afterwards, as the real archive does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eostores.testing.moto import MotoServer

from .archive import BUCKET, ArchiveModel, EmulatedProduct

__all__ = ["MotoArchive"]


class MotoArchive(MotoServer):
    """An S3 server with the bucket ``eodata``; :meth:`upload` puts products into it."""

    def __init__(self, startup_timeout: float = 60.0):
        super().__init__(startup_timeout, user="smos-reader")
        try:
            self.client().create_bucket(Bucket=BUCKET)
        except BaseException:
            self.stop()
            raise
        self.uploaded: set[str] = set()

    def upload(self, model: ArchiveModel, products: Iterable[EmulatedProduct]) -> int:
        """Put the files of ``products`` into the bucket (once each); returns how many."""
        client = self.client()
        count = 0
        for product in products:
            if not product.has_file or product.path in self.uploaded:
                continue
            client.upload_file(str(model.file(product)), BUCKET, product.path)
            self.uploaded.add(product.path)
            count += 1
        return count

    def store_params(self) -> dict[str, Any]:
        """Store parameters reading the archive from this server."""
        options = self.storage_options(self.key, self.secret)
        return {"source_path": f"s3://{BUCKET}", "source_storage_options": options}
