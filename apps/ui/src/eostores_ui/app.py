"""What the page can do, without HTTP: pick a store, list and describe data, open, download.

One :class:`UiApp` serves one person (a local application): it holds the connected store,
the described data id and the opened data. Every action returns JSON-ready dicts or raises
:class:`UiError`, whose payload says which field an error belongs to or that it is for
the banner. Store parameters are kept in memory only and never sent back to the page;
secret values are taken out of every message.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from eostores.errors import DataStoreError, InvalidParameterError

from .forms import Form, build_form
from .jobs import ActionGuard, BusyError, DaskProgress, Job
from .quicklook import make_quicklook
from .snippet import python_snippet
from .summary import describe_summary, opened_summary
from .values import FormErrors, read_form

__all__ = ["DOWNLOAD_FORMATS", "UiApp", "UiError"]

#: Download formats per kind of opened data: format id -> (label, file extension).
DOWNLOAD_FORMATS: dict[str, dict[str, tuple[str, str]]] = {
    "dataset": {"netcdf": ("NetCDF", ".nc"), "zarr": ("Zarr", ".zarr")},
    "table": {"geojson": ("GeoJSON", ".geojson")},
}
#: Most data ids sent to the page for one search.
MAX_LISTED = 200


class UiError(Exception):
    """An action failed; ``payload`` is sent to the page with HTTP ``status``."""

    def __init__(self, status: int, payload: dict[str, Any]):
        self.status = status
        self.payload = payload
        super().__init__(payload.get("error") or payload.get("field_errors"))


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0].replace("\n", " ").strip()


class UiApp:
    """The state and the actions of the application."""

    def __init__(self, output_dir: str | os.PathLike[str] | None = None):
        self.output_dir = Path(output_dir or os.getcwd()).resolve()
        self.guard = ActionGuard()
        self._stores: list[dict[str, Any]] | None = None
        self._reset_store()

    def _reset_store(self) -> None:
        self.store_id: str | None = None
        self.store: Any = None
        self.store_form: Form | None = None
        self._store_params: dict[str, Any] = {}
        self._secret_values: list[str] = []
        self._data_ids: list[tuple[str, str]] | None = None
        self._reset_data()

    def _reset_data(self) -> None:
        self.data_id: str | None = None
        self.descriptor: dict[str, Any] | None = None
        self.open_form: Form | None = None
        self._open_schema: Any = None
        self.opened: dict[str, Any] | None = None

    # -- errors ---------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` without the values of secret store parameters."""
        for secret in self._secret_values:
            text = text.replace(secret, "***")
        return text

    def error_payload(self, error: BaseException, form: Form | None) -> tuple[int, dict]:
        """The HTTP status and page payload of an error; field errors where a field is named."""
        if isinstance(error, UiError):
            return error.status, error.payload
        if isinstance(error, BusyError):
            return 409, {"error": str(error), "busy": True}
        if isinstance(error, FormErrors):
            return 400, {"field_errors": {k: self.redact(v) for k, v in error.errors.items()}}
        if isinstance(error, InvalidParameterError) and form is not None:
            path = form.field_for_error(error.message, error.parameter)
            if path is not None:
                return 400, {"field_errors": {path: self.redact(error.message)}}
        if isinstance(error, DataStoreError):
            status = 400 if isinstance(error, InvalidParameterError) else 502
            return status, {"error": self.redact(str(error)), "type": type(error).__name__}
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return 500, {"error": self.redact(text), "type": type(error).__name__}

    def _fail(self, error: BaseException, form: Form | None = None) -> UiError:
        status, payload = self.error_payload(error, form)
        return UiError(status, payload)

    # -- stores ---------------------------------------------------------------------------

    def stores(self) -> list[dict[str, Any]]:
        """Every installed store: id, description, package and version."""
        if self._stores is None:
            from eostores.registry import get_data_store_class, list_data_store_ids

            found = []
            for store_id, meta in list_data_store_ids(detail=True).items():  # type: ignore[union-attr]
                entry = {"id": store_id, "package": meta["package"], "version": meta["version"]}
                try:
                    cls = get_data_store_class(store_id)
                except DataStoreError as error:
                    entry.update(description=str(error), unavailable=True)
                else:
                    entry["description"] = _first_line(cls.__doc__) or meta["description"] or ""
                found.append(entry)
            self._stores = found
        return self._stores

    def store_params_form(self, store_id: str) -> dict[str, Any]:
        """The form of the store parameters of ``store_id``."""
        from eostores.registry import get_data_store_params_schema

        try:
            schema = get_data_store_params_schema(store_id).to_dict()
        except DataStoreError as error:
            raise self._fail(error) from None
        return build_form(schema).to_json()

    def connect(self, store_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Create the store from the submitted store-parameter values."""
        from eostores.registry import get_data_store_params_schema, new_data_store

        with self._action("Connect"):
            try:
                form = build_form(get_data_store_params_schema(store_id).to_dict())
            except DataStoreError as error:
                raise self._fail(error) from None
            try:
                params = read_form(form, values)
                secrets = _secret_values(form, params)
                self._secret_values = secrets
                store = new_data_store(store_id, **params)
            except (FormErrors, DataStoreError) as error:
                raise self._fail(error, form) from None
            self._reset_store()
            self.store_id, self.store, self.store_form = store_id, store, form
            self._store_params = params
            self._secret_values = secrets
            return {"store": store_id, "can_preload": self.can_preload}

    @property
    def can_preload(self) -> bool:
        """Whether the store prepares data ahead of opening (its own ``preload_data``)."""
        from eostores.store import DataStore

        return self.store is not None and type(self.store).preload_data is not (
            DataStore.preload_data
        )

    def _require_store(self) -> Any:
        if self.store is None:
            raise UiError(409, {"error": "choose a store and connect to it first"})
        return self.store

    def data_ids(self, query: str = "", limit: int = MAX_LISTED) -> dict[str, Any]:
        """The data ids (with titles) containing ``query`` in the id or the title."""
        store = self._require_store()
        if self._data_ids is None:
            with self._action("List data ids"):
                try:
                    found = store.get_data_ids(include_attrs=["title"])
                    ids = []
                    for item in found:
                        data_id, attrs = item if isinstance(item, tuple) else (item, {})
                        ids.append((str(data_id), str((attrs or {}).get("title") or "")))
                except DataStoreError as error:
                    raise self._fail(error) from None
                self._data_ids = ids
        words = query.lower().split()
        matched = [
            (data_id, title)
            for data_id, title in self._data_ids
            if all(w in data_id.lower() or w in title.lower() for w in words)
        ]
        return {
            "items": [{"id": i, "title": t} for i, t in matched[: max(1, limit)]],
            "matched": len(matched),
            "total": len(self._data_ids),
        }

    def describe(self, data_id: str) -> dict[str, Any]:
        """The describe_data summary of ``data_id`` and the form of its open parameters."""
        from eostores.paths import check_data_id

        store = self._require_store()
        with self._action("Describe"):
            try:
                check_data_id(data_id, self.store_id)
                descriptor = store.describe_data(data_id).to_dict()
                schema = store.get_open_data_params_schema(data_id)
            except DataStoreError as error:
                raise self._fail(error) from None
            descriptor.pop("open_params_schema", None)
            form = build_form(schema.to_dict(), common=True, descriptor=descriptor)
            self._reset_data()
            self.data_id, self.descriptor = data_id, descriptor
            self.open_form, self._open_schema = form, schema
            return {
                "data_id": data_id,
                "summary": describe_summary(descriptor),
                "form": form.to_json(),
                "can_preload": self.can_preload,
            }

    @contextlib.contextmanager
    def _action(self, label: str) -> Iterator[None]:
        """Hold the guard for a short action; refused while another action runs."""
        try:
            self.guard.acquire(label)
        except BusyError as error:
            raise self._fail(error) from None
        try:
            yield
        finally:
            self.guard.release()

    # -- open -----------------------------------------------------------------------------

    def _open_params(self, data_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        if self.store is None or data_id != self.data_id or self.open_form is None:
            raise UiError(409, {"error": "pick the data id again: its description is not loaded"})
        try:
            params = read_form(self.open_form, values)
            self._open_schema.validate_params(params, store_id=self.store_id, data_id=data_id)
        except (FormErrors, InvalidParameterError) as error:
            raise self._fail(error, self.open_form) from None
        return params

    def _start(self, kind: str, label: str, work) -> dict[str, Any]:
        form = self.open_form
        try:
            job = self.guard.start(kind, label, work, lambda e: self.error_payload(e, form)[1])
        except BusyError as error:
            raise self._fail(error) from None
        return job.to_json()

    def open(self, data_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Start opening ``data_id`` with the submitted open-parameter values (a job)."""
        self._check_idle("Open")
        params = self._open_params(data_id, values)
        store, store_id = self.store, self.store_id

        def work(job: Job) -> dict[str, Any]:
            started = time.monotonic()
            job.report(None, f"opening {data_id}")
            data = store.open_data(data_id, **params)
            job.raise_if_cancelled()
            dataset, coarsest = _datasets(data)
            quicklook = None
            if coarsest is not None:
                with DaskProgress(job, "reading the quicklook"):
                    quicklook = make_quicklook(coarsest)
            summary = opened_summary(dataset)
            snippet = python_snippet(
                store_id,  # type: ignore[arg-type]
                self._store_params,
                data_id,
                params,
                secret_names=[f.name for f in self.store_form.fields if f.secret]
                if self.store_form
                else (),
            )
            job.raise_if_cancelled()
            self.opened = {"data_id": data_id, "data": dataset, "params": params}
            kind = "dataset" if summary["kind"] == "dataset" else "table"
            return {
                "data_id": data_id,
                "summary": summary,
                "quicklook": None
                if quicklook is None
                else {
                    "src": "data:image/png;base64," + base64.b64encode(quicklook.png).decode(),
                    "caption": quicklook.caption(),
                    "variable": quicklook.variable,
                    "width": quicklook.shape[1],
                    "height": quicklook.shape[0],
                },
                "snippet": snippet,
                "download": {
                    "formats": [
                        {"id": k, "label": v[0], "extension": v[1]}
                        for k, v in DOWNLOAD_FORMATS.get(kind, {}).items()
                    ],
                    "stem": _stem(data_id),
                    "folder": str(self.output_dir),
                },
                "seconds": round(time.monotonic() - started, 3),
            }

        return self._start("open", "Open", work)

    def preload(self, data_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Start preloading ``data_id`` with the open parameters given (a job)."""
        self._check_idle("Preload")
        if not self.can_preload:
            raise UiError(400, {"error": f"store {self.store_id!r} needs no preloading"})
        params = self._open_params(data_id, values)
        store = self.store
        schema = store.get_preload_data_params_schema()
        known = set(schema.properties)
        preload_params = {k: v for k, v in params.items() if k in known}
        rest = {k: v for k, v in params.items() if k not in known}
        if rest and "open_params" in known:
            preload_params["open_params"] = rest
        preload_params.update(
            {k: v for k, v in (("blocking", False), ("silent", True)) if k in known}
        )

        def work(job: Job) -> dict[str, Any]:
            job.report(0.0, f"preloading {data_id}")
            handle = store.preload_data(data_id, **preload_params)
            job.on_cancel = handle.cancel
            if job.cancelled:
                handle.cancel()
            while not handle.wait(0.1):
                states = handle.states
                progress = sum(s.progress for s in states) / max(1, len(states))
                message = "; ".join(s.message for s in states if s.message)
                job.report(progress, message or f"preloading {data_id}")
            job.raise_if_cancelled()
            handle.raise_for_failures()
            produced = handle.data_ids
            return {
                "data_id": data_id,
                "message": f"preloaded {data_id}: {len(produced)} file(s) ready; "
                "Open now reads them from the cache",
                "data_ids": produced,
                "ignored": sorted(rest) if rest and "open_params" not in known else [],
            }

        return self._start("preload", "Preload", work)

    # -- download -------------------------------------------------------------------------

    def download(self, fmt: str, filename: str, replace: bool = False) -> dict[str, Any]:
        """Start writing the opened data into the output folder (a job)."""
        self._check_idle("Download")
        if self.opened is None:
            raise UiError(409, {"error": "open data first; Download writes what was opened"})
        from eostores.paths import confine

        data = self.opened["data"]
        kind = "dataset" if hasattr(data, "data_vars") else "table"
        formats = DOWNLOAD_FORMATS[kind]
        if fmt not in formats:
            allowed = ", ".join(formats)
            raise UiError(400, {"field_errors": {"format": f"choose one of {allowed}"}})
        extension = formats[fmt][1]
        name = (filename or "").strip() or _stem(self.opened["data_id"]) + extension
        if not name.endswith(extension):
            name += extension
        if "/" in name or "\\" in name:
            raise UiError(400, {"field_errors": {"filename": "a file name, without folders"}})
        try:
            target = confine(self.output_dir, name, parameter="filename")
        except InvalidParameterError as error:
            raise UiError(400, {"field_errors": {"filename": error.message}}) from None
        if target.exists() and not replace:
            message = f"{name} exists in {self.output_dir}; tick 'Replace' to overwrite it"
            raise UiError(400, {"field_errors": {"filename": message}})

        def work(job: Job) -> dict[str, Any]:
            from eostores.registry import new_data_store

            started = time.monotonic()
            job.report(0.0, f"writing {name}")
            folder = new_data_store("file", root=str(self.output_dir))
            written = data
            if kind == "dataset":
                # the source's storage encoding (codecs, chunking) may not fit the target
                written = data.drop_encoding()
                if not any(v.chunks for v in written.data_vars.values()):
                    written = written.chunk({d: 1 for d in ("time",) if d in data.dims} or {})
            with DaskProgress(job, f"writing {name}"):
                folder.write_data(written, name, replace=replace)
            return {
                "path": str(target),
                "name": name,
                "format": fmt,
                "bytes": _size(target),
                "seconds": round(time.monotonic() - started, 3),
                "fetchable": target.is_file(),
            }

        return self._start("download", "Download", work)

    def file_path(self, name: str) -> Path:
        """A written file of the output folder, for the browser to fetch."""
        from eostores.paths import confine

        try:
            path = confine(self.output_dir, name, parameter="name")
        except InvalidParameterError as error:
            raise UiError(404, {"error": error.message}) from None
        if not path.is_file() or path.name.startswith("."):
            raise UiError(404, {"error": f"no file {name!r} in the output folder"})
        return path

    # -- jobs -----------------------------------------------------------------------------

    def _check_idle(self, label: str) -> None:
        error = self.guard.busy_error(label)
        if error is not None:
            raise self._fail(error)

    def job(self) -> dict[str, Any] | None:
        """The latest job (running or finished), for the page to poll."""
        job = self.guard.job
        return None if job is None else job.to_json()

    def cancel(self) -> dict[str, Any]:
        """Ask the running job to stop."""
        job = self.guard.cancel()
        if job is None:
            raise UiError(409, {"error": "nothing is running"})
        return job.to_json()


def _datasets(data: Any) -> tuple[Any, Any]:
    """The data to summarise and download, and the (coarsest) dataset for the quicklook."""
    if hasattr(data, "num_levels") and hasattr(data, "get_dataset"):
        return data.get_dataset(0), data.get_dataset(data.num_levels - 1)
    if hasattr(data, "data_vars"):
        return data, data
    return data, None


def _stem(data_id: str) -> str:
    from eostores.paths import safe_filename

    base = data_id.rstrip("/").rsplit("/", 1)[-1] or data_id
    for extension in (".zarr", ".nc", ".levels", ".tif", ".tiff", ".geojson", ".shp"):
        base = base.removesuffix(extension)
    return safe_filename(base or "data")


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _secret_values(form: Form, params: Mapping[str, Any]) -> list[str]:
    """The secret texts among the store parameters (also inside dicts), longest first."""
    from eostores.credentials import is_secret_name

    found: list[str] = []

    def visit(name: str, value: Any, secret: bool) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                visit(str(key), item, secret or is_secret_name(str(key)))
        elif secret and isinstance(value, str) and len(value) >= 4:
            found.append(value)

    for item in form.fields:
        if item.name in params:
            visit(item.name, params[item.name], item.secret)
    return sorted(set(found), key=len, reverse=True)
