"""The valid combinations of request values (a dataset's ``constraints.json``).

The file is a list of entries, each mapping request keys to the values that may be
combined; a request is valid when every combination of its values lies in some entry.
The store uses it to pick values (the hours an ensemble product has) and to refuse an
invalid request before submitting it, naming the parameters involved.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from eostores.errors import InvalidParameterError

__all__ = ["TEMPORAL_KEYS", "Constraints"]

TEMPORAL_KEYS = ("year", "month", "day", "time")

#: Which open parameter a request key comes from, for messages.
PARAMETER_OF_KEY = {
    "variable": "variable_names",
    "year": "time_range",
    "month": "time_range",
    "day": "time_range",
    "time": "time_period",
}


class Constraints:
    """Queries over the entries of a ``constraints.json`` document."""

    def __init__(self, entries: Sequence[Mapping[str, Sequence[Any]]] | None):
        self.entries = [
            {str(key): {str(v) for v in values} for key, values in entry.items()}
            for entry in entries or []
            if isinstance(entry, Mapping)
        ]
        self.keys = {key for entry in self.entries for key in entry}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def matching(self, selection: Mapping[str, str | None]) -> list[dict[str, set[str]]]:
        """Entries compatible with single values of some keys (None: any value)."""
        return [
            entry
            for entry in self.entries
            if all(
                value is None or key not in entry or value in entry[key]
                for key, value in selection.items()
            )
        ]

    def allowed(
        self, key: str, selection: Mapping[str, Sequence[str]] | None = None
    ) -> set[str] | None:
        """Values of ``key`` valid with every value combination of ``selection``.

        None when the constraints do not restrict ``key``.
        """
        if key not in self.keys:
            return None
        result: set[str] | None = None
        for chosen in _combinations(selection or {}, self.keys - {key}):
            values = {v for entry in self.matching(chosen) for v in entry.get(key, ())}
            result = values if result is None else result & values
        return result if result is not None else set()

    def check(self, request: Mapping[str, Any], *, data_id: str, store_id: str) -> None:
        """Raise InvalidParameterError when ``request`` holds an invalid combination."""
        if not self.entries:
            return
        lists = {key: _as_list(value) for key, value in request.items() if key in self.keys}
        plain = {k: v for k, v in lists.items() if k not in TEMPORAL_KEYS}
        for chosen in _combinations(plain, set(plain)):
            matching = self.matching(chosen)
            if not matching:
                raise InvalidParameterError(
                    _combination_message(chosen, self),
                    store_id=store_id,
                    data_id=data_id,
                    parameter=_parameter(next(iter(chosen), "variable")),
                )
            for key in TEMPORAL_KEYS:
                if key not in lists:
                    continue
                allowed = {v for entry in matching for v in entry.get(key, ())}
                missing = [v for v in lists[key] if v not in allowed]
                if missing and any(key in entry for entry in matching):
                    where = ", ".join(f"{k}={v!r}" for k, v in chosen.items())
                    raise InvalidParameterError(
                        f"{key} {', '.join(missing[:5])} not available"
                        + (f" with {where}" if where else "")
                        + f"; available: {', '.join(sorted(allowed)[:30]) or 'none'} "
                        "(from the dataset's constraints)",
                        store_id=store_id,
                        data_id=data_id,
                        parameter=_parameter(key),
                    )


def _parameter(key: str) -> str:
    return PARAMETER_OF_KEY.get(key, key)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _combinations(
    selection: Mapping[str, Sequence[str]], keys: set[str]
) -> list[dict[str, str | None]]:
    names = [key for key in selection if key in keys]
    if not names:
        return [{}]
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(list(selection[name]) for name in names))
    ]


def _combination_message(chosen: Mapping[str, str | None], constraints: Constraints) -> str:
    """Name the smallest part of ``chosen`` that no entry allows."""
    items = list(chosen.items())
    for size in range(1, len(items) + 1):
        for subset in itertools.combinations(items, size):
            if not constraints.matching(dict(subset)):
                described = " with ".join(f"{_parameter(key)} {value!r}" for key, value in subset)
                return f"{described} is not available (per the dataset's constraints)"
    return "this combination of values is not available (per the dataset's constraints)"
