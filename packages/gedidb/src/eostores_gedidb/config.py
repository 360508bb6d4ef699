"""The store's settings: endpoints, bucket, product levels, HTTP and TileDB behaviour."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eostores.http import HttpConfig

__all__ = [
    "ARRAY_NAME",
    "COORDINATE_NAMES",
    "DATA_IDS",
    "DEFAULT_BUCKET",
    "DEFAULT_CMR_URL",
    "DEFAULT_ENDPOINT_URL",
    "DEFAULT_REGION",
    "GEDIDB_REQUEST_TIMEOUT",
    "HTTP_DEFAULTS",
    "LEVEL_CONCEPT_IDS",
    "LEVEL_TITLES",
    "STORE_ID",
    "cache_dir",
    "http_config",
    "tiledb_settings",
]

STORE_ID = "gedidb"

#: The public S3 endpoint of the GFZ object store that serves the gedidb database.
DEFAULT_ENDPOINT_URL = "https://s3.gfz-potsdam.de"
#: The public bucket holding the global gedidb TileDB array (GEDI L2A-L4C, version 2).
DEFAULT_BUCKET = "dog-ext.gedidb.gedi-l2-l4-v002.0"
DEFAULT_REGION = "eu-central-1"
#: NASA's Common Metadata Repository search API (collection metadata of each level).
DEFAULT_CMR_URL = "https://cmr.earthdata.nasa.gov/search"

#: The array's name inside the bucket, fixed by gedidb.
ARRAY_NAME = "array_uri"
#: Dimensions of the array and the shot index gedidb always reads; never data variables.
COORDINATE_NAMES = ("latitude", "longitude", "time", "shot_number")

#: Product level of each data id; ``all`` combines every level.
LEVEL_TITLES: dict[str, str] = {
    "L2A": "GEDI L2A: geolocated waveforms and relative height metrics",
    "L2B": "GEDI L2B: canopy cover and vertical profile metrics",
    "L4A": "GEDI L4A: footprint aboveground biomass density",
    "L4C": "GEDI L4C: waveform structural complexity index",
}
#: CMR concept ids of the NASA collections each level was ingested from.
LEVEL_CONCEPT_IDS: dict[str, str] = {
    "L2A": "C2142771958-LPCLOUD",
    "L2B": "C2142776747-LPCLOUD",
    "L4A": "C2237824918-ORNL_CLOUD",
    "L4C": "C3049900163-ORNL_CLOUD",
}
DATA_IDS: tuple[str, ...] = (*LEVEL_TITLES, "all")

#: The store's defaults of the core's HTTP parameters (the others keep the core's).
HTTP_DEFAULTS: dict[str, Any] = {"num_retries": 5, "read_timeout": 120.0}
#: Seconds gedidb itself gives one S3 request of TileDB: tiles of the global array are large.
GEDIDB_REQUEST_TIMEOUT = 600.0


def http_config(params: Mapping[str, Any]) -> HttpConfig:
    """The HTTP settings of the store parameters (the core's names and meaning)."""
    return HttpConfig.from_params(params, store_id=STORE_ID)


def cache_dir(params: Mapping[str, Any]) -> Path:
    """The ``cache_dir`` parameter, else the core's default folder of the store."""
    from eostores.cache import default_cache_dir

    explicit = params.get("cache_dir")
    return Path(os.path.expanduser(explicit)) if explicit else Path(default_cache_dir(STORE_ID))


def tiledb_settings(config: HttpConfig) -> dict[str, str]:
    """TileDB S3 settings carrying the store's retry and timeout parameters.

    TileDB retries failed S3 requests itself (``connect_max_tries`` attempts, waits growing
    from ``connect_scale_factor`` milliseconds), so a read is bounded by the number of
    attempts times the connect and request timeouts plus the waits. One request may take
    ``read_timeout``, but no less than gedidb's own :data:`GEDIDB_REQUEST_TIMEOUT` and no
    more than the store's ``deadline``.
    """
    request_timeout = max(config.read_timeout, GEDIDB_REQUEST_TIMEOUT)
    if config.deadline is not None:
        request_timeout = min(request_timeout, config.deadline)
    return {
        "vfs.s3.connect_max_tries": str(config.num_retries + 1),
        "vfs.s3.connect_scale_factor": str(max(1, round(config.retry_backoff_base * 1000))),
        "vfs.s3.connect_timeout_ms": str(max(1, round(config.connect_timeout * 1000))),
        "vfs.s3.request_timeout_ms": str(max(1, round(request_timeout * 1000))),
    }
