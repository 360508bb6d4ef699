"""A moto S3 server in a child process, and the upload of the sample data in CDSE's layout."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from typing import Any

from .scenes import SampleData, Scene

__all__ = ["MotoServer", "cdse_key", "upload_sample_data"]


def cdse_key(scene: Scene, relative_path: str) -> str:
    """The object key of a sample file in the CDSE-like ``eodata`` bucket layout."""
    when = datetime.strptime(scene.datetime, "%Y-%m-%dT%H:%M:%SZ")
    name = relative_path.rsplit("/", 1)[-1]
    return f"Sentinel-2/MSI/L2A/{when:%Y/%m/%d}/{scene.item_id}.SAFE/{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """A moto S3 server in a child process, with IAM authentication switched on.

    The first IAM calls create a user with an access key (:attr:`key`, :attr:`secret`);
    every later request must be signed with it, so wrong credentials fail as on AWS.
    """

    def __init__(self, port: int | None = None, startup_timeout: float = 60.0):
        self.port = port or _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
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
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        self.key, self.secret = self._create_user()

    def _create_user(self) -> tuple[str, str]:
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="eodata-reader")
        created = iam.create_access_key(UserName="eodata-reader")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="eodata-reader", PolicyName="all", PolicyDocument=json.dumps(policy)
        )
        return created["AccessKeyId"], created["SecretAccessKey"]

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
        )

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
