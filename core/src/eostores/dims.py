"""The names spatial and time dimensions go by, and how to find them in a dataset."""

from __future__ import annotations

from typing import Any

__all__ = ["TIME_NAMES", "X_NAMES", "Y_NAMES", "find_dim"]

X_NAMES = ("lon", "longitude", "x")
Y_NAMES = ("lat", "latitude", "y")
TIME_NAMES = ("time", "t", "valid_time")


def find_dim(dataset: Any, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that is a 1-D coordinate of ``dataset``."""
    for name in names:
        if name in dataset.coords and dataset[name].ndim == 1:
            return name
    return None
