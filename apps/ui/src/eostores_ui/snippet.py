"""The Python that reproduces what was done in the browser.

Secrets are never written into the snippet: each is read from an environment variable
named after the store and the parameter (``CDS_API_KEY``, ``STAC_SECRET``), which the
snippet's comment names.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from eostores.credentials import is_secret_name

__all__ = ["python_snippet", "secret_variable"]

_WIDTH = 88


def secret_variable(store_id: str, name: str) -> str:
    """The environment variable a snippet reads the secret parameter ``name`` from."""
    prefix = re.sub(r"[^A-Z0-9]+", "_", store_id.upper()).strip("_")
    word = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")
    return word if word.startswith(prefix + "_") else f"{prefix}_{word}"


def _literal(value: Any) -> str:
    """A Python literal of a JSON value."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


class _Secrets:
    """Writes store parameters, putting an environment lookup in place of each secret."""

    def __init__(self, store_id: str, secret_names: Collection[str]):
        self.store_id = store_id
        self.secret_names = set(secret_names)
        self.variables: list[str] = []

    def is_secret(self, name: str) -> bool:
        return name in self.secret_names or is_secret_name(name)

    def lookup(self, path: str) -> str:
        variable = secret_variable(self.store_id, path)
        if variable not in self.variables:
            self.variables.append(variable)
        return f"os.environ[{variable!r}]"

    def literal(self, name: str, value: Any, path: str) -> str:
        if value is not None and self.is_secret(name) and not isinstance(value, Mapping):
            return self.lookup(path)
        if isinstance(value, Mapping):
            items = (
                f"{_literal(k)}: {self.literal(str(k), v, f'{path}_{k}')}" for k, v in value.items()
            )
            return "{" + ", ".join(items) + "}"
        return _literal(value)


def _call(head: str, arguments: list[str]) -> str:
    line = f"{head}({', '.join(arguments)})"
    if len(line) <= _WIDTH or not arguments:
        return line
    inner = "".join(f"    {argument},\n" for argument in arguments)
    return f"{head}(\n{inner})"


def python_snippet(
    store_id: str,
    store_params: Mapping[str, Any],
    data_id: str,
    open_params: Mapping[str, Any],
    *,
    data_type: str | None = None,
    secret_names: Collection[str] = (),
) -> str:
    """``new_data_store(...)`` and ``open_data(...)`` with the parameters given.

    Parameters named in ``secret_names`` or whose names say they hold a secret (also
    inside dicts, such as HTTP headers) are read from the environment instead.
    """
    secrets = _Secrets(store_id, secret_names)
    store_args = [_literal(store_id)]
    for name, value in store_params.items():
        store_args.append(f"{name}={secrets.literal(name, value, name)}")
    open_args = [_literal(data_id)]
    if data_type:
        open_args.append(f"data_type={data_type!r}")
    open_args.extend(f"{name}={_literal(value)}" for name, value in open_params.items())
    lines = []
    if secrets.variables:
        lines += ["import os", ""]
    lines += ["from eostores import new_data_store", ""]
    if secrets.variables:
        lines.append(f"# secrets are read from the environment: set {', '.join(secrets.variables)}")
    lines.append(_call("store = new_data_store", store_args))
    lines.append(_call("ds = store.open_data", open_args))
    return "\n".join(lines) + "\n"
