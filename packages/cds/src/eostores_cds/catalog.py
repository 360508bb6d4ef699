"""What data ids exist and what each offers, read from the service's catalogue.

The catalogue listing (all pages) gives the data ids; a dataset's collection record, its
request form (``form.json``) and its constraints (``constraints.json``) give its variables,
product types, levels, time extent and area support. The records of the CDS state neither
units nor grid spacing, so the native grid comes from :data:`NATIVE_GRIDS` (known dataset
families); the ``tmp:variables`` and ``tmp:description`` fields of older catalogues are
read when present. All of it is cached on disk with an expiry, so that listing,
describing and validating usually make no request; a stale copy is used when the service
cannot be reached.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eostores.errors import DataNotFoundError, DataStoreError, DataStoreTimeoutError
from eostores.paths import confine, safe_filename

from .constraints import Constraints
from .layout import write_json_atomically

__all__ = [
    "NATIVE_GRIDS",
    "Catalogue",
    "ChoiceParam",
    "DatasetInfo",
    "VariableInfo",
    "describe",
    "native_grid",
    "split_data_id",
]

logger = logging.getLogger("eostores.cds")

GRIDDED_KEYWORD = "Data type: Gridded"
#: Request keys the store fills from the common open parameters.
HANDLED_KEYS = frozenset(
    {
        "product_type",
        "variable",
        "year",
        "month",
        "day",
        "time",
        "pressure_level",
        "area",
        "area_group",
        "global",
        "data_format",
        "format",
        "download_format",
        "licences",
    }
)
#: Values of a time-aggregation choice and the time_period they stand for.
PERIOD_WORDS = {
    "hourly": "1H",
    "day_average": "1D",
    "daily": "1D",
    "daily_average": "1D",
    "5_day_average": "5D",
    "10_day_average": "10D",
    "dekadal": "10D",
    "month_average": "1M",
    "monthly": "1M",
    "monthly_average": "1M",
    "year_average": "1Y",
    "yearly": "1Y",
}
_HOUR_STEPS = (1, 2, 3, 6, 12)
#: Native grid spacing in degrees of dataset families, by dataset id prefix (the longest
#: matching prefix wins): ERA5 and its derived products 0.25, ERA5-Land 0.1, the C3S
#: satellite soil moisture 0.25.
NATIVE_GRIDS: dict[str, float] = {
    "reanalysis-era5-": 0.25,
    "reanalysis-era5-land": 0.1,
    "derived-era5-": 0.25,
    "derived-era5-land-": 0.1,
    "satellite-soil-moisture": 0.25,
}


def split_data_id(data_id: str) -> tuple[str, str | None]:
    """``dataset:product_type`` into its parts (the product type may be absent)."""
    dataset, sep, product_type = data_id.partition(":")
    return dataset, (product_type if sep else None)


@dataclass(frozen=True)
class VariableInfo:
    """A requestable variable: request name, title and units from the catalogue."""

    name: str
    title: str
    units: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ChoiceParam:
    """A dataset-specific request key offered as an open parameter."""

    key: str
    title: str
    values: dict[str, str]
    default: str | list[str] | None
    multiple: bool


@dataclass
class DatasetInfo:
    """Everything the store knows about one dataset without requesting data."""

    id: str
    title: str
    description: str
    keywords: list[str]
    bbox: tuple[float, float, float, float]
    start: str | None
    end: str | None
    licences: list[dict[str, Any]]
    variables: dict[str, VariableInfo]
    product_types: dict[str, str]
    levels: list[str] | None
    temporal_keys: set[str]
    hours: list[str]
    choices: dict[str, ChoiceParam]
    period_key: str | None
    period_values: dict[str, str]
    supports_area: bool
    data_format_key: str | None
    data_formats: list[str]
    download_formats: list[str]
    native_res: float | None
    constraints: Constraints = field(repr=False, default_factory=lambda: Constraints([]))

    # -- derived facts

    def allowed(
        self,
        key: str,
        product_type: str | None,
        selection: Mapping[str, Sequence[str]] | None = None,
    ) -> list[str]:
        """Values of a request key valid for the product type and selection (form order)."""
        chosen = {k: list(v) for k, v in (selection or {}).items() if v and k != key}
        if product_type is not None:
            chosen["product_type"] = [product_type]
        allowed = self.constraints.allowed(key, chosen)
        offered = self._offered(key)
        if allowed is None:
            return offered
        return [v for v in offered if v in allowed] if offered else sorted(allowed)

    def _offered(self, key: str) -> list[str]:
        if key == "variable":
            return list(self.variables)
        if key == "time":
            return list(self.hours)
        if key == "pressure_level":
            return list(self.levels or [])
        if key == "product_type":
            return list(self.product_types)
        if key in self.choices:
            return list(self.choices[key].values)
        return []

    def time_periods(self, product_type: str | None) -> list[str]:
        """The time_period values this dataset offers, finest first."""
        if self.period_key:
            return list(self.period_values)
        if {"time", "day"} <= self.temporal_keys:
            hours = set(self.allowed("time", product_type))
            periods = []
            for step in _HOUR_STEPS:
                wanted = {f"{h:02d}:00" for h in range(0, 24, step)}
                if wanted <= hours:
                    periods.append(f"{step}H")
            return periods or ["1D"]
        if "day" in self.temporal_keys:
            return ["1D"]
        if "month" in self.temporal_keys:
            return ["1M"]
        return ["1Y"]

    def virtual_product_types(self) -> list[str]:
        """Product types whose options differ, each offered as ``<dataset>:<type>``."""
        if len(self.product_types) < 2 or not self.constraints:
            return []
        signatures = {
            pt: tuple(
                tuple(self.allowed(key, pt)) for key in ("variable", "time", "pressure_level")
            )
            for pt in self.product_types
        }
        return list(self.product_types) if len(set(signatures.values())) > 1 else []

    @property
    def openable(self) -> bool:
        return "year" in self.temporal_keys and bool(self.variables)

    # -- parsing

    @classmethod
    def parse(
        cls,
        collection: Mapping[str, Any],
        form: Sequence[Mapping[str, Any]],
        constraints: Sequence[Mapping[str, Any]],
    ) -> DatasetInfo:
        widgets = {str(w.get("name")): w for w in form if isinstance(w, Mapping)}
        extent = collection.get("extent") or {}
        try:
            bbox = tuple(float(v) for v in extent["spatial"]["bbox"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            bbox = (-180.0, -90.0, 180.0, 90.0)
        try:
            start, end = extent["temporal"]["interval"][0]
        except (KeyError, IndexError, TypeError, ValueError):
            start = end = None
        variables = _variables(widgets.get("variable"), collection.get("tmp:variables"))
        choices: dict[str, ChoiceParam] = {}
        period_key, period_values = None, {}
        for name, widget in widgets.items():
            labels = _widget_labels(widget)
            if name in HANDLED_KEYS or not labels:
                continue
            multiple = widget.get("type") != "StringChoiceWidget"
            default = (widget.get("details") or {}).get("default")
            if isinstance(default, list) and not multiple:
                default = default[0] if default else None
            mapped = {PERIOD_WORDS.get(value) for value in labels}
            if not multiple and None not in mapped and period_key is None:
                period_key = name
                period_values = {PERIOD_WORDS[value]: value for value in labels}
                continue
            choices[name] = ChoiceParam(
                key=name,
                title=str(widget.get("label") or name),
                values=labels,
                default=default
                if default is not None
                else (None if multiple else next(iter(labels))),
                multiple=multiple,
            )
        licences = []
        for widget in widgets.values():
            if widget.get("type") == "LicenceWidget":
                licences += list((widget.get("details") or {}).get("licences") or [])
        data_format_key = "data_format" if "data_format" in widgets else None
        if data_format_key is None and "format" in widgets:
            data_format_key = "format"
        return cls(
            id=str(collection.get("id")),
            title=str(collection.get("title") or collection.get("id")),
            description=str(collection.get("description") or ""),
            keywords=[str(k) for k in collection.get("keywords") or []],
            bbox=bbox,  # type: ignore[arg-type]
            start=start,
            end=end,
            licences=licences,
            variables=variables,
            product_types=_widget_labels(widgets.get("product_type")),
            levels=list(_widget_labels(widgets.get("pressure_level"))) or None,
            temporal_keys={k for k in ("year", "month", "day", "time") if k in widgets},
            hours=list(_widget_labels(widgets.get("time"))),
            choices=choices,
            period_key=period_key,
            period_values=period_values,
            supports_area="area" in widgets,
            data_format_key=data_format_key,
            data_formats=list(_widget_labels(widgets.get(data_format_key or ""))),
            download_formats=list(_widget_labels(widgets.get("download_format"))),
            native_res=native_grid(collection),
            constraints=Constraints(constraints),
        )


def _variables(widget: Mapping[str, Any] | None, extras: Any) -> dict[str, VariableInfo]:
    """The variables of the form, with units and descriptions where ``extras`` (an older
    catalogue's ``tmp:variables``, keyed by label or name) has them."""
    extras = extras if isinstance(extras, Mapping) else {}
    variables = {}
    for name, label in _widget_labels(widget).items():
        meta = extras.get(label) or extras.get(name)
        meta = meta if isinstance(meta, Mapping) else {}
        variables[name] = VariableInfo(
            name=name,
            title=label,
            units=_text(meta.get("units")),
            description=_text(meta.get("description")),
        )
    return variables


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _widget_labels(widget: Mapping[str, Any] | None) -> dict[str, str]:
    """Value -> label of a list, choice or grouped widget, in form order."""
    if not widget:
        return {}
    details = widget.get("details") or {}
    labels: dict[str, str] = {}
    if isinstance(details.get("labels"), Mapping):
        labels.update({str(k): str(v) for k, v in details["labels"].items()})
    for value in details.get("values") or []:
        labels.setdefault(str(value), str(value))
    for group in details.get("groups") or []:
        for value, label in (group.get("labels") or {}).items():
            labels.setdefault(str(value), str(label))
    return labels


def native_grid(collection: Mapping[str, Any]) -> float | None:
    """The native grid spacing of a dataset in degrees; None if unknown.

    From the record's ``tmp:description`` where an older catalogue still has it, else
    from :data:`NATIVE_GRIDS`.
    """
    stated = _stated_resolution(collection.get("tmp:description"))
    if stated is not None:
        return stated
    dataset_id = str(collection.get("id") or "")
    prefixes = [prefix for prefix in NATIVE_GRIDS if dataset_id.startswith(prefix)]
    return NATIVE_GRIDS[max(prefixes, key=len)] if prefixes else None


def _stated_resolution(description: Any) -> float | None:
    """The first spacing in ``tmp:description["horizontal-resolution"]`` ("0.25° x 0.25°")."""
    if not isinstance(description, Mapping):
        return None
    text = description.get("horizontal-resolution")
    if not isinstance(text, str):
        return None
    match = re.search(r"(\d+(?:\.\d+)?)\s*°", text) or re.search(r"(\d+(?:\.\d+)?)", text)
    value = float(match.group(1)) if match else 0.0
    return value if value > 0 else None


# --------------------------------------------------------------------------- catalogue


class Catalogue:
    """The service's datasets, cached in memory and on disk for ``ttl`` seconds.

    ``fetch`` is an object with ``collections()``, ``collection(id)``, ``form(id)`` and
    ``constraints(id)`` methods (the API layer); it is only used when the cache is empty
    or expired.
    """

    def __init__(self, fetch: Callable[[], Any], cache_dir: Path, ttl: float, store_id: str):
        self._fetch = fetch
        self._dir = cache_dir
        self._ttl = ttl
        self._store_id = store_id
        self._lock = threading.RLock()
        self._listing: list[dict[str, Any]] | None = None
        self._infos: dict[str, DatasetInfo] = {}

    # -- listing

    def records(self) -> list[dict[str, Any]]:
        """The catalogue records of the gridded datasets, sorted by id."""
        with self._lock:
            if self._listing is None:
                data = self._cached("datasets.json", lambda: self._fetch().collections())
                self._listing = sorted(
                    (
                        r
                        for r in data
                        if isinstance(r, Mapping)
                        and isinstance(r.get("id"), str)
                        and r["id"]
                        and _is_gridded(r)
                    ),
                    key=lambda r: str(r.get("id")),
                )
            return self._listing

    def record(self, dataset_id: str) -> dict[str, Any] | None:
        return next((r for r in self.records() if r.get("id") == dataset_id), None)

    def info(self, dataset_id: str) -> DatasetInfo:
        """The parsed description of a dataset; DataNotFoundError if the catalogue lacks it."""
        with self._lock:
            cached = self._infos.get(dataset_id)
        if cached is not None:
            return cached
        if self.record(dataset_id) is None:
            raise DataNotFoundError(
                "no such gridded dataset in the CDS catalogue",
                store_id=self._store_id,
                data_id=dataset_id,
            )

        def fetch() -> dict[str, Any]:
            api = self._fetch()
            return {
                "collection": api.collection(dataset_id),
                "form": api.form(dataset_id),
                "constraints": api.constraints(dataset_id),
            }

        data = self._cached(f"collections/{safe_filename(dataset_id)}.json", fetch)
        try:
            info = DatasetInfo.parse(data["collection"], data["form"], data["constraints"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DataStoreError(
                f"cannot understand the catalogue entry: {type(error).__name__}: {error}",
                store_id=self._store_id,
                data_id=dataset_id,
            ) from None
        with self._lock:
            self._infos[dataset_id] = info
        return info

    def prefetch(self, dataset_ids: Sequence[str], max_workers: int = 4) -> None:
        """Load several dataset descriptions concurrently (for listing virtual ids).

        A dataset that cannot be described is left out with a warning; running out of
        the call's deadline is an error.
        """
        missing = [i for i in dataset_ids if i not in self._infos]
        if len(missing) < 2:
            return
        import contextvars
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            # Each task runs in a copy of the caller's context (its call deadline).
            futures = [
                pool.submit(contextvars.copy_context().run, self._try_info, dataset_id)
                for dataset_id in missing
            ]
            for future in futures:
                future.result()

    def _try_info(self, dataset_id: str) -> None:
        try:
            self.info(dataset_id)
        except DataStoreTimeoutError:
            raise
        except DataStoreError as error:
            logger.warning("cannot describe %s: %s", dataset_id, error)

    # -- disk cache

    def _cached(self, name: str, fetch: Callable[[], Any]) -> Any:
        path = confine(self._dir, name, from_service=True, store_id=self._store_id)
        stale = None
        try:
            with open(path, encoding="utf-8") as file:
                stored = json.load(file)
            if time.time() - float(stored["fetched"]) < self._ttl:
                return stored["data"]
            stale = stored["data"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            data = fetch()
        except DataNotFoundError:
            raise
        except DataStoreError as error:
            if stale is None:
                raise
            logger.warning("using the cached catalogue (%s) as the service failed: %s", name, error)
            return stale
        _write_json(path, {"fetched": time.time(), "data": data})
        return data


def _is_gridded(record: Mapping[str, Any]) -> bool:
    keywords = [str(k) for k in record.get("keywords") or []]
    kinds = [k for k in keywords if k.startswith("Data type:")]
    return not kinds or GRIDDED_KEYWORD in kinds


def _write_json(path: Path, data: Any) -> None:
    try:
        write_json_atomically(path, data)
    except OSError as error:
        logger.warning("cannot cache %s: %s", path, error)


# --------------------------------------------------------------------------- descriptors


def describe(
    info: DatasetInfo, data_id: str, product_type: str | None, open_params_schema: Any
) -> Any:
    """The dataset descriptor of a (virtual) data id, from the catalogue alone."""
    from eostores.descriptor import DatasetDescriptor, VariableDescriptor

    names = info.allowed("variable", product_type) if product_type else list(info.variables)
    dims = ("time", "pressure_level", "lat", "lon") if info.levels else ("time", "lat", "lon")
    data_vars = {}
    for name in names:
        variable = info.variables[name]
        attrs = {"title": variable.title}
        if variable.units:
            attrs["units"] = variable.units
        if variable.description:
            attrs["long_name"] = variable.description
        data_vars[name] = VariableDescriptor(name, "float32", dims, attrs=attrs)
    attrs: dict[str, Any] = {
        "title": info.title,
        "keywords": info.keywords,
        "licences": [lic.get("id") for lic in info.licences],
        "note": "variables are requested by these names; the files name them by their "
        "short names (e.g. t2m for 2m_temperature)",
    }
    if product_type:
        attrs["product_type"] = product_type
    if info.levels:
        attrs["pressure_levels"] = info.allowed("pressure_level", product_type)
    return DatasetDescriptor(
        data_id=data_id,
        crs="EPSG:4326",
        bbox=info.bbox,
        time_range=(
            info.start[:10] if info.start else None,
            info.end[:10] if info.end else None,
        ),
        time_period=info.time_periods(product_type)[0],
        spatial_res=info.native_res,
        dims={},
        data_vars=data_vars,
        attrs=attrs,
        open_params_schema=open_params_schema,
    )
