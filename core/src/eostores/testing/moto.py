"""moto's S3 server in a child process, for emulators and tests of S3-backed stores.

Needs ``moto[server]`` and ``boto3`` (test extras). Signature checks are off until
:meth:`MotoServer.new_user` has created a user: from then on every request must be signed
with that user's key, so that wrong or missing credentials fail as they do on AWS.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

__all__ = ["MotoServer"]

#: Credentials of administrative calls, made while signature checks are off.
ADMIN_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_REGION = "us-east-1"


class MotoServer:
    """moto's S3 and IAM server on 127.0.0.1 in a child process; a context manager.

    With ``user``, that user is created at start (:meth:`new_user`): its key is
    :attr:`key`/:attr:`secret`, and :meth:`client` signs with it by default.
    """

    def __init__(self, startup_timeout: float = 60.0, user: str | None = None):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "AWS_DEFAULT_REGION": _REGION,
            **{name.upper(): value for name, value in ADMIN_CREDENTIALS.items()},
        }
        env.pop("AWS_SESSION_TOKEN", None)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.key: str | None = None
        self.secret: str | None = None
        try:
            self._wait(startup_timeout)
            if user is not None:
                self.key, self.secret = self.new_user(user)
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout: float) -> None:
        ends = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the moto server exited with code {self._process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=5):
                    return
            except OSError:
                if time.monotonic() > ends:
                    raise RuntimeError("the moto server did not start in time") from None
                time.sleep(0.1)

    def _post(self, path: str, body: bytes = b"") -> None:
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=body,
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def client(self, service: str = "s3", key: str | None = None, secret: str | None = None) -> Any:
        """A boto3 client of ``service``, signed with ``key`` or else the user's key, or with
        admin credentials if there is no user."""
        key, secret = (key, secret) if key is not None else (self.key, self.secret)
        if key is None:
            return self._admin_client(service)
        return self._boto3_client(service, aws_access_key_id=key, aws_secret_access_key=secret)

    def _admin_client(self, service: str) -> Any:
        return self._boto3_client(service, **ADMIN_CREDENTIALS)

    def _boto3_client(self, service: str, **credentials: Any) -> Any:
        import boto3

        return boto3.client(
            service, endpoint_url=self.endpoint_url, region_name=_REGION, **credentials
        )

    def reset(self) -> None:
        """Remove every bucket and user, and switch signature checks off."""
        self._post("/moto-api/reset-auth", b"inf")
        self._post("/moto-api/reset")

    def new_user(self, name: str) -> tuple[str, str]:
        """Create the user ``name``, allowed everything, and switch signature checks on;
        returns its ``(access key id, secret access key)``."""
        self._post("/moto-api/reset-auth", b"inf")
        iam = self._admin_client("iam")
        iam.create_user(UserName=name)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=json.dumps(policy))
        created = iam.create_access_key(UserName=name)["AccessKey"]
        self._post("/moto-api/reset-auth", b"0")
        return created["AccessKeyId"], created["SecretAccessKey"]

    def storage_options(self, key: str | None = None, secret: str | None = None) -> dict:
        """s3fs options for this server (anonymous unless a key is given)."""
        credentials = {"anon": True} if key is None else {"key": key, "secret": secret}
        return {
            **credentials,
            "endpoint_url": self.endpoint_url,
            "client_kwargs": {"region_name": _REGION},
        }

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
