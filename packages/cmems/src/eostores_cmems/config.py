"""Store parameters, defaults, endpoints and where credentials are found."""

from __future__ import annotations

import base64
import configparser
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eostores.credentials import ConfigSource, Secret, resolve_secret
from eostores.errors import InvalidParameterError

__all__ = [
    "AUTH_CLIENT_ID",
    "AUTH_SCOPE",
    "DEFAULT_AUTH_URL",
    "DEFAULT_CATALOGUE_TTL",
    "DEFAULT_CONFIG_URL",
    "HTTP_DEFAULTS",
    "OPENER_ID",
    "RETIRED_PARAMETERS",
    "STORE_ID",
    "cache_root",
    "check_url",
    "credential_sources",
    "resolve_password",
    "resolve_username",
]

STORE_ID = "cmems"
OPENER_ID = "dataset:zarr:cmems"

#: The toolbox's public client configuration (catalogue locations, client versions).
DEFAULT_CONFIG_URL = "https://s3.waw3-1.cloudferro.com/mdl-metadata/clientsConfigV1.json"
#: The OpenID Connect endpoints of the Copernicus Marine authentication system.
DEFAULT_AUTH_URL = "https://auth.marine.copernicus.eu/realms/MIS/protocol/openid-connect"
#: The client id and scope the toolbox logs in with.
AUTH_CLIENT_ID = "toolbox"
AUTH_SCOPE = "openid profile email"

#: Seconds a catalogue walk stays valid on disk: one walk a day.
DEFAULT_CATALOGUE_TTL = 86400.0

#: Retry defaults: ARCO chunk reads are small GETs, so retry briskly and often.
HTTP_DEFAULTS: dict[str, Any] = {
    "num_retries": 5,
    "retry_backoff_base": 0.5,
    "retry_backoff_max": 30.0,
    "max_concurrency_per_host": 16,
}
#: Statuses retried on every GET (and on the token POST, which is safe to repeat).
RETRY_STATUSES = (429, 500, 502, 503, 504)

#: Parameters of the retired CMEMS services, refused with what replaced them.
RETIRED_PARAMETERS: dict[str, str] = {
    "cas_url": "the CAS login of the retired CMEMS service was replaced by the Copernicus "
    "Marine authentication system; use 'auth_url' (default "
    f"{DEFAULT_AUTH_URL!r}) with 'cmems_username' and 'cmems_password'",
    "csw_url": "the CSW catalogue of the retired CMEMS service was replaced by the STAC "
    "catalogue named in the client configuration; use 'config_url' (default "
    f"{DEFAULT_CONFIG_URL!r})",
    "databases": "the 'nrt'/'my' databases of the retired CMEMS service are gone: near "
    "real time and multi-year datasets are distinct data ids of one catalogue now",
    "server": "the THREDDS OPeNDAP server of the retired CMEMS service was replaced by the "
    "ARCO Zarr services listed in the STAC catalogue; use 'config_url'",
}

USERNAME_ENV = ("COPERNICUSMARINE_SERVICE_USERNAME", "CMEMS_USERNAME")
PASSWORD_ENV = ("COPERNICUSMARINE_SERVICE_PASSWORD", "CMEMS_PASSWORD")
CREDENTIALS_DIRECTORY_ENV = "COPERNICUSMARINE_CREDENTIALS_DIRECTORY"
CREDENTIALS_FILENAME = ".copernicusmarine-credentials"


def check_url(value: Any, parameter: str) -> str:
    """``value`` if it is an http(s) URL with a host, else InvalidParameterError."""
    from urllib.parse import urlsplit

    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError(
            f"{parameter} = {value!r}: must be an http or https URL with a host",
            store_id=STORE_ID,
            parameter=parameter,
        )
    return value.rstrip("/") if parameter == "auth_url" else value


def refuse_retired(params: Mapping[str, Any]) -> None:
    """Refuse the parameters of the retired service, saying what replaced them."""
    for name, advice in RETIRED_PARAMETERS.items():
        if params.get(name) is not None:
            raise InvalidParameterError(
                f"{name!r} belongs to the retired CMEMS service: {advice}",
                store_id=STORE_ID,
                parameter=name,
            )


def cache_root(cache_dir: str | None, config_url: str) -> Path:
    """The cache folder of one catalogue: below ``cache_dir``, keyed by the config URL."""
    if cache_dir:
        base = Path(os.path.expanduser(cache_dir))
    else:
        from eostores.cache import default_cache_dir

        base = Path(default_cache_dir(STORE_ID))
    digest = hashlib.sha256(config_url.encode("utf-8")).hexdigest()[:16]
    return base / f"catalogue-{digest}"


def _parse_toolbox_credentials(text: str) -> dict[str, str]:
    """The toolbox's credentials file: base64 of an INI file with a [credentials] section."""
    try:
        decoded = base64.standard_b64decode(text.strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("not base64-encoded") from error
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(decoded)
    except configparser.Error as error:
        raise ValueError("not an INI file") from error
    if not parser.has_section("credentials"):
        return {}
    return dict(parser.items("credentials"))


def credential_sources(key: str) -> list[ConfigSource]:
    """The toolbox's credentials file, in its folder (``$COPERNICUSMARINE_CREDENTIALS_DIRECTORY``
    or ``~/.copernicusmarine``)."""
    folder = os.environ.get(CREDENTIALS_DIRECTORY_ENV) or "~/.copernicusmarine"
    return [
        ConfigSource(
            path=os.path.join(folder, CREDENTIALS_FILENAME),
            parser=_parse_toolbox_credentials,
            key=key,
            description="written by 'copernicusmarine login'",
        )
    ]


def resolve_username(explicit: str | None) -> Secret:
    """The user name: parameter, environment, the toolbox's credentials file."""
    secret = resolve_secret(
        "cmems_username",
        explicit=explicit,
        env=USERNAME_ENV,
        config_files=credential_sources("username"),
        store_id=STORE_ID,
    )
    assert secret is not None
    return secret


def resolve_password(explicit: str | Secret | None) -> Secret:
    """The password: parameter, environment, the toolbox's credentials file."""
    secret = resolve_secret(
        "cmems_password",
        explicit=explicit,
        env=PASSWORD_ENV,
        config_files=credential_sources("password"),
        store_id=STORE_ID,
    )
    assert secret is not None
    return secret
