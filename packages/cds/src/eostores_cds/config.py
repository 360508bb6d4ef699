"""The store's settings: endpoint, API key, HTTP behaviour and cache folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eostores.credentials import ConfigSource, Secret, parse_key_value_file, resolve_secret
from eostores.errors import AuthenticationError, InvalidParameterError
from eostores.http import HttpConfig

__all__ = [
    "DEFAULT_CALL_DEADLINE",
    "DEFAULT_ENDPOINT_URL",
    "HTTP_DEFAULTS",
    "STORE_ID",
    "cache_dir",
    "http_config",
    "resolve_api_key",
    "resolve_endpoint_url",
]

STORE_ID = "cds"
DEFAULT_ENDPOINT_URL = "https://cds.climate.copernicus.eu/api"
PROFILE_URL = "https://cds.climate.copernicus.eu/profile"

#: The store's defaults of the core's HTTP parameters (the others keep the core's).
HTTP_DEFAULTS: dict[str, Any] = {"num_retries": 200}
#: Default of ``call_deadline``: one call may wait this long, the CDS job queue included.
DEFAULT_CALL_DEADLINE = 6 * 3600.0

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


def http_config(params: Mapping[str, Any]) -> HttpConfig:
    """The HTTP settings of the store parameters (the core's names and meaning)."""
    return HttpConfig.from_params(params, store_id=STORE_ID)


def cache_dir(params: Mapping[str, Any]) -> Path:
    """The ``cache_dir`` parameter, else the core's default folder of the store."""
    from eostores.cache import default_cache_dir

    explicit = params.get("cache_dir")
    return Path(os.path.expanduser(explicit)) if explicit else Path(default_cache_dir(STORE_ID))
