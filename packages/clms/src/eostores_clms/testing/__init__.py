"""A local emulator of the CLMS API: service-key tokens, catalogue, data requests, downloads.

It models the documented protocol of ``https://land.copernicus.eu/api`` (Plone REST API
endpoints):

* ``POST /@@oauth2-token`` exchanges a JWT grant (``grant_type`` jwt-bearer, RS256, ``iss``
  the key's ``client_id``, ``sub`` its ``user_id``, ``aud`` its ``token_uri``) for a bearer
  token; the signature is verified with the public key of the service key it belongs to.
  Refusals are those of the real view (ftw.tokenauth): 400 with ``{"error",
  "error_description"}``, ``invalid_request`` for a missing or wrong grant type or assertion
  or another algorithm, ``invalid_grant`` for an unknown key, a bad signature or audience,
  an expired grant, ``exp`` more than a day ahead, ``iat`` more than an hour old or in the
  future, an ``nbf`` or ``scope`` claim, or a subject other than the key's user.
* ``GET /api/@search?portal_type=DataSet&fullobjects=1`` lists datasets in batches
  (``b_start``/``b_size``, ``batching.next``), anonymously.
* ``POST /api/@datarequest_post``, ``GET /api/@datarequest_search[?status=]``,
  ``GET /api/@datarequest_status_get?TaskID=`` and ``DELETE /api/@datarequest_delete``
  manage the user's tasks, which move from ``Queued`` (``queue_s``) to ``In_progress``
  (``run_s``) to ``Finished_ok`` — or to ``Finished_nok``/``Rejected`` when scripted with
  ``next_outcomes``, or stay ``Queued`` for good: ``"stuck"``, and ``"fme_failed"``, where
  the processing back end refuses the task and the request is answered with 500
  ``Error, all requests failed`` (the service registers the task first and never updates
  it). A request for a file the user has ``Queued`` or ``In_progress`` is refused with
  400 ``You have requested to download the same thing at least twice...``, one of more
  than 5 files with 400 too. ``Cancelled`` after a delete, in any state (a task that does not
  exist: 403, another user's: 404, as the real service answers). Timestamps are ISO times
  with the UTC offset, as the service writes them today (``naive_times``: without it, as
  it wrote them before).
* ``GET /downloads/<task>/<name>.zip`` serves the result with ETag and ranges: an outer zip
  with ``Results/<name>.zip``, which holds GeoTIFF tiles named ``..._E##N##_...`` (or a
  NetCDF file) whose values are :func:`expected_value` of the pixel centres. Links expire
  after ``link_lifetime_s`` (the real service gives no expiry at all) or at once for the
  scripted outcome ``"link_gone"``. A task's ``FileSize`` is the archive's length in bytes,
  or as ``file_size_as`` says (``"text"``: that number as a string; ``"KB"``, ``"MB"``:
  in another unit), since the service does not document its unit. ``head_refused`` makes
  the download host answer ``HEAD`` with 405, as some hosts do.

Search returns every task of the user, expired ones included, without saying which links
still work — as the real service does. ``delete_blocked`` makes the delete endpoint fail
like the service's firewall does.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import jwt

from eostores.testing import EmulatorServer, Request, Response, route

from .keys import new_key_pair, new_service_key
from .products import (
    DEFAULT_PRODUCTS,
    HOSTILE_PRODUCTS,
    SampleFile,
    SampleProduct,
    build_result_archive,
    expected_value,
)

__all__ = ["ClmsEmulator", "expected_value"]

STATUSES = ("Rejected", "Queued", "In_progress", "Finished_ok", "Finished_nok", "Cancelled")
_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_FAILURE_MESSAGES = {
    "Finished_nok": "The FME workspace failed while processing the request: "
    "raster translation error in tile E41N20 (emulated)",
    "Rejected": "The request was rejected: the file is temporarily unavailable for "
    "download (emulated)",
}
_OUTCOMES = ("Finished_ok", "Finished_nok", "Rejected", "link_gone", "stuck", "fme_failed")
#: Outcomes that leave the task Queued for good.
_NEVER_STARTED = ("stuck", "fme_failed")
_DOWNLOAD_LIMIT = 5
_MESSAGES = {
    "DOWNLOAD_LIMIT": "The download queue can only process 5 items at a time. "
    "Please try again with fewer items.",
    "DUPLICATED": "You have requested to download the same thing at least twice. "
    "Please check your download cart and remove any duplicates.",
    "ALL_FAILED": "Error, all requests failed",
}
#: How ``FileSize`` may be written: FME sets it, and its unit is not documented.
_FILE_SIZE_FORMS = {
    "bytes": lambda size: size,
    "text": str,
    "KB": lambda size: round(size / 1024, 1),
    "MB": lambda size: round(size / 1024**2, 2),
}


#: The token endpoint's answers must not be cached (RFC 6749 5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_GRANT_MAX_EXP_S = 24 * 3600
_GRANT_MAX_AGE_S = 3600
_GRANT_CLOCK_SKEW_S = 60


class _Refusal(Exception):
    """A refused token request: an OAuth ``error`` code and its description."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


