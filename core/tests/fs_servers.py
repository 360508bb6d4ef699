"""Real servers for the remote filesystem store tests, started by fixtures on 127.0.0.1.

* S3: moto's server in a subprocess; every environment resets it and enables request
  signing checks with a fresh IAM user, so that wrong credentials are refused.
* HTTP: :class:`StaticFilesEmulator`, serving a directory read-only with index pages and
  byte ranges, behind basic auth (.netrc) or bearer tokens.
* FTP: pyftpdlib in a thread, one user with a read/write home directory.
* Azure Blob Storage: Azurite, installed with npm into a cache directory on first use
  (tests are skipped when npm or the install is unavailable).

Use it from a test module with ``pytest_plugins = ["fs_servers"]``.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eostores.testing import EmulatorServer, MotoServer, Request, Response, route

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0

#: The published key of Azurite's development account (not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, what: str = "") -> None:
    """Wait until something accepts connections on ``port``; fail if ``process`` exits."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {START_TIMEOUT_S} s")


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a child process started by a fixture, killing it if it does not exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def unique_name(prefix: str) -> str:
    """A lower-case name valid as S3 bucket, Azure container and directory name."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session", autouse=True)
def _close_filesystems() -> Iterator[None]:
    """Close the clients of filesystems left over while fsspec's event loop still runs.

    Otherwise their finalizers run at interpreter exit, after the loop has stopped, and
    print "Loop is not running" and "Unclosed client session" (adlfs's finalizers even
    keep their filesystem alive until then).
    """
    yield
    import gc
    import weakref

    from fsspec.spec import AbstractFileSystem

    pending = [AbstractFileSystem]
    while pending:
        cls = pending.pop()
        cls.clear_instance_cache()
        pending.extend(cls.__subclasses__())
    gc.collect()
    for finalizer in [o for o in gc.get_objects() if isinstance(o, weakref.finalize)]:
        target = finalizer.peek()
        if target is not None and isinstance(target[0], AbstractFileSystem):
            with contextlib.suppress(Exception):
                finalizer()


# --------------------------------------------------------------------------- S3 (moto)


@dataclass
class S3Environment:
    """A fresh bucket on the moto server and credentials that may use it."""

    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str

    def storage_options(self, **changes: Any) -> dict[str, Any]:
        options = {
            "key": self.access_key,
            "secret": self.secret_key,
            "endpoint_url": self.endpoint_url,
            "client_kwargs": {"region_name": "us-east-1"},
        }
        return {**options, **changes}

    def store_params(self, **changes: Any) -> dict[str, Any]:
        return {
            "root": self.bucket,
            "max_depth": 3,
            "storage_options": self.storage_options(),
            **changes,
        }


def new_s3_environment(server: MotoServer) -> S3Environment:
    """Reset moto, create a user with a key and a bucket, then enforce signatures."""
    server.reset()
    bucket = unique_name("bucket")
    server.client("s3").create_bucket(Bucket=bucket)
    key, secret = server.new_user(unique_name("user"))
    return S3Environment(server.endpoint_url, bucket, key, secret)


def _isolate_aws_config(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Keep the user's AWS configuration and credentials out of the tests."""
    for name in (
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(directory / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(directory / "aws-credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def s3_env(moto_server, monkeypatch, tmp_path) -> S3Environment:
    """A fresh S3 environment for one test, with the AWS configuration isolated."""
    _isolate_aws_config(monkeypatch, tmp_path)
    return new_s3_environment(moto_server)


@pytest.fixture(scope="module")
def s3_module_env(moto_server, tmp_path_factory) -> Iterator[S3Environment]:
    """An S3 environment shared by the tests of a module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate_aws_config(monkeypatch, tmp_path_factory.mktemp("aws"))
        yield new_s3_environment(moto_server)


# --------------------------------------------------------------------------- HTTP


class StaticFilesEmulator(EmulatorServer):
    """Serves a directory tree read-only, like a static web server behind authentication.

    Files are served with ETag and byte ranges; a directory answers with an index page of
    links (directories end with ``/``) unless ``listings`` is false, in which case it
    answers 404 like servers that only serve keys. Requests need basic auth with
    ``login``/``password`` or a bearer token from :meth:`issue_token`; without
    credentials configured, everything is public.
    """

    name = "static-files"

    def __init__(
        self,
        directory: str = ".",
        login: str | None = None,
        password: str | None = None,
        listings: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.directory = Path(directory).resolve()
        self.login = login
        self.password = password
        self.listings = listings
        self.require_auth = login is not None

    def store_params(self) -> dict[str, Any]:
        return {"root": self.url}

    def _authorized(self, request: Request) -> bool:
        if not self.require_auth:
            return True
        if request.basic_auth is not None:
            return request.basic_auth == (self.login, self.password)
        return self.check_token(request.bearer_token)

    @route("GET", r"/(?P<path>.*)")
    def get(self, request: Request, path: str) -> Response:
        if not self._authorized(request):
            return Response.html_error(
                401, "401 Unauthorized", headers={"WWW-Authenticate": 'Basic realm="data"'}
            )
        target = (self.directory / path).resolve()
        if not target.is_relative_to(self.directory) or not target.exists():
            return Response.html_error(404, "404 Not Found")
        if target.is_dir():
            if not self.listings:
                return Response.html_error(404, "404 Not Found")
            return self._index(target)
        return Response.file(target, request)

    @staticmethod
    def _index(directory: Path) -> Response:
        links = []
        for entry in sorted(directory.iterdir()):
            name = entry.name + ("/" if entry.is_dir() else "")
            href = html.escape(urllib.parse.quote(name))
            links.append(f'<li><a href="{href}">{html.escape(name)}</a></li>')
        page = "<!DOCTYPE html>\n<html><body><ul>\n" + "\n".join(links) + "\n</ul></body></html>\n"
        return Response.text(page, content_type="text/html; charset=utf-8")


@dataclass
class HttpEnvironment:
    """A directory served over HTTP, with the credentials the server accepts."""

    server: StaticFilesEmulator
    directory: Path
    login: str
    password: str
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    def root_url(self, subdirectory: str) -> str:
        return f"{self.server.url}/{subdirectory}"

    def write_netrc(
        self, path: Path, login: str | None = None, password: str | None = None, host: str = HOST
    ) -> Path:
        path.write_text(
            f"machine {host}\nlogin {login or self.login}\npassword {password or self.password}\n"
        )
        path.chmod(0o600)
        return path


@pytest.fixture(scope="session")
def http_env(tmp_path_factory) -> Iterator[HttpEnvironment]:
    """A session-wide server of a directory; tests put their data in subdirectories."""
    directory = tmp_path_factory.mktemp("http-served")
    login, password = "reader", f"pw-{uuid.uuid4().hex}"
    server = StaticFilesEmulator(str(directory), login=login, password=password)
    with server:
        yield HttpEnvironment(server, directory, login, password, server.issue_token())


@pytest.fixture
def no_netrc(monkeypatch, tmp_path) -> Path:
    """NETRC pointing at a file that does not exist (and HOME away from the user's)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(path))
    return path


# --------------------------------------------------------------------------- FTP


@dataclass
class FtpEnvironment:
    port: int
    username: str
    password: str
    home: Path

    def storage_options(self, **changes: Any) -> dict[str, Any]:
        options = {
            "host": HOST,
            "port": self.port,
            "username": self.username,
            "password": self.password,
        }
        return {**options, **changes}

    def store_params(self, root: str, **changes: Any) -> dict[str, Any]:
        return {"root": root, "max_depth": 3, "storage_options": self.storage_options(), **changes}


@pytest.fixture(scope="session")
def ftp_env(tmp_path_factory) -> Iterator[FtpEnvironment]:
    """A pyftpdlib server in a thread, one user with a read/write home directory."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # asyncore, asynchat
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    home = tmp_path_factory.mktemp("ftp-home")
    username, password = "alice", f"pw-{uuid.uuid4().hex}"
    authorizer = DummyAuthorizer()
    authorizer.add_user(username, password, str(home), perm="elradfmwMT")
    handler = type(
        "TestFTPHandler",
        (FTPHandler,),
        {
            "authorizer": authorizer,
            "auth_failed_timeout": 0.01,  # refuse wrong passwords at once
            "banner": "eostores test FTP server",
        },
    )
    server = ThreadedFTPServer((HOST, 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"timeout": 0.05, "blocking": True, "handle_exit": False},
        name="test-ftp-server",
        daemon=True,
    )
    thread.start()
    try:
        yield FtpEnvironment(port, username, password, home)
    finally:
        server.close_all()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- Azure


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "eostores-test" / "azurite"


def azurite_executable() -> Path | str:
    """The ``azurite-blob`` script, installed with npm into the cache directory if needed.

    Returns a reason (str) when it cannot be had.
    """
    directory = _cache_dir()
    executable = directory / "node_modules" / ".bin" / "azurite-blob"
    if executable.exists():
        return executable
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return "Azurite is not installed and npm/node are not available to install it"
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".install-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time
        if executable.exists():
            return executable
        try:
            result = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(directory),
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "azurite",
                ],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"installing Azurite with npm failed: {error}"
    if result.returncode != 0 or not executable.exists():
        return f"installing Azurite with npm failed: {result.stderr.strip()[-500:]}"
    return executable


@dataclass
class AzureEnvironment:
    blob_endpoint: str
    container: str
    account_key: str = AZURITE_KEY

    def connection_string(self, account_key: str | None = None) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={account_key or self.account_key};BlobEndpoint={self.blob_endpoint};"
        )

    def storage_options(self, account_key: str | None = None) -> dict[str, Any]:
        return {"connection_string": self.connection_string(account_key)}

    def store_params(self, **changes: Any) -> dict[str, Any]:
        return {
            "root": self.container,
            "max_depth": 3,
            "storage_options": self.storage_options(),
            **changes,
        }


class AzuriteServer:
    """Azurite's blob service in a subprocess, its data in a temporary directory."""

    def __init__(self, executable: Path, location: Path):
        self.port = free_port()
        self.blob_endpoint = f"http://{HOST}:{self.port}/{AZURITE_ACCOUNT}"
        self.process = subprocess.Popen(
            [
                str(executable),
                "--blobHost",
                HOST,
                "--blobPort",
                str(self.port),
                "--location",
                str(location),
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port, self.process, "Azurite")
        except BaseException:
            stop_process(self.process)
            raise

    def new_environment(self) -> AzureEnvironment:
        from azure.storage.blob import BlobServiceClient

        env = AzureEnvironment(self.blob_endpoint, unique_name("container"))
        with BlobServiceClient.from_connection_string(env.connection_string()) as client:
            client.create_container(env.container)
        return env

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> Iterator[AzuriteServer]:
    executable = azurite_executable()
    if isinstance(executable, str):
        pytest.skip(executable)
    server = AzuriteServer(executable, tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def azure_env(azurite) -> AzureEnvironment:
    """A fresh container on Azurite for one test."""
    return azurite.new_environment()


@pytest.fixture(scope="module")
def azure_module_env(azurite) -> AzureEnvironment:
    """A container shared by the tests of a module."""
    return azurite.new_environment()


# --------------------------------------------------------------------------- references


def write_references(
    dataset: Any, directory: Path, base_url: str | None = None, name: str = "cube"
) -> Path:
    """Write ``dataset`` as kerchunk references (version 1) into one binary file.

    The dataset is written as zarr format 2, its chunk files are concatenated into
    ``<name>.bin`` and the zarr directory is removed, so that every chunk read must follow
    a reference ``[url, offset, length]``. Chunk URLs are the local path of the binary file,
    or ``<base_url>/<name>.bin`` when ``base_url`` is given. Returns the JSON file's path.
    """
    source = directory / f"{name}-source.zarr"
    dataset.to_zarr(source, zarr_format=2, consolidated=False, mode="w")
    blob = directory / f"{name}.bin"
    url = f"{base_url}/{blob.name}" if base_url else str(blob)
    refs: dict[str, Any] = {}
    offset = 0
    with open(blob, "wb") as out:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            key = path.relative_to(source).as_posix()
            content = path.read_bytes()
            if path.name in (".zgroup", ".zattrs", ".zarray"):
                refs[key] = content.decode("utf-8")
            else:
                out.write(content)
                refs[key] = [url, offset, len(content)]
                offset += len(content)
    shutil.rmtree(source)
    ref_path = directory / f"{name}.json"
    ref_path.write_text(json.dumps({"version": 1, "refs": refs}))
    return ref_path


@pytest.fixture(scope="session")
def make_references() -> Any:
    """:func:`write_references`, for test modules (importing this module directly would
    keep pytest from rewriting its asserts)."""
    return write_references
