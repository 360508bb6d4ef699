"""eostores.credentials: resolution order, netrc, messages, and secrets staying hidden."""

from __future__ import annotations

import copy
import io
import logging
import os
import pickle
import subprocess
import sys
from urllib.parse import parse_qsl

import pytest

from eostores.credentials import (
    ConfigSource,
    RedactingFilter,
    Secret,
    install_log_redaction,
    is_secret_name,
    netrc_credentials,
    parse_key_value_file,
    redact_text,
    register_secret,
    resolve_secret,
)
from eostores.errors import AuthenticationError, ServiceError
from eostores.testing import EmulatorServer, Request, Response, route


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty home directory and no credential variables."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("NETRC", "TOY_KEY", "TOY_TOKEN", "TOY_RC"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def toy_rc(path: str = "~/.toyrc") -> ConfigSource:
    return ConfigSource(
        path=path,
        parser=parse_key_value_file,
        key="key",
        description="the toy client's configuration",
        env_override="TOY_RC",
    )


def resolve(**overrides):
    settings = {
        "env": ("TOY_KEY", "TOY_TOKEN"),
        "config_files": (toy_rc(),),
        "netrc_host": "https://toy.example.org/api",
        "store_id": "toy",
    }
    settings.update(overrides)
    return resolve_secret("api_key", **settings)


# --------------------------------------------------------------------------- resolution


def test_resolution_order_parameter_env_file_netrc(home, monkeypatch):
    (home / ".netrc").write_text("machine toy.example.org login bob password from-netrc\n")
    assert resolve().reveal() == "from-netrc"
    (home / ".toyrc").write_text("url: https://toy.example.org/api\nkey: from-file\n")
    assert resolve().reveal() == "from-file"
    monkeypatch.setenv("TOY_TOKEN", "from-second-env")
    assert resolve().reveal() == "from-second-env"
    monkeypatch.setenv("TOY_KEY", "from-first-env")
    found = resolve()
    assert found.reveal() == "from-first-env"
    assert found.source == "environment variable TOY_KEY"
    assert resolve(explicit="from-parameter").reveal() == "from-parameter"
    assert resolve(explicit=Secret("as-secret")).reveal() == "as-secret"


def test_empty_values_count_as_missing(home, monkeypatch):
    monkeypatch.setenv("TOY_KEY", "")
    (home / ".toyrc").write_text("key: from-file\n")
    assert resolve(explicit="").reveal() == "from-file"


def test_config_file_path_override_from_environment(home, monkeypatch, tmp_path):
    other = tmp_path / "elsewhere.rc"
    other.write_text("key = overridden\n")
    (home / ".toyrc").write_text("key: default-file\n")
    monkeypatch.setenv("TOY_RC", str(other))
    assert resolve().reveal() == "overridden"


def test_netrc_login_field_and_netrc_env(home, monkeypatch):
    custom = home / "custom-netrc"
    custom.write_text("machine toy.example.org\n  login user-login\n  password pw-value\n")
    monkeypatch.setenv("NETRC", str(custom))
    assert netrc_credentials("toy.example.org") == ("user-login", "pw-value")
    assert netrc_credentials("https://toy.example.org:8443/x") == ("user-login", "pw-value")
    assert netrc_credentials("other.example.org") is None
    assert resolve(netrc_field="login").reveal() == "user-login"


def test_netrc_explicit_path_and_missing_file(home, tmp_path):
    path = tmp_path / "n"
    path.write_text("default login anyone password any-pw\n")
    assert netrc_credentials("whatever.org", path) == ("anyone", "any-pw")
    assert netrc_credentials("whatever.org", tmp_path / "absent") is None


def test_malformed_netrc_is_an_authentication_error_without_values(home):
    (home / ".netrc").write_text("frobnicate nr-secret-value\n")
    with pytest.raises(AuthenticationError) as info:
        netrc_credentials("toy.example.org")
    assert str(home / ".netrc") in str(info.value)
    assert "line 1" in str(info.value)
    assert "frobnicate" not in str(info.value)


def test_missing_credential_lists_every_place_looked_at(home):
    with pytest.raises(AuthenticationError) as info:
        resolve()
    message = str(info.value)
    for place in (
        "'api_key'",
        "TOY_KEY",
        "TOY_TOKEN",
        str(home / ".toyrc"),
        "TOY_RC",
        "toy.example.org",
        str(home / ".netrc"),
    ):
        assert place in message
    assert message.startswith("store 'toy'")
    assert info.value.parameter == "api_key"


def test_not_required_returns_none(home):
    assert resolve(required=False) is None


