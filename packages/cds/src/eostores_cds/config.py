"""Where the store finds the CDS endpoint and the API key, and where it caches."""

from __future__ import annotations

import os
from pathlib import Path

from eostores.credentials import ConfigSource, Secret, parse_key_value_file, resolve_secret
from eostores.errors import AuthenticationError, InvalidParameterError

__all__ = [
    "DEFAULT_ENDPOINT_URL",
    "STORE_ID",
    "default_cache_dir",
    "resolve_api_key",
    "resolve_endpoint_url",
]

STORE_ID = "cds"
DEFAULT_ENDPOINT_URL = "https://cds.climate.copernicus.eu/api"
PROFILE_URL = "https://cds.climate.copernicus.eu/profile"

_CDSAPIRC = ConfigSource(
    "~/.cdsapirc",
    parse_key_value_file,
    "key",
    description="the cdsapi configuration file",
    env_override="CDSAPI_RC",
)
_DATASTORES_RC = ConfigSource(
    "~/.ecmwfdatastoresrc",
    parse_key_value_file,
    "key",
    description="the ecmwf-datastores-client configuration file",
    env_override="ECMWF_DATASTORES_RC_FILE",
)


def resolve_endpoint_url(explicit: str | None) -> str:
    """The API URL: the parameter, ``CDSAPI_URL``, the ``url`` of ~/.cdsapirc, the public one."""
    url = explicit or os.environ.get("CDSAPI_URL")
    if not url:
        settings = _CDSAPIRC.read() or {}
        url = settings.get("url") or DEFAULT_ENDPOINT_URL
    url = url.rstrip("/")
    if url.endswith("/api/v2"):
        raise InvalidParameterError(
            f"endpoint_url {url!r} is the retired CDS API (v2); use {DEFAULT_ENDPOINT_URL}",
            store_id=STORE_ID,
            parameter="endpoint_url",
        )
    return url


def resolve_api_key(explicit: str | Secret | None) -> Secret:
    """The personal access token: the parameter, env, ~/.cdsapirc, ~/.ecmwfdatastoresrc.

    Keys of the retired API (``UID:KEY``) are refused with a message saying so.
    """
    secret = resolve_secret(
        "cds_api_key",
        explicit=explicit,
        env=["CDSAPI_KEY", "ECMWF_DATASTORES_KEY"],
        config_files=[_CDSAPIRC, _DATASTORES_RC],
        store_id=STORE_ID,
    )
    assert secret is not None
    if ":" in secret.reveal():
        raise AuthenticationError(
            f"the API key from {secret.source} has the form UID:KEY of the retired CDS API; "
            f"the current CDS takes the personal access token shown at {PROFILE_URL}",
            store_id=STORE_ID,
            parameter="cds_api_key",
        )
    return secret


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/eostores/cds`` (``~/.cache/eostores/cds`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eostores" / "cds"
