"""The store conformance suite applied to every filesystem store."""

from __future__ import annotations

import uuid

import pytest

from eostores import new_data_store
from eostores.testing.conformance import StoreConformance

pytest_plugins = ["fs_servers"]

DATA_ID = "cube.zarr"
OPEN_PARAMS = {"bbox": [0, 0, 40, 40], "time_range": ["2024-01-01", "2024-01-02"]}


class FsConformance(StoreConformance):
    data_id = DATA_ID
    open_params = OPEN_PARAMS
    variables_known_without_requests = False


@pytest.fixture(scope="module")
def file_root(tmp_path_factory, cube):
    root = tmp_path_factory.mktemp("conformance-file")
    new_data_store("file", root=str(root)).write_data(cube, DATA_ID)
    return str(root)


class TestFileStore(FsConformance):
    @pytest.fixture
    def store(self, file_root):
        return new_data_store("file", root=file_root)


@pytest.fixture(scope="module")
def memory_root(cube):
    root = f"/conformance-{uuid.uuid4().hex}"
    new_data_store("memory", root=root).write_data(cube, DATA_ID)
    return root


class TestMemoryStore(FsConformance):
    @pytest.fixture
    def store(self, memory_root):
        return new_data_store("memory", root=memory_root)


@pytest.fixture(scope="module")
def s3_filled(s3_module_env, cube):
    new_data_store("s3", **s3_module_env.store_params()).write_data(cube, DATA_ID)
    return s3_module_env


class TestS3Store(FsConformance):
    @pytest.fixture
    def store(self, s3_filled):
        return new_data_store("s3", **s3_filled.store_params())

    @pytest.fixture
    def secrets(self, s3_filled):
        return [s3_filled.secret_key]

    @pytest.fixture
    def bad_credentials_store(self, s3_filled):
        options = s3_filled.storage_options(secret="wrong-" + s3_filled.secret_key)
        return new_data_store("s3", **s3_filled.store_params(storage_options=options))

    @pytest.fixture
    def store_with_fake_secret(self, s3_filled):
        fake = f"fake-secret-{uuid.uuid4().hex}"
        options = s3_filled.storage_options(secret=fake)
        return new_data_store("s3", **s3_filled.store_params(storage_options=options)), fake


@pytest.fixture(scope="module")
def http_root(http_env, cube):
    name = f"conformance-{uuid.uuid4().hex}"
    new_data_store("file", root=str(http_env.directory / name)).write_data(cube, DATA_ID)
    return http_env.root_url(name)


class TestHttpsStore(FsConformance):
    @pytest.fixture
    def emulator(self, http_env):
        return http_env.server

    @pytest.fixture
    def store(self, http_root, http_env, no_netrc):
        return new_data_store("https", root=http_root, bearer_token=http_env.token)

    @pytest.fixture
    def secrets(self, http_env):
        return [http_env.token, http_env.password]

    @pytest.fixture
    def bad_credentials_store(self, http_root, http_env, no_netrc):
        return new_data_store("https", root=http_root, bearer_token="wrong-" + http_env.token)

    @pytest.fixture
    def store_with_fake_secret(self, http_root, no_netrc):
        fake = f"fake-token-{uuid.uuid4().hex}"
        return new_data_store("https", root=http_root, bearer_token=fake, num_retries=0), fake


@pytest.fixture(scope="module")
def ftp_root(ftp_env, cube):
    root = f"/conformance-{uuid.uuid4().hex[:12]}"
    new_data_store("ftp", **ftp_env.store_params(root)).write_data(cube, DATA_ID)
    return root


class TestFtpStore(FsConformance):
    @pytest.fixture
    def store(self, ftp_env, ftp_root):
        return new_data_store("ftp", **ftp_env.store_params(ftp_root))

    @pytest.fixture
    def secrets(self, ftp_env):
        return [ftp_env.password]

    @pytest.fixture
    def bad_credentials_store(self, ftp_env, ftp_root):
        options = ftp_env.storage_options(password="wrong-password")
        return new_data_store("ftp", **ftp_env.store_params(ftp_root, storage_options=options))


@pytest.fixture(scope="module")
def azure_filled(azure_module_env, cube):
    new_data_store("abfs", **azure_module_env.store_params()).write_data(cube, DATA_ID)
    return azure_module_env


class TestAbfsStore(FsConformance):
    @pytest.fixture
    def store(self, azure_filled):
        return new_data_store("abfs", **azure_filled.store_params())

    @pytest.fixture
    def secrets(self, azure_filled):
        return [azure_filled.account_key]

    @pytest.fixture
    def bad_credentials_store(self, azure_filled):
        wrong_key = azure_filled.account_key[:-2][::-1] + "=="
        options = azure_filled.storage_options(account_key=wrong_key)
        return new_data_store("abfs", **azure_filled.store_params(storage_options=options))


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory, cube, make_references):
    return make_references(cube, tmp_path_factory.mktemp("conformance-reference"))


class TestReferenceStore(FsConformance):
    data_id = "cube"

    @pytest.fixture
    def store(self, reference_file):
        return new_data_store("reference", refs=[str(reference_file)])