def test_parse_key_value_file():
    text = "# comment\nurl: https://cds.example/api\n\nkey:  abc:def \nother = 3\nnot a pair\n"
    assert parse_key_value_file(text) == {
        "url": "https://cds.example/api",
        "key": "abc:def",
        "other": "3",
    }


# --------------------------------------------------------------------------- Secret


def test_secret_hides_its_value_in_every_rendering():
    secret = Secret("hidden-value-1")
    renderings = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>30}",
        "%s %r" % (secret, secret),  # noqa: UP031
        "{}".format(secret),  # noqa: UP032
        repr({"api_key": secret}),
        repr([secret]),
    ]
    for text in renderings:
        assert "hidden-value-1" not in text
        assert "***" in text
    assert secret.reveal() == "hidden-value-1"


def test_secret_equality_hash_and_copies():
    assert Secret("same-value") == Secret("same-value")
    assert Secret("same-value") != Secret("other-value")
    assert Secret("same-value") != "same-value"
    assert len({Secret("same-value"), Secret("same-value")}) == 1
    assert copy.deepcopy(Secret("same-value")) == Secret("same-value")
    assert not Secret("")


def test_secret_pickle_round_trip_keeps_value_but_not_in_plain_text():
    secret = Secret("pickled-secret-2", source="parameter 'key'")
    data = pickle.dumps({"store_params": {"key": secret}})
    assert b"pickled-secret-2" not in data
    restored = pickle.loads(data)["store_params"]["key"]
    assert restored == secret
    assert restored.reveal() == "pickled-secret-2"
    assert restored.source == "parameter 'key'"


def test_exception_message_with_secret_survives_pickling_hidden():
    secret = Secret("exception-secret-3")
    error = ServiceError(f"login failed with {secret}", status=401, url="https://x")
    restored = pickle.loads(pickle.dumps(error))
    assert "exception-secret-3" not in str(restored)
    assert "exception-secret-3" not in repr(restored)


def test_registered_secrets_are_redacted_from_text():
    Secret("text-secret/4+")
    text = "a text-secret/4+ b text-secret%2F4%2B c text-secret%2F4%2B"
    assert redact_text(text) == "a *** b *** c ***"
    register_secret("abc")  # too short to register safely
    assert redact_text("abc") == "abc"


def test_a_secret_containing_another_is_hidden_whole_in_any_order_of_registration():
    register_secret("inner-secret-7")
    register_secret("outer-inner-secret-7-tail")
    register_secret("x-outer-inner-secret-7-tail-x-y")
    text = "1 outer-inner-secret-7-tail 2 inner-secret-7 3 x-outer-inner-secret-7-tail-x-y 4"
    assert redact_text(text) == "1 *** 2 *** 3 *** 4"


def test_every_one_of_many_renewed_tokens_stays_hidden():
    tokens = [f"renewed-token-{i:04d}-{'q' * (i % 7)}" for i in range(600)]
    for token in tokens:
        Secret(token, source="token endpoint")
    text = " | ".join(tokens[::37])
    assert redact_text(text) == " | ".join("***" for _ in tokens[::37])


def test_logging_redacts_registered_secrets_in_messages_args_and_tracebacks(caplog):
    secret = Secret("log-secret-5")
    install_log_redaction()
    logger = logging.getLogger("eostores.some.store")
    with caplog.at_level(logging.DEBUG, logger="eostores"):
        logger.info("token is %s", secret.reveal())
        logger.warning(f"inline {secret.reveal()}")
        try:
            raise RuntimeError(f"failed with {secret.reveal()}")
        except RuntimeError:
            logger.exception("request failed")
    assert "log-secret-5" not in caplog.text
    assert caplog.text.count("***") >= 3


def test_redacting_filter_on_other_loggers(caplog):
    secret = Secret("foreign-secret-6")
    foreign = logging.getLogger("some.library")
    foreign.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="some.library"):
            foreign.info("header %s", {"Authorization": f"Bearer {secret.reveal()}"})
    finally:
        foreign.filters.clear()
    assert "foreign-secret-6" not in caplog.text
    assert "Bearer ***" in caplog.text


# --------------------------------------------------------------------------- secret names


@pytest.mark.parametrize(
    "name",
    [
        "client_secret",
        "password",
        "api_key",
        "X-API-Key",
        "accessToken",
        "refresh_token",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "sig",
        "Authorization",
        "PRIVATE-TOKEN",
        "aws_secret_access_key",
        "credentials",
        "connection_string",
    ],
)
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["key_id", "token_url", "monkey", "keywords", "X-Amz-Date", "variable_names", "bbox"]
)
def test_ordinary_names(name):
    assert not is_secret_name(name)


