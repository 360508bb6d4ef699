"""eostores.credentials: resolution order, netrc, messages, and secrets staying hidden."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

from eostores.credentials import (
    ConfigSource,
    RedactingFilter,
    Secret,
    install_log_redaction,
    netrc_credentials,
    parse_key_value_file,
    redact_text,
    register_secret,
    resolve_secret,
)
from eostores.errors import AuthenticationError, ServiceError


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