def _grant_claims_problem(claims: Mapping[str, Any], now: float) -> str | None:
    """Why the grant processor of ftw.tokenauth refuses verified ``claims``, if it does."""
    exp, iat = claims.get("exp"), claims.get("iat")
    if not exp:
        return "Missing 'exp' claim"
    if exp - now > _GRANT_MAX_EXP_S:
        return "JWT expiration is more than a day in the future"
    if "nbf" in claims:
        return "The 'nbf' claim is not suppported"  # sic: the service's text
    if not iat:
        return "Missing 'iat' claim"
    if now - iat > _GRANT_MAX_AGE_S:
        return "JWT was issued more than an hour in the past"
    if iat - now > _GRANT_CLOCK_SKEW_S:
        return "JWT issue time is in the future"
    if "scope" in claims:
        return "Scopes are not supported yet"
    return None


def _iso(timestamp: float, naive: bool = False) -> str:
    """ISO time in UTC, as the service writes ``RegistrationDateTime`` and friends: with
    the offset, or ``naive`` without it, as older tasks have them."""
    when = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return (when.replace(tzinfo=None) if naive else when).isoformat()


def _error(status: int, message: str) -> Response:
    return Response.json({"status": "error", "msg": message}, status)


@dataclass
class _Task:
    id: str
    user: str
    product: SampleProduct
    file: SampleFile
    registered: float
    started: float
    finished: float
    outcome: str = "Finished_ok"
    message: str = ""
    cancelled_at: float | None = None

    @property
    def link_gone(self) -> bool:
        return self.outcome == "link_gone"