def test_one_secret_test_for_parameters_schemas_and_urls():
    from eostores.http import redact_url
    from eostores.schema import JsonObjectSchema, JsonStringSchema
    from eostores.store import is_secret_parameter

    assert is_secret_parameter is is_secret_name
    schema = JsonObjectSchema(
        properties=dict(accessToken=JsonStringSchema(min_length=50)), additional_properties=False
    )
    with pytest.raises(ValueError) as info:
        schema.validate_instance({"accessToken": "short-secret-value"})
    assert "short-secret-value" not in str(info.value)
    assert redact_url("https://h/p?accessToken=abc&page=2") == "https://h/p?accessToken=***&page=2"


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        (
            "grant_type=client_credentials&client_id=app&client_secret=body-secret-1",
            "client_id=app",
            "body-secret-1",
        ),
        ("{'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "'Basic ***'", "dXNlcjpw"),
        ('{"access_token":"eyJhbGciOi.x-y","token_type":"Bearer"}', '"token_type"', "eyJhbGci"),
        ("GDAL: header.Authorization=Bearer gdal-token-2 set", "Bearer ***", "gdal-token-2"),
        ("X-API-Key: header-key-3\r\nAccept: */*", "Accept: */*", "header-key-3"),
        ("https://user:pw-4@host/p?sig=sas-sig-5&sv=2", "sv=2", "sas-sig-5"),
        ("Basic information about the password=hunter22", "Basic information", "hunter22"),
    ],
)
def test_redact_text_patterns(text, shown, hidden):
    redacted = redact_text(text)
    assert shown in redacted
    assert hidden not in redacted


_OAUTH_SCRIPT = """
import logging, sys
ORDER = sys.argv[2]
if ORDER == "before":
    logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)
import eostores.http
if ORDER == "after":
    logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session
url = sys.argv[1]
session = OAuth2Session(client=BackendApplicationClient(client_id="app-id"))
token = session.fetch_token(
    token_url=url + "/oauth/token?api_key=query-secret-1",
    client_id="app-id",
    client_secret="oauth-client-secret-2",
    include_client_id=True,
)
assert token["access_token"] == "issued-access-token-3"
session.get(url + "/private")
for name, message in [
    ("rasterio._env", "CPLE_AppDefined: HTTP options: header.Authorization=Bearer gdal-token-4"),
    ("botocore.endpoint", "Sending http request: <AWSPreparedRequest headers={'Authorization': "
     "b'AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=aws-signature-5'}>"),
    ("fsspec.http", "GET https://h/f.nc?X-Amz-Security-Token=fsspec-token-6 headers "
     "{'Authorization': 'Bearer fsspec-bearer-7'}"),
    ("aiohttp.client", "request headers: {'Authorization': 'Basic YWxhZGRpbjpvcGVuc2VzYW1l'}"),
]:
    logging.getLogger(name).debug(message)
print("DONE")
"""


class OAuthEmulator(EmulatorServer):
    name = "oauth"

    @route("POST", r"/oauth/token")
    def token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        if form.get("client_secret") != "oauth-client-secret-2":
            return Response.json({"error": "invalid_client"}, 401)
        return Response.json(
            {"access_token": "issued-access-token-3", "token_type": "Bearer", "expires_in": 3600}
        )

    @route("GET", r"/private")
    def private(self, request: Request) -> Response:
        return Response.json({"ok": request.bearer_token == "issued-access-token-3"})


@pytest.mark.parametrize("order", ["before", "after"])
def test_third_party_debug_logs_are_redacted(order):
    with OAuthEmulator() as emulator:
        result = subprocess.run(
            [sys.executable, "-c", _OAUTH_SCRIPT, emulator.url, order],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1"},
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "DONE" in output
    assert "requests_oauthlib" in output and "urllib3" in output  # the records were logged
    for secret in (
        "query-secret-1",
        "oauth-client-secret-2",
        "issued-access-token-3",
        "gdal-token-4",
        "aws-signature-5",
        "fsspec-token-6",
        "fsspec-bearer-7",
        "YWxhZGRpbjpvcGVuc2VzYW1l",
    ):
        assert secret not in output, secret
    assert "client_secret=***" in output


def test_handlers_added_after_installation_get_redacted_records():
    install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("urllib3.connectionpool")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug('"GET /data?token=%s HTTP/1.1" 200 10', "late-handler-secret")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert "late-handler-secret" not in stream.getvalue()
    assert "token=***" in stream.getvalue()
