"""The S3 archive: moto's S3 server in a child process, holding products of the emulator.

Requests are signed and checked: the server creates a user with an access key first, and
refuses requests without valid credentials afterwards, as the real archive does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

from .archive import BUCKET, ArchiveModel, EmulatedProduct

__all__ = ["MotoArchive"]

_ADMIN_CALLS = 3  # create_user, create_access_key, put_user_policy: made before auth is on


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoArchive:
    """An S3 server with the bucket ``eodata``; :meth:`upload` puts products into it."""

    def __init__(self, startup_timeout: float = 60.0):
        self.port = _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(_ADMIN_CALLS))
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(name, None)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=2):
                    break
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        self.key, self.secret = self._create_user()
        self.client().create_bucket(Bucket=BUCKET)
        self.uploaded: set[str] = set()

    def _create_user(self) -> tuple[str, str]:
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="smos-reader")
        key = iam.create_access_key(UserName="smos-reader")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="smos-reader", PolicyName="all", PolicyDocument=json.dumps(policy)
        )
        return key["AccessKeyId"], key["SecretAccessKey"]

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
        )

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
        return {
            "source_path": f"s3://{BUCKET}",
            "source_storage_options": {
                "endpoint_url": self.endpoint_url,
                "key": self.key,
                "secret": self.secret,
                "client_kwargs": {"region_name": "us-east-1"},
            },
        }

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> MotoArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