class ClmsEmulator(EmulatorServer):
    """The CLMS API on 127.0.0.1; see the module docstring.

    ``clients`` maps further client ids to ``{"user_id", "public_key"}`` (PEM) so that keys
    made elsewhere are accepted; the emulator always has a key of its own
    (:meth:`service_key`). ``tile_pixels`` is the edge length of a 100 km tile in pixels.
    All arguments are JSON-serialisable so that the emulator can run in a child process.
    """

    name = "clms"

    def __init__(
        self,
        *,
        queue_s: float = 0.0,
        run_s: float = 0.05,
        page_size: int = 25,
        tile_pixels: int = 16,
        token_lifetime_s: float = 3600.0,
        link_lifetime_s: float | None = None,
        next_outcomes: Sequence[str] = (),
        delete_blocked: bool = False,
        naive_times: bool = False,
        file_size_as: str = "bytes",
        head_refused: bool = False,
        hostile: bool = False,
        clients: Mapping[str, Mapping[str, str]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.queue_s = float(queue_s)
        self.run_s = float(run_s)
        self.page_size = int(page_size)
        self.tile_pixels = int(tile_pixels)
        self.token_lifetime_s = float(token_lifetime_s)
        self.link_lifetime_s = None if link_lifetime_s is None else float(link_lifetime_s)
        self.delete_blocked = bool(delete_blocked)
        self.naive_times = bool(naive_times)
        if file_size_as not in _FILE_SIZE_FORMS:
            raise ValueError(f"file_size_as must be one of {sorted(_FILE_SIZE_FORMS)}")
        self.file_size_as = file_size_as
        self.head_refused = bool(head_refused)
        self.next_outcomes: list[str] = []
        self.script_outcomes(*next_outcomes)
        products = DEFAULT_PRODUCTS + (HOSTILE_PRODUCTS if hostile else ())
        self.products: dict[str, SampleProduct] = {p.uid: p for p in products}
        self._state_lock = threading.RLock()
        self._tasks: dict[str, _Task] = {}
        self._token_users: dict[str, tuple[str, float]] = {}
        self._archives: dict[str, bytes] = {}
        self._archive_locks: dict[str, threading.Lock] = {}
        self._clients: dict[str, tuple[str, str]] = {
            client_id: (str(entry["user_id"]), str(entry["public_key"]))
            for client_id, entry in (clients or {}).items()
        }
        self._own_private_pem, own_public = new_key_pair()
        self._own_client_id = f"emulated-{uuid.uuid4().hex[:12]}"
        self._clients[self._own_client_id] = ("emulated-user", own_public)

    # -- keys and parameters ------------------------------------------------------------------

    @property
    def token_uri(self) -> str:
        return f"{self.url}/@@oauth2-token"

    def service_key(self) -> dict[str, Any]:
        """The emulator's own service key (the JSON a user downloads from the portal)."""
        key, _ = new_service_key(
            self.token_uri, user_id="emulated-user", private_pem=self._own_private_pem
        )
        key["client_id"] = self._own_client_id
        return key

    def new_service_key(self, user_id: str = "emulated-user") -> dict[str, Any]:
        """A further service key (of a fresh key pair) that the emulator accepts."""
        key, public_pem = new_service_key(self.token_uri, user_id=user_id)
        with self._state_lock:
            self._clients[key["client_id"]] = (user_id, public_pem)
        return key

    def store_params(self) -> dict[str, Any]:
        return {"api_url": f"{self.url}/api", "credentials": self.service_key()}

    def script_outcomes(self, *outcomes: str) -> None:
        """Let the next data requests end as ``outcomes`` (in order), then normally."""
        for outcome in outcomes:
            if outcome not in _OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}; use one of {_OUTCOMES}")
        self.next_outcomes.extend(outcomes)

    # -- inspection and set-up for tests ----------------------------------------------------------

    def find_file(self, product_id: str, file_name: str) -> tuple[SampleProduct, SampleFile]:
        for product in self.products.values():
            if product.id == product_id:
                for file in product.files:
                    if file.name == file_name:
                        return product, file
        raise KeyError(f"no file {file_name!r} in product {product_id!r}")

    def add_task(
        self,
        product_id: str,
        file_name: str,
        *,
        status: str = "Finished_ok",
        age_s: float = 0.0,
        user: str = "emulated-user",
        link_gone: bool = False,
        remaining_s: float = 3600.0,
    ) -> str:
        """Register a task of ``user`` that ended ``age_s`` seconds ago, or, for ``Queued``
        and ``In_progress``, one registered ``age_s`` seconds ago that finishes (well) in
        ``remaining_s``; returns its id."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        product, file = self.find_file(product_id, file_name)
        now = time.time()
        ended = now - age_s
        outcome = "link_gone" if link_gone else status
        if status in ("Queued", "In_progress"):
            ended, outcome = now + remaining_s, "Finished_ok"
            started = ended if status == "Queued" else now - 1
        else:
            started = ended
        task = _Task(
            id=uuid.uuid4().hex,
            user=user,
            product=product,
            file=file,
            registered=now - age_s - 1.0,
            started=started,
            finished=ended,
            outcome="Finished_ok" if status == "Cancelled" else outcome,
            message=_FAILURE_MESSAGES.get(status, ""),
            cancelled_at=ended if status == "Cancelled" else None,
        )
        if task.outcome in ("Finished_ok", "link_gone"):
            self._archive(file)
        with self._state_lock:
            self._tasks[task.id] = task
        return task.id

    def revoke_tokens(self) -> None:
        """Invalidate every access token issued so far, as an early expiry would."""
        with self._state_lock:
            self._token_users.clear()

    @property
    def issued_tokens(self) -> list[str]:
        """The access tokens issued and not revoked."""
        with self._state_lock:
            return list(self._token_users)

    def finish_task(self, task_id: str) -> None:
        """Let a pending task end now (with its outcome)."""
        now = time.time()
        with self._state_lock:
            task = self._tasks[task_id]
            task.started = min(task.started, now)
            task.finished = now

    def cancel_task(self, task_id: str) -> None:
        """Cancel a task as its user can in the portal's web interface."""
        with self._state_lock:
            self._tasks[task_id].cancelled_at = time.time()

    def task_status(self, task_id: str) -> str:
        with self._state_lock:
            task = self._tasks[task_id]
        return self._status(task, time.time())

    @property
    def task_ids(self) -> list[str]:
        with self._state_lock:
            return list(self._tasks)

    # -- tokens ---------------------------------------------------------------------------------

    @route("POST", r"/@@oauth2-token")
    def oauth2_token(self, request: Request) -> Response:
        """The ``@@oauth2-token`` view of ftw.tokenauth: refusals are 400 with an OAuth error."""
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        try:
            user = self._grant_user(form)
        except _Refusal as refusal:
            body = {"error": refusal.error, "error_description": refusal.description}
            return Response.json(body, 400, headers=_NO_STORE)
        except (jwt.InvalidTokenError, KeyError) as error:
            # The real view does not catch a malformed assertion or a missing claim.
            return Response.json({"type": type(error).__name__, "message": str(error)}, 500)
        token = self.issue_token()
        with self._state_lock:
            self._token_users[token] = (user, time.monotonic())
        body = {
            "access_token": token,
            "expires_in": int(self.token_lifetime_s),
            "token_type": "Bearer",
        }
        return Response.json(body, headers=_NO_STORE)

    def _grant_user(self, form: Mapping[str, str]) -> str:
        """The user a JWT grant authenticates, checked in the order the real view checks."""
        grant_type = form.get("grant_type")
        if grant_type is None:
            raise _Refusal("invalid_request", "Missing 'grant_type'")
        if grant_type != _GRANT_TYPE:
            raise _Refusal("invalid_request", f"Only grant type {_GRANT_TYPE!r} is supported")
        assertion = form.get("assertion")
        if not assertion:
            raise _Refusal("invalid_request", "Missing 'assertion'")
        if jwt.get_unverified_header(assertion).get("alg") != "RS256":
            raise _Refusal("invalid_request", "Only RS256 signature algorithm is supported")
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        with self._state_lock:
            client = self._clients.get(str(unverified["iss"]))
        if client is None:
            raise _Refusal("invalid_grant", "No associated key found")
        user, public_pem = client
        try:
            claims = jwt.decode(
                assertion, public_pem, algorithms=["RS256"], audience=self.token_uri
            )
        except jwt.InvalidTokenError as error:
            raise _Refusal("invalid_grant", str(error)) from None
        problem = _grant_claims_problem(claims, time.time())
        if problem:
            raise _Refusal("invalid_grant", problem)
        if claims["sub"] != user:
            raise _Refusal("invalid_grant", "JWT subject doesn't match user_id of service key.")
        return user

    def _user(self, request: Request) -> tuple[str | None, Response | None]:
        refused = self.require_bearer(request)
        token = request.bearer_token or ""
        with self._state_lock:
            entry = self._token_users.get(token)
        if refused is None and entry is not None:
            user, issued = entry
            if time.monotonic() - issued < self.token_lifetime_s:
                return user, None
        return None, Response.json(
            {"type": "Unauthorized", "message": "You are not authorized to access this resource."},
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    # -- catalogue ------------------------------------------------------------------------------

    @route("GET", r"/api/@search/?")
    def search(self, request: Request) -> Response:
        try:
            start = max(0, int(request.query.get("b_start", 0)))
            size = max(1, min(int(request.query.get("b_size", 25)), self.page_size))
        except ValueError:
            return Response.json(
                {"type": "BadRequest", "message": "b_start and b_size must be integers"}, 400
            )
        wanted = request.query.get("portal_type")
        products = [p for p in self.products.values() if wanted in (None, "DataSet")]
        full = request.query.get("fullobjects") not in (None, "", "0", "false")
        site = self.url
        page = products[start : start + size]
        items = [self._search_item(p, site, full) for p in page]
        body: dict[str, Any] = {
            "@id": self._search_url(request, start),
            "items": items,
            "items_total": len(products),
        }
        if len(products) > size:
            last = ((len(products) - 1) // size) * size
            batching = {
                "@id": self._search_url(request, start),
                "first": self._search_url(request, 0),
                "last": self._search_url(request, last),
            }
            if start + size < len(products):
                batching["next"] = self._search_url(request, start + size)
            if start > 0:
                batching["prev"] = self._search_url(request, max(0, start - size))
            body["batching"] = batching
        return Response.json(body)

    def _search_item(self, product: SampleProduct, site: str, full: bool) -> dict[str, Any]:
        item = product.item(site)
        if full:
            return item
        return {key: item[key] for key in ("@id", "@type", "title", "description", "review_state")}

    def _search_url(self, request: Request, start: int) -> str:
        query = [(k, v) for k, v in request.query_list if k != "b_start"] + [("b_start", start)]
        return f"{self.url}/api/@search?{urlencode(query)}"

    # -- data requests --------------------------------------------------------------------------

    @route("POST", r"/api/@datarequest_post/?")
    def datarequest_post(self, request: Request) -> Response:
        user, refused = self._user(request)
        if refused is not None:
            return refused
        try:
            body = request.json()
        except ValueError:
            return _error(400, "Error, the body is not valid JSON")
        datasets = body.get("Datasets") if isinstance(body, dict) else None
        if not isinstance(datasets, list) or not datasets:
            return _error(400, "Error, Datasets is not defined")
        chosen: list[tuple[SampleProduct, SampleFile]] = []
        for entry in datasets:
            if not isinstance(entry, dict) or not entry.get("DatasetID"):
                return _error(400, "Error, DatasetID is not defined")
            product = self.products.get(str(entry["DatasetID"]))
            if product is None:
                return _error(400, "Error, the DatasetID is not valid")
            if product.source != "EEA":
                return _error(
                    400, f"Error, this dataset is not downloadable here; it is in {product.source}"
                )
            file = next(
                (f for f in product.files if product.file_id(f) == entry.get("FileID")), None
            )
            if file is None:
                return _error(400, "Error, the FileID is not valid")
            chosen.append((product, file))
        if len(chosen) > _DOWNLOAD_LIMIT:
            return _error(400, _MESSAGES["DOWNLOAD_LIMIT"])
        with self._state_lock:  # checked and registered at once
            if self._duplicated(user, chosen):
                return _error(400, _MESSAGES["DUPLICATED"])
            outcomes = [self._new_task(user, product, file) for product, file in chosen]
        accepted = [{"TaskID": task_id} for task_id, ok in outcomes if ok]
        refused = [{"TaskID": task_id} for task_id, ok in outcomes if not ok]
        if refused and not accepted:
            return _error(500, _MESSAGES["ALL_FAILED"])
        return Response.json({"TaskIds": accepted, "ErrorTaskIds": refused}, 201)

    def _duplicated(self, user: str, chosen: list[tuple[SampleProduct, SampleFile]]) -> bool:
        """Whether a file is asked for twice, or is Queued or In_progress for ``user``."""
        now = time.time()
        keys = [(product.uid, product.file_id(file)) for product, file in chosen]
        with self._state_lock:
            keys += [
                (task.product.uid, task.product.file_id(task.file))
                for task in self._tasks.values()
                if task.user == user and self._status(task, now) in ("Queued", "In_progress")
            ]
        return len(keys) != len(set(keys))

    def _new_task(self, user: str, product: SampleProduct, file: SampleFile) -> tuple[str, bool]:
        """Register a task with the next scripted outcome; its id, and whether the
        processing back end took it."""
        now = time.time()
        with self._state_lock:
            outcome = self.next_outcomes.pop(0) if self.next_outcomes else "Finished_ok"
        never = outcome in _NEVER_STARTED
        task = _Task(
            id=uuid.uuid4().hex,
            user=user,
            product=product,
            file=file,
            registered=now,
            started=math.inf if never else now + self.queue_s,
            finished=math.inf if never else now + self.queue_s + self.run_s,
            outcome="Finished_ok" if never else outcome,
            message=_FAILURE_MESSAGES.get(outcome, ""),
        )
        if task.outcome in ("Finished_ok", "link_gone"):
            threading.Thread(target=self._archive, args=(file,), daemon=True).start()
        with self._state_lock:
            self._tasks[task.id] = task
        return task.id, outcome != "fme_failed"

    def _status(self, task: _Task, now: float) -> str:
        if task.cancelled_at is not None and task.cancelled_at <= now:
            return "Cancelled"
        if now < task.started:
            return "Queued"
        if now < task.finished:
            return "In_progress"
        if task.outcome in ("Finished_ok", "link_gone"):
            with self._state_lock:
                ready = task.file.name in self._archives
            return "Finished_ok" if ready else "In_progress"
        return task.outcome

    def _task_json(self, task: _Task, now: float) -> dict[str, Any]:
        status = self._status(task, now)
        body: dict[str, Any] = {
            "Status": status,
            "UserID": task.user,
            "Datasets": [
                {
                    "DatasetID": task.product.uid,
                    "DatasetTitle": task.product.title,
                    "FileID": task.product.file_id(task.file),
                    "DatasetFormat": task.file.format,
                    "OutputFormat": task.file.format,
                    "DatasetSource": task.product.source,
                }
            ],
            "RegistrationDateTime": _iso(task.registered, self.naive_times),
        }
        if status == "Cancelled":
            body["FinalizationDateTime"] = _iso(task.cancelled_at or now, self.naive_times)
        elif status in ("Finished_ok", "Finished_nok", "Rejected"):
            body["FinalizationDateTime"] = _iso(task.finished, self.naive_times)
        if status == "Finished_ok":
            body["DownloadURL"] = task.file.foreign_link or self._download_url(task)
            size = len(self._archives[task.file.name])
            body["FileSize"] = _FILE_SIZE_FORMS[self.file_size_as](size)
        if status in ("Finished_nok", "Rejected"):
            body["Message"] = task.message
        return body

    def _download_url(self, task: _Task) -> str:
        name = task.file.name.replace("/", "_").strip(".") or "result"
        return f"{self.url}/downloads/{task.id}/{quote(name)}.zip"

    def _owned(self, user: str, task_id: str | None) -> _Task | None:
        with self._state_lock:
            task = self._tasks.get(task_id or "")
        return task if task is not None and task.user == user else None

    @route("GET", r"/api/@datarequest_search/?")
    def datarequest_search(self, request: Request) -> Response:
        user, refused = self._user(request)
        if refused is not None:
            return refused
        wanted = request.query.get("status")
        if wanted and wanted not in STATUSES:
            return _error(400, "Error, status not recognized")
        now = time.time()
        with self._state_lock:
            tasks = [t for t in self._tasks.values() if t.user == user]
        answer = {}
        for task in tasks:
            body = self._task_json(task, now)
            if not wanted or body["Status"] == wanted:
                answer[task.id] = body
        return Response.json(answer)

    @route("GET", r"/api/@datarequest_status_get/?")
    def datarequest_status_get(self, request: Request) -> Response:
        user, refused = self._user(request)
        if refused is not None:
            return refused
        task_id = request.query.get("TaskID")
        if not task_id:
            return _error(400, "Error, TaskID not defined")
        task = self._owned(user, task_id)
        if task is None:
            return _error(404, "Error, the task does not exist")
        return Response.json(self._task_json(task, time.time()))

    @route("DELETE", r"/api/@datarequest_delete/?")
    def datarequest_delete(self, request: Request) -> Response:
        user, refused = self._user(request)
        if refused is not None:
            return refused
        if self.delete_blocked:
            return Response.html_error(403, "Request blocked by the web application firewall")
        try:
            body = request.json() or {}
        except ValueError:
            body = {}
        task_id = body.get("TaskID") if isinstance(body, dict) else None
        if not task_id:
            return _error(400, "Error, TaskID not defined")
        with self._state_lock:
            task = self._tasks.get(str(task_id))
            if task is None:  # sic: 403 for a task that does not exist, 404 for another's
                return _error(403, "Error, TaskID not registered")
            if task.user != user:
                return _error(404, "Error, permission denied")
            task.cancelled_at = time.time()  # in any state, as the real service does
        return Response(204)

    # -- downloads ------------------------------------------------------------------------------

    @route("HEAD", r"/downloads/(?P<task_id>[0-9a-f]+)/(?P<name>[^/]+)")
    def download_head(self, request: Request, task_id: str, name: str) -> Response:
        if self.head_refused:
            return Response.html_error(405, "Method Not Allowed", headers={"Allow": "GET"})
        return self.download(request, task_id, name)

    @route("GET", r"/downloads/(?P<task_id>[0-9a-f]+)/(?P<name>[^/]+)")
    def download(self, request: Request, task_id: str, name: str) -> Response:
        with self._state_lock:
            task = self._tasks.get(task_id)
        now = time.time()
        gone = (
            task is None
            or self._status(task, now) != "Finished_ok"
            or task.link_gone
            or (self.link_lifetime_s is not None and now - task.finished > self.link_lifetime_s)
        )
        if gone:
            return Response.html_error(404, "Not Found: the requested file has expired")
        return Response.file(self._archive(task.file), request, content_type="application/zip")

    def _archive(self, file: SampleFile) -> bytes:
        with self._state_lock:
            lock = self._archive_locks.setdefault(file.name, threading.Lock())
        with lock:
            with self._state_lock:
                ready = self._archives.get(file.name)
            if ready is None:
                ready = build_result_archive(file, self.tile_pixels)
                with self._state_lock:
                    self._archives[file.name] = ready
            return ready

    def prepare_archives(self, names: Iterable[str] | None = None) -> None:
        """Build result archives ahead of time (all when ``names`` is None)."""
        for product in self.products.values():
            for file in product.files:
                if names is None or file.name in names:
                    self._archive(file)
