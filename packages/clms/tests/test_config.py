"""Store parameters and the service key: checked before any request, never shown."""

from __future__ import annotations

import json

import pytest
from eostores_clms.config import load_service_key

from eostores import new_data_store
from eostores.credentials import Secret
from eostores.errors import AuthenticationError, InvalidParameterError

KEY = {
    "client_id": "c-1",
    "user_id": "u-1",
    "token_uri": "https://land.copernicus.eu/@@oauth2-token",
    "private_key": "-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n",
    "key_id": "k",
    "title": "t",
    "issued": "2024-01-01T00:00:00",
}


def test_service_key_from_a_dict_a_file_or_the_environment(tmp_path, monkeypatch):
    key = load_service_key(KEY)
    assert isinstance(key.private_key, Secret) and key.client_id == "c-1"
    assert "TOPSECRET" not in repr(key)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(KEY))
    assert load_service_key(str(path)).source == f"file {str(path)!r}"
    monkeypatch.setenv("CLMS_CREDENTIALS", str(path))
    assert load_service_key(None).user_id == "u-1"
    monkeypatch.delenv("CLMS_CREDENTIALS")
    with pytest.raises(AuthenticationError, match="CLMS_CREDENTIALS"):
        load_service_key(None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({k: v for k, v in KEY.items() if k != "user_id"}, "lacks user_id"),
        ({**KEY, "token_uri": "ftp://x"}, "not an http"),
        ("[1, 2", "not valid JSON"),
        (["a"], "must be a JSON object"),
    ],
)
def test_bad_service_key_files(tmp_path, content, message):
    path = tmp_path / "key.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(AuthenticationError, match=message) as caught:
        load_service_key(str(path))
    assert "TOPSECRET" not in str(caught.value)
    with pytest.raises(AuthenticationError, match="does not exist"):
        load_service_key(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(
    "params",
    [
        {"credentials": {"client_id": "c", "private_key": "TOPSECRETMATERIAL"}},
        {"credentials": 42},
        {"poll_interval": 0},
        {"request_deadline": -1},
        {"link_ttl": "1 day"},
        {"stale_task_age": 0},
        {"api_url": "land.copernicus.eu"},
        {"num_retries": -1},
        {"no_such_parameter": 1},
    ],
)
def test_bad_store_parameters_are_refused_at_construction(params):
    with pytest.raises(InvalidParameterError) as caught:
        new_data_store("clms", **params)
    assert "TOPSECRET" not in str(caught.value)


def test_construction_does_no_io_and_repr_hides_the_key(tmp_path):
    store = new_data_store(
        "clms",
        credentials=KEY,
        api_url="http://127.0.0.1:9/api",
        cache_store_params={"root": str(tmp_path / "cache")},
    )
    assert "TOPSECRET" not in repr(store) and "credentials=***" in repr(store)
    assert not (tmp_path / "cache").exists()
    schema = store.get_data_store_params_schema().to_dict()
    assert schema["properties"]["link_ttl"]["default"] == 86400
    assert schema["properties"]["stale_task_age"]["default"] == 6 * 3600
    assert schema["properties"]["api_url"]["default"] == "https://land.copernicus.eu/api"
    with pytest.raises(InvalidParameterError, match="not a filesystem store"):
        new_data_store("clms", cache_store_id="clms", credentials=KEY).cache_store  # noqa: B018
