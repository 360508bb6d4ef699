"""Named, configured store instances kept in one place: a store pool.

A pool maps instance ids to :class:`DataStoreConfig` (store id, store parameters, title,
description). It is read from a dict, or a JSON or YAML file, and creates each store the
first time it is asked for, then shares that instance. ``get_data_store_instance`` takes
either a store id with parameters or ``"@<instance id>"`` naming a pool entry.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eostores.errors import DataNotFoundError, InvalidParameterError
from eostores.schema import JsonObjectSchema, JsonStringSchema
from eostores.store import DataStore, shown_parameter

__all__ = [
    "DataStoreConfig",
    "DataStoreInstance",
    "DataStorePool",
    "get_data_store_instance",
]

_INSTANCE_PREFIX = "@"


class DataStoreConfig:
    """How to create one store: its id, its parameters, and a title and description."""

    def __init__(
        self,
        store_id: str,
        store_params: Mapping[str, Any] | None = None,
        title: str | None = None,
        description: str | None = None,
    ):
        if not isinstance(store_id, str) or not store_id:
            raise InvalidParameterError(
                f"store_id must be a non-empty string, got {store_id!r}", parameter="store_id"
            )
        if store_params is not None and not isinstance(store_params, Mapping):
            raise InvalidParameterError(
                f"store_params must be a mapping, got {type(store_params).__name__}",
                store_id=store_id,
                parameter="store_params",
            )
        self.store_id = store_id
        self.store_params = dict(store_params or {})
        self.title = title
        self.description = description

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        """The JSON schema of one entry of a pool file."""
        return JsonObjectSchema(
            properties={
                "store_id": JsonStringSchema(min_length=1, title="Store id"),
                "store_params": JsonObjectSchema(
                    additional_properties=True, title="Store parameters"
                ),
                "title": JsonStringSchema(title="Title"),
                "description": JsonStringSchema(title="Description"),
            },
            required=["store_id"],
            additional_properties=False,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataStoreConfig:
        """A config from its JSON form; unknown keys and a missing ``store_id`` are refused."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(
                f"a store configuration must be a mapping, got {type(data).__name__}"
            )
        cls.get_schema().validate_instance(dict(data))
        return cls(
            data["store_id"],
            store_params=data.get("store_params"),
            title=data.get("title"),
            description=data.get("description"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (secret parameters included: this is what a pool file holds)."""
        result: dict[str, Any] = {"store_id": self.store_id}
        if self.store_params:
            result["store_params"] = dict(self.store_params)
        if self.title is not None:
            result["title"] = self.title
        if self.description is not None:
            result["description"] = self.description
        return result

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataStoreConfig) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.store_id, json.dumps(self.store_params, sort_keys=True, default=str)))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={shown_parameter(k, v)}" for k, v in self.store_params.items())
        return f"DataStoreConfig({self.store_id!r}, {{{params}}}, title={self.title!r})"


class DataStoreInstance:
    """A pool entry: its config and, once asked for, the store created from it."""

    def __init__(self, config_or_store: DataStoreConfig | DataStore):
        self._lock = threading.Lock()
        if isinstance(config_or_store, DataStore):
            self._store: DataStore | None = config_or_store
            self.store_config = DataStoreConfig(
                config_or_store.store_id or type(config_or_store).__name__,
                config_or_store.store_params,
            )
        elif isinstance(config_or_store, DataStoreConfig):
            self._store = None
            self.store_config = config_or_store
        else:
            raise InvalidParameterError(
                f"expected a DataStoreConfig or a DataStore, got {type(config_or_store).__name__}"
            )

    @property
    def store(self) -> DataStore:
        """The store, created from the config on first access and shared afterwards."""
        with self._lock:
            if self._store is None:
                from eostores.registry import new_data_store

                config = self.store_config
                self._store = new_data_store(config.store_id, **config.store_params)
            return self._store

    @property
    def is_open(self) -> bool:
        """Whether the store has been created."""
        return self._store is not None

    def close(self) -> None:
        """Forget the store; the next access creates a new one."""
        with self._lock:
            store, self._store = self._store, None
        close = getattr(store, "close", None)
        if callable(close):
            close()


class DataStorePool:
    """Store configurations by instance id; stores are created lazily and shared."""

    def __init__(self, store_configs: Mapping[str, DataStoreConfig] | None = None):
        self._instances: dict[str, DataStoreInstance] = {}
        for instance_id, config in (store_configs or {}).items():
            self.add_store_config(instance_id, config)

    # -- construction ------------------------------------------------------------------

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        """The JSON schema of a pool file: instance ids mapped to store configurations."""
        return JsonObjectSchema(additional_properties=DataStoreConfig.get_schema())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataStorePool:
        """A pool from ``{instance_id: {"store_id": ..., "store_params": ...}}``."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(
                f"a store pool must be a mapping of instance ids, got {type(data).__name__}"
            )
        return cls({key: DataStoreConfig.from_dict(value) for key, value in data.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> DataStorePool:
        """A pool from a JSON or YAML file (YAML is a superset of JSON, so both parse)."""
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise DataNotFoundError(f"store pool file {str(path)!r} does not exist") from error
        except OSError as error:
            raise InvalidParameterError(
                f"cannot read store pool file {str(path)!r}: {error}"
            ) from error
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InvalidParameterError(
                f"store pool file {str(path)!r} is neither JSON nor YAML: {error}"
            ) from error
        return cls.from_dict(data or {})

    @classmethod
    def normalize(cls, pool_like: Any) -> DataStorePool:
        """A pool from a pool, a mapping, a file path, or ``None`` (an empty pool)."""
        if isinstance(pool_like, DataStorePool):
            return pool_like
        if pool_like is None:
            return cls()
        if isinstance(pool_like, str | Path):
            return cls.from_file(pool_like)
        if isinstance(pool_like, Mapping):
            return cls.from_dict(pool_like)
        raise InvalidParameterError(
            f"cannot make a store pool from {type(pool_like).__name__}", parameter="store_pool"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: instance ids mapped to store configurations."""
        return {key: inst.store_config.to_dict() for key, inst in self._instances.items()}

    # -- configurations ------------------------------------------------------------------

    @property
    def store_instance_ids(self) -> list[str]:
        return sorted(self._instances)

    @property
    def store_configs(self) -> list[DataStoreConfig]:
        return [self._instances[key].store_config for key in self.store_instance_ids]

    def has_store_config(self, store_instance_id: str) -> bool:
        return store_instance_id in self._instances

    def has_store_instance(self, store_instance_id: str) -> bool:
        return self.has_store_config(store_instance_id)

    def add_store_config(self, store_instance_id: str, store_config: DataStoreConfig) -> None:
        if not isinstance(store_instance_id, str) or not store_instance_id:
            raise InvalidParameterError(
                f"store instance ids are non-empty strings, got {store_instance_id!r}"
            )
        if not isinstance(store_config, DataStoreConfig):
            store_config = DataStoreConfig.from_dict(store_config)
        previous = self._instances.get(store_instance_id)
        if previous is not None:
            previous.close()
        self._instances[store_instance_id] = DataStoreInstance(store_config)

    def remove_store_config(self, store_instance_id: str) -> None:
        self._instance(store_instance_id).close()
        del self._instances[store_instance_id]

    def remove_all_store_configs(self) -> None:
        for key in list(self._instances):
            self.remove_store_config(key)

    def get_store_config(self, store_instance_id: str) -> DataStoreConfig:
        return self._instance(store_instance_id).store_config

    def get_store_instance_id(
        self, store_config: DataStoreConfig, strict_check: bool = False
    ) -> str | None:
        """The id of the entry holding ``store_config`` (``strict_check``: identity)."""
        for key, instance in self._instances.items():
            same = (
                instance.store_config is store_config
                if strict_check
                else instance.store_config == store_config
            )
            if same:
                return key
        return None

    # -- stores --------------------------------------------------------------------------

    def get_store_instance(self, store_instance_id: str) -> DataStoreInstance:
        return self._instance(store_instance_id)

    def get_store(self, store_instance_id: str) -> DataStore:
        """The store of this entry, created on first use and shared afterwards."""
        return self._instance(store_instance_id).store

    def close_all_stores(self) -> None:
        for instance in self._instances.values():
            instance.close()

    def _instance(self, store_instance_id: str) -> DataStoreInstance:
        try:
            return self._instances[store_instance_id]
        except (KeyError, TypeError):
            known = ", ".join(self.store_instance_ids) or "none"
            raise DataNotFoundError(
                f"no store instance {store_instance_id!r} in the pool (known: {known})"
            ) from None

    def __len__(self) -> int:
        return len(self._instances)

    def __contains__(self, store_instance_id: object) -> bool:
        return store_instance_id in self._instances

    def __repr__(self) -> str:
        return f"DataStorePool({self.store_instance_ids})"


def get_data_store_instance(
    store_id: str,
    store_params: Mapping[str, Any] | None = None,
    store_pool: DataStorePool | None = None,
) -> DataStoreInstance:
    """A store instance: ``"@<instance id>"`` from ``store_pool``, or a new ``store_id`` store.

    Parameters cannot be combined with a pool reference: the pool entry holds them.
    """
    if not isinstance(store_id, str) or not store_id:
        raise InvalidParameterError(
            f"store_id must be a non-empty string, got {store_id!r}", parameter="store_id"
        )
    if store_id.startswith(_INSTANCE_PREFIX):
        instance_id = store_id[len(_INSTANCE_PREFIX) :]
        if store_pool is None:
            raise InvalidParameterError(
                f"store_pool is needed to look up the store instance {store_id!r}",
                parameter="store_pool",
            )
        if store_params:
            raise InvalidParameterError(
                f"store_params cannot be given with the pool reference {store_id!r}: "
                "the pool entry holds the parameters",
                parameter="store_params",
            )
        return DataStorePool.normalize(store_pool).get_store_instance(instance_id)
    return DataStoreInstance(DataStoreConfig(store_id, store_params))
