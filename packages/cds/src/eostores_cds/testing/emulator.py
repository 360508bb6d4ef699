"""A local emulator of the Copernicus Climate Data Store API (catalogue and retrieve).

It speaks the protocol the real ``cdsapi`` and ``ecmwf-datastores-client`` libraries use:
the catalogue (the dataset listing paged by ``page`` and ``limit``, collection records,
``form.json`` and ``constraints.json`` redirected to the document storage, messages), the
processes API (process descriptions, costing,
execution), jobs that move through ``accepted``, ``running`` and ``successful`` (or
``failed``/``rejected``) with configurable delays and a per-user limit of running jobs,
results with absolute or relative hrefs, and downloads with ``Content-Length`` and
``Range``. Result files look like the service's: NetCDF with ``valid_time``, descending
``latitude``, ``number`` and ``expver`` coordinates and short variable names, zipped when
a request yields several files. Values are :func:`eostores_cds.testing.expected_value`.

``PRIVATE-TOKEN`` is checked on the retrieve API, the cost limit is enforced, and keys
listed in ``licence_pending_keys`` have not accepted the dataset licences. Another
account's job answers 403 "permission denied"; the results of a job expire after
``results_ttl_s`` (404 "results expired", and its download link 404s).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import shutil
import tarfile
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from eostores.testing import EmulatorServer, Request, Response, route

from .datasets import DEFAULT_DATASETS, EmulatedDataset
from .files import write_files

__all__ = ["DEFAULT_KEY", "CdsEmulator"]

#: The API key the emulator accepts unless told otherwise (a personal access token).
DEFAULT_KEY = "8a5f2c1e-3b7d-4e9a-9c0f-6d1b2a3c4e5f"

_API = "/api"
_RETRIEVE = f"{_API}/retrieve/v1"
_CATALOGUE = f"{_API}/catalogue/v1"
#: Where the catalogue keeps the request forms and constraints of the datasets.
_DOCUMENTS = "/document-storage/resources"
#: Default and largest ``limit`` of a page of the dataset listing.
_PAGE_SIZE, _MAX_PAGE_SIZE = 50, 500
_NOT_MATCHING = (
    "The request you have submitted is not valid. There is no data matching your request. "
    "Check that you have specified the correct fields and values."
)
_TEMPORAL_KEYS = ("year", "month", "day", "time")


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _problem(status: int, title: str, detail: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": title, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    body.setdefault("trace_id", uuid.uuid4().hex)
    return Response.json(body, status)


@dataclass
class _Job:
    id: str
    user: str
    process_id: str
    request: dict[str, Any]
    created: float
    start: float
    end: float
    outcome: str = "successful"
    message: str = ""
    dismissed: bool = False
    files: list[Path] = field(default_factory=list)
    result: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, now: float) -> str:
        if self.dismissed:
            return "dismissed"
        if self.outcome == "rejected":
            return "accepted" if now < self.start else "rejected"
        if now < self.start:
            return "accepted"
        if now < self.end:
            return "running"
        return self.outcome


class _InvalidRequest(Exception):
    def __init__(self, response: Response):
        self.response = response


class CdsEmulator(EmulatorServer):
    """The CDS API on 127.0.0.1; see the module docstring.

    ``job_queue_s`` and ``job_run_s`` are how long a job stays accepted (once a slot is
    free) and running; ``max_running_jobs`` is the per-user limit of running jobs (more
    wait as accepted). ``resolutions`` and ``cost_limits`` override, per dataset id, the
    native grid spacing and the largest request size (in fields); ``disabled`` maps
    dataset ids to the reason they are disabled (submissions answer 403 with it).
    ``fail_next`` / ``reject_next`` make the next N jobs fail or be rejected.
    ``results_ttl_s`` is how long the results of a successful job stay available (None:
    for ever). ``netcdf3_datasets`` are delivered as classic NetCDF (NetCDF-3), as the
    CDS does for some datasets. ``tmp_fields`` adds to the collection records the
    ``tmp:variables`` (units) and ``tmp:description`` (grid spacing) the catalogue had
    until 2022. ``max_page_size`` caps the records of a page of the dataset listing below
    the ``limit`` asked (the service's cap is 500, more is a 422), to exercise paging. All
    arguments are JSON-serialisable so that the emulator can run in a child process.

    Hostile answers, for tests of the store's defences: ``result_name`` is the file name
    the result href ends with (percent-encoded, e.g. ``../../x.nc``), ``member_prefix`` is
    put before the names of the files in result archives (``../``, ``/tmp/``), and
    ``link_origin`` (e.g. ``http://localhost:<port>``) is the origin of the job, results
    and download links instead of the API's own, and ``redirect_origin`` one that job
    status requests are redirected to (307).
    """

    name = "cds"

    def __init__(
        self,
        *,
        keys: Sequence[str] | None = None,
        licence_pending_keys: Sequence[str] = (),
        job_queue_s: float = 0.0,
        job_run_s: float = 0.05,
        max_running_jobs: int = 4,
        max_page_size: int = _MAX_PAGE_SIZE,
        relative_hrefs: bool = False,
        resolutions: Mapping[str, float] | None = None,
        cost_limits: Mapping[str, int] | None = None,
        disabled: Mapping[str, str] | None = None,
        netcdf3_datasets: Sequence[str] = (),
        results_ttl_s: float | None = None,
        tmp_fields: bool = False,
        fail_next: int = 0,
        reject_next: int = 0,
        result_name: str | None = None,
        member_prefix: str = "",
        link_origin: str | None = None,
        redirect_origin: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.keys = set(keys) if keys is not None else {DEFAULT_KEY}
        self.licence_pending_keys = set(licence_pending_keys)
        self.keys |= self.licence_pending_keys
        self.job_queue_s = float(job_queue_s)
        self.job_run_s = float(job_run_s)
        self.max_running_jobs = int(max_running_jobs)
        self.max_page_size = int(max_page_size)
        self.relative_hrefs = bool(relative_hrefs)
        self.results_ttl_s = None if results_ttl_s is None else float(results_ttl_s)
        self.tmp_fields = bool(tmp_fields)
        self.fail_next = int(fail_next)
        self.reject_next = int(reject_next)
        self.result_name = result_name
        self.member_prefix = str(member_prefix)
        self.link_origin = link_origin
        self.redirect_origin = redirect_origin
        self.failure_message = "An error occurred while processing the request (emulated)."
        self.offer_costing = True
        datasets = []
        for dataset in DEFAULT_DATASETS:
            changes: dict[str, Any] = {}
            if resolutions and dataset.id in resolutions:
                changes["resolution"] = float(resolutions[dataset.id])
            if cost_limits and dataset.id in cost_limits:
                changes["cost_limit"] = int(cost_limits[dataset.id])
            if disabled and dataset.id in disabled:
                changes["disabled_reason"] = str(disabled[dataset.id])
            if dataset.id in netcdf3_datasets:
                changes["netcdf_format"] = "NETCDF3_CLASSIC"
            datasets.append(dataclasses.replace(dataset, **changes) if changes else dataset)
        self.datasets: dict[str, EmulatedDataset] = {d.id: d for d in datasets}
        self.jobs: dict[str, _Job] = {}
        self._slots: dict[str, list[str]] = {}
        self._jobs_lock = threading.Lock()
        self._workdir = Path(tempfile.mkdtemp(prefix="eostores-cds-emulator-"))

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def store_params(self) -> dict[str, Any]:
        usable = sorted(self.keys - self.licence_pending_keys) or sorted(self.keys)
        key = DEFAULT_KEY if DEFAULT_KEY in usable else usable[0]
        return {"endpoint_url": f"{self.url}{_API}", "cds_api_key": key}

    @property
    def submitted_jobs(self) -> list[dict[str, Any]]:
        """The requests of every job submitted so far, in order (for tests)."""
        with self._jobs_lock:
            return [
                {"process_id": job.process_id, "request": job.request}
                for job in sorted(self.jobs.values(), key=lambda j: j.created)
            ]

    # -- helpers

    def _base(self, request: Request) -> str:
        host = request.headers.get("Host")
        return f"http://{host}" if host else self.url

    def _link_base(self, request: Request) -> str:
        """The origin of job, results and download links."""
        return self.link_origin.rstrip("/") if self.link_origin else self._base(request)

    def _user(self, request: Request) -> tuple[str | None, Response | None]:
        token = request.headers.get("PRIVATE-TOKEN")
        if not token:
            return None, _problem(401, "authentication required", "authentication required")
        if token not in self.keys:
            return None, _problem(401, "Authentication failed", "operation not allowed")
        return token, None

    def _dataset(self, process_id: str) -> EmulatedDataset | None:
        return self.datasets.get(process_id)

    # -- catalogue

    @route("GET", rf"{_CATALOGUE}/messages")
    def messages(self, request: Request) -> Response:
        return Response.json({"messages": []})

    @route("GET", rf"{_CATALOGUE}/?")
    def catalogue_root(self, request: Request) -> Response:
        base = self._base(request)
        return Response.json(
            {
                "type": "Catalog",
                "id": "stac-fastapi",
                "links": [{"rel": "data", "href": f"{base}{_CATALOGUE}/datasets"}],
            }
        )

    @route("GET", rf"{_CATALOGUE}/datasets")
    def datasets_page(self, request: Request) -> Response:
        base = self._base(request)
        query = request.query.get("q", "").lower()
        keywords = [value for key, value in request.query_list if key == "kw"]
        matching = [
            d
            for d in sorted(self.datasets.values(), key=lambda d: d.id)
            if (not query or query in d.title.lower() or query in d.abstract.lower())
            and all(k in d.keywords for k in keywords)
        ]
        try:
            page = int(request.query.get("page", 0))
            limit = int(request.query.get("limit", _PAGE_SIZE))
        except ValueError:
            return _not_valid("page and limit must be integers")
        if page < 0 or not 1 <= limit <= _MAX_PAGE_SIZE:
            return _not_valid(f"page must be 0 or more and limit within 1..{_MAX_PAGE_SIZE}")
        size = min(limit, self.max_page_size)
        records = [dataset.collection(base) for dataset in matching[page * size :][:size]]
        links = [{"rel": "self", "href": f"{base}{request.raw_path}"}]
        if (page + 1) * size < len(matching):
            # Like the service: one value per query parameter is carried over.
            carried = dict(request.query_list) | {"page": str(page + 1), "limit": str(limit)}
            href = f"{base}{_CATALOGUE}/datasets?{urlencode(carried)}"
            links.append({"rel": "next", "href": href})
        return Response.json(
            {
                "collections": records,
                "links": links,
                "numberMatched": len(matching),
                "numberReturned": len(records),
            }
        )

    @route("GET", rf"{_CATALOGUE}/collections/(?P<cid>[^/]+)")
    def collection(self, request: Request, cid: str) -> Response:
        dataset = self._dataset(cid)
        if dataset is None:
            return _problem(404, "not found", f"collection {cid} not found")
        return Response.json(dataset.collection(self._base(request), tmp_fields=self.tmp_fields))

    @route("GET", rf"{_CATALOGUE}/collections/(?P<cid>[^/]+)/(?P<doc>form|constraints)\.json")
    def collection_document(self, request: Request, cid: str, doc: str) -> Response:
        """Like the service: a redirect (307) to the record's link to the document."""
        dataset = self._dataset(cid)
        if dataset is None:
            return _problem(404, "not found", f"collection {cid} not found")
        links = dataset.collection(self._base(request))["links"]
        href = next(link["href"] for link in links if link["rel"] == doc)
        return Response(307, b"", {"Location": href})

    @route("GET", rf"{_DOCUMENTS}/(?P<cid>[^/]+)/(?P<doc>form|constraints)\.json")
    def document(self, request: Request, cid: str, doc: str) -> Response:
        dataset = self._dataset(cid)
        if dataset is None:
            return Response.html_error(404, "Not Found")
        return Response.json(dataset.form() if doc == "form" else dataset.constraints())

    @route("GET", rf"{_CATALOGUE}/vocabularies/licences")
    def licences(self, request: Request) -> Response:
        seen = {}
        for dataset in self.datasets.values():
            for licence in dataset.licences:
                seen[licence["id"]] = licence
        return Response.json({"licences": list(seen.values())})

    # -- processes

    @route("GET", rf"{_RETRIEVE}/processes")
    def processes(self, request: Request) -> Response:
        base = self._base(request)
        return Response.json(
            {
                "processes": [
                    {"id": d.id, "title": d.title, "version": "1.0.0", "links": []}
                    for d in sorted(self.datasets.values(), key=lambda d: d.id)
                ],
                "links": [{"rel": "self", "href": f"{base}{_RETRIEVE}/processes"}],
            }
        )

    @route("GET", rf"{_RETRIEVE}/processes/(?P<pid>[^/]+)")
    def process(self, request: Request, pid: str) -> Response:
        dataset = self._dataset(pid)
        if dataset is None:
            return _problem(404, "resource not found", f"process {pid} not found")
        base = self._base(request)
        inputs = {
            widget["name"]: {
                "title": widget.get("label"),
                "schema": {
                    "type": "array",
                    "items": {"type": "string", "enum": _widget_values(widget)},
                },
            }
            for widget in dataset.form()
            if _widget_values(widget)
        }
        return Response.json(
            {
                "id": dataset.id,
                "title": dataset.title,
                "description": dataset.abstract,
                "version": "1.0.0",
                "jobControlOptions": ["async-execute"],
                "outputTransmission": ["reference"],
                "links": [
                    {"href": f"{base}{_RETRIEVE}/processes/{pid}", "rel": "self"},
                    {"href": f"{base}{_RETRIEVE}/processes/{pid}/execution", "rel": "execute"},
                ],
                "inputs": inputs,
                "outputs": {"asset": {"title": "Asset", "schema": {"type": "object"}}},
                "metadata": {"datasetMetadata": {"messages": []}},
            }
        )

    @route("POST", rf"{_RETRIEVE}/processes/(?P<pid>[^/]+)/costing")
    def costing(self, request: Request, pid: str) -> Response:
        dataset = self._dataset(pid)
        if dataset is None or not self.offer_costing:
            return _problem(404, "resource not found", f"process {pid} not found")
        inputs = (request.json() or {}).get("inputs") or {}
        try:
            normalised, reason = self._validate(dataset, inputs), None
        except _InvalidRequest:
            normalised, reason = _normalise_request(inputs), "invalid request"
        return Response.json(
            {
                "id": "size",
                "cost": float(_cost(normalised)),
                "limit": float(dataset.cost_limit),
                "cost_bar_steps": None,
                "request_is_valid": reason is None,
                "invalid_reason": reason,
            }
        )

    @route("POST", rf"{_RETRIEVE}/processes/(?P<pid>[^/]+)/execution")
    def execute(self, request: Request, pid: str) -> Response:
        user, refusal = self._user(request)
        if refusal is not None:
            return refusal
        assert user is not None
        dataset = self._dataset(pid)
        if dataset is None:
            return _problem(404, "resource not found", f"process {pid} not found")
        if dataset.disabled_reason:
            return _problem(403, "permission denied", dataset.disabled_reason)
        if user in self.licence_pending_keys:
            base = self._base(request)
            ids = ", ".join(f"{lic['id']} (revision {lic['revision']})" for lic in dataset.licences)
            return _problem(
                403,
                "required licences not accepted",
                "Not all the required licences have been accepted; please visit "
                f"{base}/datasets/{pid}?tab=download#manage-licences to accept the required "
                f"licence(s): {ids}.",
            )
        body = request.json() or {}
        inputs = body.get("inputs")
        if not isinstance(inputs, dict):
            return _problem(400, "invalid request", "the body must hold an 'inputs' object")
        try:
            normalised = self._validate(dataset, inputs)
        except _InvalidRequest as invalid:
            return invalid.response
        if _cost(normalised) > dataset.cost_limit:
            return _problem(
                403,
                "cost limits exceeded",
                "Your request is too large, please reduce your selection.",
            )
        job = self._new_job(user, dataset.id, normalised)
        return Response.json(self._job_json(request, job, with_request=True), 201)

    # -- request validation

    def _validate(self, dataset: EmulatedDataset, inputs: Mapping[str, Any]) -> dict[str, Any]:
        form = {widget["name"]: widget for widget in dataset.form()}
        request = _normalise_request(inputs)
        for key, values in request.items():
            if key in ("area", "grid"):
                continue
            widget = form.get(key)
            allowed = set(_widget_values(widget)) if widget is not None else set()
            if not allowed:
                raise _InvalidRequest(
                    _problem(400, "invalid request", f"invalid input {key!r} for {dataset.id}")
                )
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise _InvalidRequest(
                    _problem(
                        400,
                        "invalid request",
                        f"invalid value(s) {unknown} for input {key!r}; {_NOT_MATCHING}",
                    )
                )
            if widget["type"] == "StringChoiceWidget" and len(values) != 1:
                raise _InvalidRequest(
                    _problem(400, "invalid request", f"input {key!r} takes exactly one value")
                )
        required = ["variable", "year", "month"]
        required += ["day"] if dataset.has_day_key() else []
        required += ["time"] if dataset.has_time_key() else []
        required += ["product_type"] if dataset.product_types else []
        missing = [key for key in required if not request.get(key)]
        if missing:
            raise _InvalidRequest(
                _problem(400, "invalid request", f"missing required input(s): {missing}")
            )
        for key, (_label, _values, default) in dataset.choices.items():
            request.setdefault(key, [default])
        if dataset.data_formats and "data_format" not in request:
            request["data_format"] = ["grib"]
        if "area" in request:
            if not dataset.supports_area:
                raise _InvalidRequest(
                    _problem(400, "invalid request", f"{dataset.id} does not support 'area'")
                )
            area = request["area"]
            if len(area) != 4 or area[0] < area[2]:
                raise _InvalidRequest(
                    _problem(400, "invalid request", f"invalid area {area}: expected [N, W, S, E]")
                )
        if "grid" in request:
            grid = request["grid"]
            if not dataset.supports_area or len(grid) != 2 or min(grid) <= 0:
                raise _InvalidRequest(
                    _problem(400, "invalid request", f"invalid grid {grid} for {dataset.id}")
                )
        self._check_constraints(dataset, request)
        if request.get("data_format") == ["grib"]:
            raise _InvalidRequest(
                _problem(400, "invalid request", "this emulator delivers NetCDF only")
            )
        return request

    def _check_constraints(self, dataset: EmulatedDataset, request: dict[str, Any]) -> None:
        entries = dataset.constraints()
        keys = sorted({key for entry in entries for key in entry} - set(_TEMPORAL_KEYS))
        selections = [request.get(key, [None]) for key in keys]
        for combination in itertools.product(*selections):
            chosen = dict(zip(keys, combination, strict=True))
            matching = [
                entry
                for entry in entries
                if all(
                    value is None or value in entry.get(key, []) for key, value in chosen.items()
                )
            ]
            if not matching:
                raise _InvalidRequest(_problem(400, "invalid request", _NOT_MATCHING))
            for key in _TEMPORAL_KEYS:
                allowed = {value for entry in matching for value in entry.get(key, [])}
                if key in request and not set(request[key]) <= allowed:
                    raise _InvalidRequest(_problem(400, "invalid request", _NOT_MATCHING))

    # -- jobs

    def _new_job(self, user: str, process_id: str, request: dict[str, Any]) -> _Job:
        now = time.time()
        with self._jobs_lock:
            # A slot is the id of the job that holds it; a dismissed job frees its slot.
            slots = self._slots.setdefault(user, [""] * self.max_running_jobs)
            index = min(range(len(slots)), key=lambda i: self._slot_free_at(slots[i]))
            start = max(now + self.job_queue_s, self._slot_free_at(slots[index]))
            outcome, message = "successful", ""
            job_id = str(uuid.uuid4())
            if self.reject_next > 0:
                self.reject_next -= 1
                outcome, message = "rejected", "The request was rejected by the queue (emulated)."
                end = start
            else:
                end = start + self.job_run_s
                slots[index] = job_id
                if self.fail_next > 0:
                    self.fail_next -= 1
                    outcome, message = "failed", self.failure_message
            job = _Job(
                id=job_id,
                user=user,
                process_id=process_id,
                request=request,
                created=now,
                start=start,
                end=end,
                outcome=outcome,
                message=message,
            )
            self.jobs[job.id] = job
        if outcome == "successful":
            # Like the service, produce the file while the job runs, not when it is fetched.
            threading.Thread(target=self._prepare, args=(job,), daemon=True).start()
        return job

    def _slot_free_at(self, job_id: str) -> float:
        job = self.jobs.get(job_id)
        return 0.0 if job is None or job.dismissed else job.end

    def dismiss_unfinished(self) -> int:
        """Dismiss every job still queued or running (e.g. between tests); how many."""
        now = time.time()
        with self._jobs_lock:
            unfinished = [
                job for job in self.jobs.values() if job.status(now) in ("accepted", "running")
            ]
            for job in unfinished:
                job.dismissed = True
        return len(unfinished)

    def _prepare(self, job: _Job) -> None:
        time.sleep(max(0.0, job.start - time.time()))
        if job.dismissed or not self.running:
            return
        try:
            self._result_file(job)
        except Exception:  # reported when the results are fetched
            job.result = None

    def _job_json(self, request: Request, job: _Job, *, with_request: bool = False) -> dict:
        base = self._link_base(request)
        now = time.time()
        status = job.status(now)
        job_url = f"{base}{_RETRIEVE}/jobs/{job.id}"
        links = [
            {"href": job_url, "rel": "self", "type": "application/json"},
            {"href": job_url, "rel": "monitor", "type": "application/json", "title": "job status"},
        ]
        if request.method == "GET":
            links = [link for link in links if link["rel"] != "monitor"]
        else:
            links = [link for link in links if link["rel"] != "self"]
        if status in ("successful", "failed", "rejected"):
            links.append({"href": f"{job_url}/results", "rel": "results"})
        metadata: dict[str, Any] = {}
        if with_request:
            metadata["request"] = {"ids": job.request}
        if request.query.get("log", "").lower() == "true":
            log = [[_iso(job.created), f"Request ID is {job.id}"]]
            if status in ("running", "successful", "failed"):
                log.append([_iso(job.start), "INFO: processing request"])
            metadata["log"] = log
        started = job.start if now >= job.start and job.outcome != "rejected" else None
        finished = job.end if status in ("successful", "failed", "rejected") else None
        return {
            "processID": job.process_id,
            "type": "process",
            "jobID": job.id,
            "status": status,
            "created": _iso(job.created),
            "started": _iso(started) if started else None,
            "finished": _iso(finished) if finished else None,
            "updated": _iso(min(now, job.end)),
            "links": links,
            "metadata": metadata,
        }

    def _job_of(self, request: Request, jid: str) -> tuple[_Job | None, str, Response | None]:
        """The job and the caller's user; or a refusal (401, or 404 for an unknown job)."""
        user, refusal = self._user(request)
        if refusal is not None:
            return None, "", refusal
        assert user is not None
        job = self.jobs.get(jid)
        if job is None:
            return None, user, _problem(404, "job not found", f"job {jid} not found")
        return job, user, None

    def _owned_job(self, request: Request, jid: str) -> tuple[_Job | None, Response | None]:
        """The caller's job; another account's answers 403, like the service's."""
        job, user, refusal = self._job_of(request, jid)
        if refusal is None and job is not None and job.user != user:
            return None, _permission_denied()
        return job, refusal

    def _expired(self, job: _Job) -> bool:
        """Whether the results of a successful job have gone (``results_ttl_s``)."""
        ttl = self.results_ttl_s
        return ttl is not None and time.time() > job.end + ttl

    @route("GET", rf"{_RETRIEVE}/jobs")
    def list_jobs(self, request: Request) -> Response:
        user, refusal = self._user(request)
        if refusal is not None:
            return refusal
        jobs = [job for job in self.jobs.values() if job.user == user]
        return Response.json(
            {
                "jobs": [self._job_json(request, job) for job in jobs],
                "links": [],
                "metadata": {"totalCount": len(jobs)},
            }
        )

    @route("GET", rf"{_RETRIEVE}/jobs/(?P<jid>[^/]+)")
    def get_job(self, request: Request, jid: str) -> Response:
        if self.redirect_origin and not self.redirect_origin.endswith(
            "//" + str(request.headers.get("Host"))
        ):
            location = f"{self.redirect_origin.rstrip('/')}{request.raw_path}"
            query = "&".join(f"{k}={quote(v)}" for k, v in request.query_list)
            return Response(307, b"", {"Location": f"{location}?{query}" if query else location})
        job, refusal = self._owned_job(request, jid)
        if refusal is not None:
            return refusal
        assert job is not None
        with_request = request.query.get("request", "").lower() == "true"
        return Response.json(self._job_json(request, job, with_request=with_request))

    @route("DELETE", rf"{_RETRIEVE}/jobs/(?P<jid>[^/]+)")
    def delete_job(self, request: Request, jid: str) -> Response:
        job, refusal = self._owned_job(request, jid)
        if refusal is not None:
            return refusal
        assert job is not None
        job.dismissed = True
        return Response.json(self._job_json(request, job))

    @route("POST", rf"{_RETRIEVE}/jobs/delete")
    def delete_jobs(self, request: Request) -> Response:
        user, refusal = self._user(request)
        if refusal is not None:
            return refusal
        ids = (request.json() or {}).get("job_ids") or []
        deleted = []
        for jid in ids:
            job = self.jobs.get(jid)
            if job is not None and job.user == user:
                job.dismissed = True
                deleted.append(self._job_json(request, job))
        return Response.json({"jobs": deleted})

    @route("GET", rf"{_RETRIEVE}/jobs/(?P<jid>[^/]+)/results")
    def results(self, request: Request, jid: str) -> Response:
        # Like the service: the job's state is answered first, its owner checked last.
        job, user, refusal = self._job_of(request, jid)
        if refusal is not None:
            return refusal
        assert job is not None
        status = job.status(time.time())
        if status == "failed":
            return _problem(
                400,
                "The job has failed",
                job.message,
                traceback="Traceback (most recent call last):\n  RuntimeError: " + job.message,
            )
        if status == "rejected":
            return _problem(400, "The job has been rejected", job.message)
        if status == "dismissed":
            return _problem(404, "job not found", f"job {jid} has been dismissed")
        if status != "successful":
            return _problem(404, "results not ready", f"job {jid} results are not ready")
        if self._expired(job):
            return _problem(404, "results expired", f"results of job {jid} expired")
        if job.user != user:
            return _permission_denied()
        path = self._result_file(job)
        href = f"/download/{job.id}/{quote(self.result_name or path.name, safe='')}"
        if not self.relative_hrefs:
            href = f"{self._link_base(request)}{href}"
        content_type = {
            ".nc": "application/netcdf",
            ".zip": "application/zip",
            ".tar.gz": "application/x-tar",
        }[_suffix(path)]
        return Response.json(
            {
                "asset": {
                    "value": {
                        "type": content_type,
                        "href": href,
                        "file:checksum": uuid.uuid5(uuid.NAMESPACE_URL, str(path)).hex,
                        "file:size": path.stat().st_size,
                        "file:local_path": f"s3://cache/{job.id}/{path.name}",
                    }
                }
            }
        )

    @route("GET", r"/download/(?P<jid>[^/]+)/(?P<name>.+)")
    def download(self, request: Request, jid: str, name: str) -> Response:
        job = self.jobs.get(jid)
        if (
            job is None
            or job.result is None
            or name != (self.result_name or job.result.name)
            or self._expired(job)
        ):
            return Response.html_error(404, "Not Found")
        return Response.file(job.result, request)

    @route("POST", rf"{_API}/profiles/v1/account/verification/pat")
    def verify_pat(self, request: Request) -> Response:
        user, refusal = self._user(request)
        if refusal is not None:
            return refusal
        return Response.json({"sub": user[:8], "role": "user"})

    # -- result files

    def _result_file(self, job: _Job) -> Path:
        with job.lock:
            if job.result is None or not job.result.exists():
                dataset = self.datasets[job.process_id]
                folder = self._workdir / job.id
                folder.mkdir(parents=True, exist_ok=True)
                files = write_files(dataset, job.request, folder)
                download = job.request.get("download_format", ["unarchived"])[0]
                if len(files) == 1 and download == "unarchived":
                    job.result = files[0]
                elif download == "tgz":
                    job.result = folder / f"{uuid.uuid4().hex}.tar.gz"
                    with tarfile.open(job.result, "w:gz") as tar:
                        for path in files:
                            member = tarfile.TarInfo(self.member_prefix + path.name)
                            member.size = path.stat().st_size
                            with open(path, "rb") as content:
                                tar.addfile(member, content)
                else:
                    job.result = folder / f"{uuid.uuid4().hex}.zip"
                    with zipfile.ZipFile(job.result, "w", zipfile.ZIP_DEFLATED) as archive:
                        for path in files:
                            # ZipInfo keeps the name as given (write() would clean it).
                            member = zipfile.ZipInfo(self.member_prefix + path.name)
                            member.compress_type = zipfile.ZIP_DEFLATED
                            archive.writestr(member, path.read_bytes())
            return job.result


def _not_valid(detail: str) -> Response:
    """The catalogue's answer to query parameters out of range (422)."""
    body = {"title": "submitted data is not valid", "detail": detail, "trace_id": uuid.uuid4().hex}
    return Response.json(body, 422)


def _permission_denied() -> Response:
    """The service's answer about another account's job."""
    return _problem(403, "permission denied", "operation not allowed")


def _widget_values(widget: Mapping[str, Any]) -> list[str]:
    """The values a form widget offers (list, choice and grouped list widgets)."""
    details = widget.get("details") or {}
    if "values" in details:
        return list(details["values"])
    values: list[str] = []
    for group in details.get("groups") or []:
        values += [v for v in group.get("labels", {}) if v not in values]
    return values


def _suffix(path: Path) -> str:
    return ".tar.gz" if path.name.endswith(".tar.gz") else path.suffix


# --------------------------------------------------------------------------- requests


def _normalise_request(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every value as a list of strings (area and grid as lists of floats)."""
    result: dict[str, Any] = {}
    for key, value in inputs.items():
        if key in ("area", "grid"):
            if isinstance(value, str):
                value = value.split("/")
            result[key] = [float(v) for v in value]
            continue
        values = value if isinstance(value, list | tuple) else [value]
        texts = [str(v) for v in values]
        if key in ("month", "day"):
            texts = [t.zfill(2) for t in texts]
        if key == "time":
            texts = [t if ":" in t else f"{int(t):02d}:00" for t in texts]
        result[key] = list(dict.fromkeys(texts))
    return result


def _cost(request: Mapping[str, Any]) -> int:
    keys = ("product_type", "variable", "pressure_level", "year", "month", "day", "time")
    return math.prod(len(request.get(key) or [None]) for key in keys)
