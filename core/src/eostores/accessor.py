"""Data accessor ids ``<data_type>:<format>:<storage>[:<version>]``: parse, format, match."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .errors import InvalidParameterError

__all__ = ["AccessorId", "format_accessor_id", "parse_accessor_id"]

# Semantic Versioning 2.0.0, https://semver.org
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_PART = re.compile(r"^[A-Za-z0-9_.*?\-]+$")


@dataclass(frozen=True)
class AccessorId:
    """The parts of an opener or writer id such as ``dataset:zarr:s3``."""

    data_type: str
    format: str
    storage: str
    version: str | None = None

    def __str__(self) -> str:
        return format_accessor_id(self.data_type, self.format, self.storage, self.version)

    def matches(
        self,
        data_type: str | None = None,
        format: str | None = None,
        storage: str | None = None,
    ) -> bool:
        """Whether this id matches the given parts; ``None`` and ``*`` match anything."""
        return all(
            pattern is None or fnmatchcase(value, pattern)
            for value, pattern in (
                (self.data_type, data_type),
                (self.format, format),
                (self.storage, storage),
            )
        )

    def matches_pattern(self, pattern: str) -> bool:
        """Whether this id matches a pattern such as ``dataset:*:s3`` (version ignored)."""
        parts = pattern.split(":")
        if len(parts) < 3:
            parts += ["*"] * (3 - len(parts))
        return self.matches(*parts[:3])


def parse_accessor_id(accessor_id: str) -> AccessorId:
    """Parse and validate an accessor id; raise InvalidParameterError naming the bad part."""
    if not isinstance(accessor_id, str):
        raise InvalidParameterError(
            f"an accessor id must be a string, not {type(accessor_id).__name__}",
            parameter="accessor_id",
        )
    parts = accessor_id.split(":")
    if len(parts) not in (3, 4):
        raise InvalidParameterError(
            f"invalid accessor id {accessor_id!r}: expected <data_type>:<format>:<storage>"
            "[:<version>], e.g. 'dataset:zarr:s3'",
            parameter="accessor_id",
        )
    names = ("data_type", "format", "storage")
    for name, part in zip(names, parts[:3], strict=False):
        if not _PART.match(part):
            raise InvalidParameterError(
                f"invalid {name} {part!r} in accessor id {accessor_id!r}",
                parameter="accessor_id",
            )
    version = parts[3] if len(parts) == 4 else None
    if version is not None and not _SEMVER.match(version):
        raise InvalidParameterError(
            f"invalid version {version!r} in accessor id {accessor_id!r}: "
            "must follow Semantic Versioning, e.g. '1.2.0'",
            parameter="accessor_id",
        )
    return AccessorId(parts[0], parts[1], parts[2], version)


def format_accessor_id(
    data_type: str, format: str, storage: str, version: str | None = None
) -> str:
    """Build an accessor id from its parts, validating them."""
    text = f"{data_type}:{format}:{storage}" + (f":{version}" if version else "")
    parse_accessor_id(text)
    return text
