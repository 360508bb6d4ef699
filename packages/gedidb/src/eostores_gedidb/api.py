"""Reading the gedidb TileDB array through gedidb's own ``GEDIProvider``.

Each thread gets its own provider (a provider keeps one open array handle, and TileDB
array handles are not shared between threads here). The provider's TileDB context gets
the store's retry and timeout settings; everything else is gedidb's: unsigned S3 reads
(``vfs.s3.no_sign_request``), path-style addressing, the endpoint as given (an
``http://`` endpoint overrides gedidb's ``https`` scheme).

TileDB and gedidb failures become :mod:`eostores.errors` exceptions that name the
parameter at fault (``bucket``, ``endpoint_url``) and carry TileDB's own message.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
)
from eostores.http import HttpConfig

from .config import STORE_ID, tiledb_settings

__all__ = ["GediArray", "RawMetadata", "tiledb_errors"]

_HTTP_STATUS = re.compile(r"HTTP Response Code: (\d{3})")
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class RawMetadata:
    """The array's metadata as read: variable entries, attribute dtypes and the domain."""

    entries: dict[str, dict[str, Any]]
    attributes: dict[str, str]
    domain: dict[str, tuple[Any, Any]]


class GediArray:
    """The gedidb array of ``bucket`` at ``endpoint_url``; no I/O until first used."""

    def __init__(self, endpoint_url: str, bucket: str, region: str, http: HttpConfig):
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self.region = region
        self.http = http
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"GediArray(endpoint_url={self.endpoint_url!r}, bucket={self.bucket!r})"

    def provider(self) -> Any:
        """This thread's ``gedidb.GEDIProvider`` (created without I/O)."""
        provider = getattr(self._local, "provider", None)
        if provider is None:
            import tiledb
            from gedidb import GEDIProvider

            provider = GEDIProvider(
                storage_type="s3", s3_bucket=self.bucket, url=self.endpoint_url, region=self.region
            )
            config = provider.ctx.config()
            config.update(tiledb_settings(self.http))
            provider.ctx = tiledb.Ctx(config)
            self._local.provider = provider
        return provider

    def read_metadata(self) -> RawMetadata:
        """The variables' metadata (``get_available_variables``) and the array schema."""
        import tiledb

        with tiledb_errors(self):
            provider = self.provider()
            frame = provider.get_available_variables()
            schema = tiledb.ArraySchema.load(provider.scalar_array_uri, ctx=provider.ctx)
        entries: dict[str, dict[str, Any]] = {}
        for name, row in frame.to_dict(orient="index").items():
            entries[str(name)] = {str(k): v for k, v in row.items() if not _missing(v)}
        attributes = {}
        for index in range(schema.nattr):
            attribute = schema.attr(index)
            attributes[attribute.name] = "object" if attribute.isvar else str(attribute.dtype)
        domain = {}
        for index in range(schema.domain.ndim):
            dim = schema.domain.dim(index)
            low, high = dim.domain
            domain[dim.name] = (
                low.item() if hasattr(low, "item") else low,
                high.item() if hasattr(high, "item") else high,
            )
        return RawMetadata(entries, attributes, domain)

    def query_box(
        self,
        variables: Sequence[str],
        bbox: Sequence[float],
        start: str | None,
        end: str | None,
        filters: Mapping[str, str],
    ) -> dict[str, Any] | None:
        """The shots in ``bbox`` (inclusive) and the day range; None if there are none."""
        import geopandas as gpd
        from shapely.geometry import box

        geometry = gpd.GeoDataFrame(geometry=[box(*bbox)], crs="EPSG:4326")
        with tiledb_errors(self):
            data, _, _ = self.provider().query_data(
                list(variables), geometry, start, end, use_polygon_filter=False, **filters
            )
        return data or None

    def query_nearest(
        self,
        variables: Sequence[str],
        point: tuple[float, float],
        num_shots: int,
        radius: float,
        start: str | None,
        end: str | None,
        filters: Mapping[str, str],
    ) -> dict[str, Any] | None:
        """The ``num_shots`` shots nearest to ``point`` within ``radius`` degrees, or None."""
        with tiledb_errors(self):
            data, _, _ = self.provider().query_nearest_shots(
                list(variables), tuple(point), num_shots, radius, start, end, **filters
            )
        return data or None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@contextlib.contextmanager
def tiledb_errors(array: GediArray) -> Iterator[None]:
    """Turn TileDB and gedidb failures into DataStoreErrors naming the parameter at fault."""
    import tiledb

    try:
        yield
    except DataStoreError:
        raise
    except tiledb.TileDBError as error:
        if "query_condition" in str(error) or "QueryCondition" in str(error):
            raise InvalidParameterError(
                f"TileDB refused a quality filter: {_short(str(error))}",
                store_id=STORE_ID,
                parameter="quality_filters",
            ) from error
        raise _tiledb_failure(error, array) from error
    except ValueError as error:
        raise InvalidParameterError(
            f"gedidb refused the query: {_short(str(error))}", store_id=STORE_ID
        ) from error


def _short(text: str) -> str:
    text = " ".join(text.split())
    text = text.split(" [Headers:", 1)[0]
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def _tiledb_failure(error: Exception, array: GediArray) -> DataStoreError:
    text = str(error)
    message = _short(text)
    where = f"bucket {array.bucket!r} at {array.endpoint_url}"
    match = _HTTP_STATUS.search(text)
    status = int(match.group(1)) if match else None
    lowered = text.lower()
    if status in (401, 403):
        return AuthenticationError(
            f"{where} refused anonymous reading: {message}", store_id=STORE_ID, parameter="bucket"
        )
    if status == 404 or "does not exist" in lowered or "nosuchbucket" in lowered:
        return DataNotFoundError(
            f"no gedidb array in {where}: {message}", store_id=STORE_ID, parameter="bucket"
        )
    if status == 429:
        return QuotaExceededError(
            f"{where} throttled the reads: {message}",
            status=status,
            url=array.endpoint_url,
            store_id=STORE_ID,
            parameter="endpoint_url",
        )
    if "timeout" in lowered or "timed out" in lowered:
        return DataStoreTimeoutError(
            f"reading {where} timed out: {message}", store_id=STORE_ID, parameter="endpoint_url"
        )
    return ServiceError(
        f"reading {where} failed: {message}",
        status=status,
        url=array.endpoint_url,
        store_id=STORE_ID,
        parameter="endpoint_url",
    )
