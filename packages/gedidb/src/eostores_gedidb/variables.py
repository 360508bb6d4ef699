"""What the store knows of the database's variables and extent (plain data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = ["ArrayInfo", "Domain", "ProfileInfo", "VariableInfo"]

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class ProfileInfo:
    """The profile of a variable: its dimension, labels and TileDB attributes (in order)."""

    dim: str
    labels: tuple[int, ...]
    label_name: str | None
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class VariableInfo:
    """A variable of the array: name, product level, dtype, units, description, profile."""

    name: str
    product_level: str
    dtype: str
    units: str = ""
    description: str = ""
    profile: ProfileInfo | None = None

    @property
    def attributes(self) -> tuple[str, ...]:
        """The TileDB attributes holding the variable."""
        return self.profile.attributes if self.profile else (self.name,)

    @property
    def dims(self) -> tuple[str, ...]:
        return ("shot_number", self.profile.dim) if self.profile else ("shot_number",)

    def attrs(self) -> dict[str, str]:
        """The attributes of the variable in a dataset."""
        attrs = {
            "units": self.units,
            "description": self.description,
            "product_level": self.product_level,
        }
        if self.profile is not None and self.profile.label_name:
            attrs["profile_label_name"] = self.profile.label_name
        return {k: v for k, v in attrs.items() if v}


@dataclass(frozen=True)
class Domain:
    """The array's domain: latitude and longitude in degrees, time in days since 1970."""

    latitude: tuple[float, float]
    longitude: tuple[float, float]
    time: tuple[int, int]

    def dates(self) -> tuple[date, date]:
        """First and last day of the time domain."""
        return (_EPOCH + timedelta(days=self.time[0]), _EPOCH + timedelta(days=self.time[1]))


@dataclass(frozen=True)
class ArrayInfo:
    """The variables (confined: identifiers backed by attributes) and domain of the array."""

    variables: dict[str, VariableInfo]
    domain: Domain
    skipped: tuple[str, ...] = field(default=())

    def names(self, level: str) -> list[str]:
        """The variables of a product level (every variable for ``all``), in array order."""
        return [
            name
            for name, variable in self.variables.items()
            if level == "all" or variable.product_level == level
        ]

    def scalar_names(self) -> list[str]:
        """The variables without a profile (those quality filters may name)."""
        return [name for name, variable in self.variables.items() if variable.profile is None]
