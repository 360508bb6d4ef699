"""The handle returned by ``DataStore.preload_data``.

Preloading fetches data that cannot be opened lazily (job queues, archives) into a
cache store. The handle runs one task per requested data id in a thread pool, shows
progress while they run, and afterwards tells which ids to open in which store:
``handle.store.open_data(data_id)`` for each of ``handle.data_ids`` (one requested id
may give several cached ids, e.g. the files of an archive).

Failures do not raise from the constructor or from :meth:`PreloadHandle.wait`; they are
recorded per data id (status, message, exception) and re-raised on demand by
:meth:`PreloadHandle.raise_for_failures` or ``wait(raise_errors=True)``.
"""

from __future__ import annotations

import enum
import html
import math
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from eostores.errors import DataNotFoundError, DataStoreError, InvalidParameterError

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["STORE_METHODS", "PreloadHandle", "PreloadState", "PreloadStatus", "PreloadTask"]

_MESSAGE_WIDTH = 80


class PreloadStatus(enum.StrEnum):
    """Where the preloading of one data id stands.

    The members are also known by their lower-case names (``PreloadStatus.completed`` is
    ``PreloadStatus.COMPLETED``).
    """

    WAITING = "waiting"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    waiting = "waiting"
    started = "started"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether the status is final."""
        return self in (PreloadStatus.COMPLETED, PreloadStatus.FAILED, PreloadStatus.CANCELLED)


@dataclass
class PreloadState:
    """A snapshot of the preloading of one requested data id.

    ``data_ids`` are the ids the task produced in the cache store (filled on completion).
    """

    data_id: str
    status: PreloadStatus = PreloadStatus.WAITING
    progress: float = 0.0
    message: str = ""
    exception: BaseException | None = None
    data_ids: list[str] = field(default_factory=list)

    def update(self, event: PreloadState) -> None:
        """Take over the fields ``event`` (a state of the same data id) sets.

        Fields of ``event`` left at their defaults (or None) change nothing.
        """
        if not isinstance(event, PreloadState):
            raise InvalidParameterError(
                f"event must be a PreloadState, got {type(event).__name__}", parameter="event"
            )
        if event.data_id != self.data_id:
            return
        defaults = PreloadState(self.data_id)
        for name in ("status", "progress", "message", "exception"):
            value = getattr(event, name)
            if value is not None and value != getattr(defaults, name):
                setattr(self, name, value)
        if event.data_ids:
            self.data_ids = list(event.data_ids)


class PreloadTask:
    """What a task function gets: its data id, progress reporting and cancellation."""

    def __init__(self, handle: PreloadHandle, data_id: str, cancel_event: threading.Event):
        self._handle = handle
        self.data_id = data_id
        self.cancel_event = cancel_event
        self._data_ids: list[str] = []
        self._temporaries: list[Path] = []

    @property
    def store(self) -> Any:
        """The cache store the task writes into."""
        return self._handle.store

    @property
    def cancelled(self) -> bool:
        """Whether the task should stop as soon as it can."""
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`DataStoreError` when cancellation was requested."""
        if self.cancel_event.is_set():
            raise DataStoreError("preload cancelled", data_id=self.data_id)

    def report(self, progress: float | None = None, message: str | None = None) -> None:
        """Update the progress (0..1) and/or the status message shown for this data id."""
        self._handle._report(self.data_id, progress, message)

    def progress_callback(
        self, start: float = 0.0, end: float = 1.0, message: str | None = None
    ) -> Callable[[int, int | None], None]:
        """A ``progress(done, total)`` callback for downloads mapping bytes onto start..end."""

        def callback(done: int, total: int | None) -> None:
            if total:
                self.report(start + (end - start) * min(done / total, 1.0), message)
            elif message is not None:
                self.report(None, f"{message} ({done} bytes)")

        return callback

    def add_data_ids(self, *data_ids: str) -> None:
        """Record ids the task produced in the cache store (besides those it returns)."""
        for data_id in data_ids:
            if not isinstance(data_id, str):
                raise InvalidParameterError(
                    f"data ids must be strings, got {type(data_id).__name__}",
                    data_id=self.data_id,
                )
            self._data_ids.append(data_id)

    def add_temporary(self, path: str | os.PathLike[str]) -> None:
        """Register a file or directory to delete when the task ends (with ``cleanup=True``)."""
        self._temporaries.append(Path(path))


TaskFunction = Callable[[PreloadTask], "Iterable[str] | None"]

#: The methods of the cache store that a handle offers as its own, so that code written
#: for ``store = store.preload_data(...)`` (where preloading returns a store) keeps working.
STORE_METHODS = frozenset(
    {
        "describe_data",
        "get_data_ids",
        "get_data_opener_ids",
        "get_data_types",
        "get_data_types_for_data",
        "get_open_data_params_schema",
        "get_preload_data_params_schema",
        "get_search_params_schema",
        "has_data",
        "list_data_ids",
        "open_data",
        "preload_data",
        "search_data",
    }
)


class PreloadHandle:
    """Runs and tracks the preloading of ``data_ids`` into ``store``.

    ``task(context)`` is called once per data id in a pool of ``max_workers`` threads; it
    returns (or registers with ``context.add_data_ids``) the ids it produced in ``store``;
    a task that returns ``None`` and registers nothing contributes no ids.
    A task that returns normally is COMPLETED; one that raises is FAILED, or CANCELLED
    when cancellation had been requested. Tasks should pass ``context.cancel_event`` to
    downloads and check ``context.cancelled`` between steps.

    With ``blocking=True`` the constructor returns when every task has finished; it
    never raises a task's error (see :meth:`raise_for_failures`). Otherwise use
    :meth:`wait` or the handle as a context manager, whose exit cancels unfinished tasks
    and waits for them. ``silent=False`` shows progress: a table in Jupyter, progress
    bars on a terminal, else one line per status change on stderr. ``cleanup=True``
    deletes each task's registered temporary files when it ends.

    The handle also offers the reading methods of ``store`` (:data:`STORE_METHODS`):
    ``handle.open_data(data_id)`` is ``handle.store.open_data(data_id)``; and
    ``handle.preload_handle`` is the handle itself.
    """

    def __init__(
        self,
        data_ids: Sequence[str],
        task: TaskFunction,
        *,
        store: Any,
        blocking: bool = True,
        silent: bool = False,
        cleanup: bool = True,
        max_workers: int = 2,
    ):
        if isinstance(data_ids, str):
            data_ids = [data_ids]
        ids = list(dict.fromkeys(data_ids))
        for data_id in ids:
            if not isinstance(data_id, str):
                raise InvalidParameterError(
                    f"data ids must be strings, got {data_id!r}", parameter="data_ids"
                )
        if max_workers < 1:
            raise InvalidParameterError(
                f"max_workers must be >= 1, got {max_workers}", parameter="max_workers"
            )
        self.store = store
        self._task = task
        self._cleanup = cleanup
        self._ids = ids
        self._lock = threading.RLock()
        self._states = {data_id: PreloadState(data_id) for data_id in ids}
        self._events = {data_id: threading.Event() for data_id in ids}
        self._unfinished = len(ids)
        self._all_finished = threading.Event()
        self._cancel_requested = False
        self._closed = False
        self._display = _new_display(self, silent)
        self._executor: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}
        if not ids:
            self._all_finished.set()
        else:
            self._executor = ThreadPoolExecutor(
                max_workers=min(max_workers, len(ids)), thread_name_prefix="eostores-preload"
            )
            for data_id in ids:
                self._futures[data_id] = self._executor.submit(self._run, data_id)
        if blocking:
            try:
                self.wait()
            except BaseException:  # KeyboardInterrupt: stop the tasks before leaving
                self.close()
                raise

    # -- the cache store's methods

    def __getattr__(self, name: str) -> Any:
        # Called only for names the handle does not have itself.
        store = self.__dict__.get("store")
        if name in STORE_METHODS and store is not None:
            return getattr(store, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *STORE_METHODS})

    @property
    def preload_handle(self) -> PreloadHandle:
        """The handle itself (stores whose preloading returns the store offer it there)."""
        return self

    # -- results

    @property
    def data_ids(self) -> list[str]:
        """The ids to open in :attr:`store`, in request order (complete once :attr:`done`)."""
        with self._lock:
            produced = [
                cached
                for data_id in self._ids
                if self._states[data_id].status is PreloadStatus.COMPLETED
                for cached in self._states[data_id].data_ids
            ]
        return list(dict.fromkeys(produced))

    @property
    def states(self) -> list[PreloadState]:
        """Snapshots of every data id's state, in request order."""
        with self._lock:
            return [_copy_state(self._states[data_id]) for data_id in self._ids]

    def get_state(self, data_id: str) -> PreloadState:
        """A snapshot of the state of one requested data id."""
        with self._lock:
            state = self._states.get(data_id)
            if state is None:
                raise DataNotFoundError("no preload task for this data id", data_id=data_id)
            return _copy_state(state)

    @property
    def failures(self) -> dict[str, BaseException]:
        """The exception of every FAILED data id, in request order."""
        with self._lock:
            return {
                data_id: state.exception
                for data_id, state in self._states.items()
                if state.status is PreloadStatus.FAILED and state.exception is not None
            }

    def raise_for_failures(self) -> None:
        """Re-raise the first failure in request order; do nothing if none failed.

        A :class:`DataStoreError` is raised as it is; any other exception is wrapped in a
        :class:`DataStoreError` naming the data id, with the original as its cause.
        """
        for data_id, error in self.failures.items():
            if isinstance(error, DataStoreError):
                raise error
            raise DataStoreError(
                f"preloading failed: {type(error).__name__}: {error}", data_id=data_id
            ) from error

    @property
    def done(self) -> bool:
        """Whether every task has finished (completed, failed or cancelled)."""
        return self._all_finished.is_set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called for all data ids."""
        return self._cancel_requested

    def notify(self, event: PreloadState) -> None:
        """Report the progress and/or message of ``event.data_id`` (like ``task.report``).

        The status is the handle's to set: it follows from how the task ends.
        """
        if not isinstance(event, PreloadState):
            raise InvalidParameterError(
                f"event must be a PreloadState, got {type(event).__name__}", parameter="event"
            )
        if event.data_id not in self._states:
            raise DataNotFoundError("no preload task for this data id", data_id=event.data_id)
        self._report(event.data_id, event.progress or None, event.message or None)

    # -- control

    def wait(self, timeout: float | None = None, *, raise_errors: bool = False) -> bool:
        """Wait until every task has finished; False if ``timeout`` seconds passed first.

        On completion the worker threads are joined. ``raise_errors=True`` then calls
        :meth:`raise_for_failures`.
        """
        if not self._all_finished.wait(timeout):
            return False
        self._shutdown()
        if raise_errors:
            self.raise_for_failures()
        return True

    def cancel(self, *data_ids: str) -> None:
        """Ask the tasks of ``data_ids`` (all when none given) to stop.

        Waiting tasks are cancelled at once; running ones see ``cancelled`` become true.
        """
        targets = list(data_ids) if data_ids else list(self._ids)
        for data_id in targets:
            if data_id not in self._states:
                raise DataNotFoundError("no preload task for this data id", data_id=data_id)
        if not data_ids:
            self._cancel_requested = True
        for data_id in targets:
            self._events[data_id].set()
            future = self._futures.get(data_id)
            if future is not None and future.cancel():
                self._finish(data_id, PreloadStatus.CANCELLED, "cancelled before it started")

    def close(self) -> None:
        """Cancel unfinished tasks, wait for them to stop and release the threads."""
        if self._closed:
            return
        if not self.done:
            self.cancel()
        self.wait()
        self._closed = True

    def __enter__(self) -> PreloadHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- display

    def show(self) -> None:
        """Show the state table: as HTML in Jupyter, else printed as text, on lines of its
        own also while progress bars are drawn."""
        if _in_jupyter():
            from IPython.display import HTML, display

            display(HTML(self._repr_html_()))
        else:
            self._display.write(self.table())

    def table(self) -> str:
        """The state of every data id as a text table."""
        header = ("Data ID", "Status", "Progress", "Message")
        rows = [
            (
                state.data_id,
                str(state.status),
                f"{round(state.progress * 100)}%",
                _shorten(state.message),
            )
            for state in self.states
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]

        def line(cells: Sequence[str]) -> str:
            parts = [
                cells[0].ljust(widths[0]),
                cells[1].ljust(widths[1]),
                cells[2].rjust(widths[2]),
                cells[3],
            ]
            return "  ".join(parts).rstrip()

        separator = line(["-" * width for width in widths])
        return "\n".join([line(header), separator, *(line(row) for row in rows)])

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>"
            f"<td>{html.escape(state.data_id)}</td>"
            f"<td>{html.escape(str(state.status))}</td>"
            f'<td style="text-align:right">{round(state.progress * 100)}%</td>'
            f"<td>{html.escape(_shorten(state.message))}</td>"
            "</tr>"
            for state in self.states
        )
        return (
            '<table class="eostores-preload">'
            "<thead><tr><th>Data ID</th><th>Status</th><th>Progress</th><th>Message</th>"
            f"</tr></thead><tbody>{cells}</tbody></table>"
        )

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for state in self.states:
            counts[str(state.status)] = counts.get(str(state.status), 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        return (
            f"<PreloadHandle into {type(self.store).__name__}: "
            f"{len(self._ids)} data ids{': ' + summary if summary else ''}>"
        )

    # -- running tasks

    def _run(self, data_id: str) -> None:
        event = self._events[data_id]
        if event.is_set():
            self._finish(data_id, PreloadStatus.CANCELLED, "cancelled before it started")
            return
        self._update(data_id, status=PreloadStatus.STARTED)
        context = PreloadTask(self, data_id, event)
        status, message, error, produced = PreloadStatus.COMPLETED, None, None, []
        try:
            returned = self._task(context)
            produced = [*context._data_ids, *_as_ids(returned, data_id)]
        except BaseException as exception:
            if event.is_set():
                status, message = PreloadStatus.CANCELLED, "cancelled"
            else:
                status, error = PreloadStatus.FAILED, exception
                message = str(exception) or type(exception).__name__
        finally:
            if self._cleanup:
                _remove_paths(context._temporaries)
        self._finish(data_id, status, message, error, list(dict.fromkeys(produced)))

    def _report(self, data_id: str, progress: float | None, message: str | None) -> None:
        changes: dict[str, Any] = {}
        if progress is not None and not math.isnan(progress):
            changes["progress"] = min(max(float(progress), 0.0), 1.0)
        if message is not None:
            changes["message"] = str(message)
        if changes:
            self._update(data_id, **changes)

    def _update(self, data_id: str, **changes: Any) -> None:
        with self._lock:
            state = self._states[data_id]
            if state.status.finished:
                return  # a late report after the end changes nothing
            status_changed = changes.get("status", state.status) is not state.status
            for name, value in changes.items():
                setattr(state, name, value)
            snapshot = _copy_state(state)
        self._display.update(snapshot, status_changed)

    def _finish(
        self,
        data_id: str,
        status: PreloadStatus,
        message: str | None,
        error: BaseException | None = None,
        produced: list[str] | None = None,
    ) -> None:
        with self._lock:
            state = self._states[data_id]
            if state.status.finished:
                return
            state.status = status
            state.exception = error
            state.data_ids = produced or []
            if message is not None:
                state.message = message
            if status is PreloadStatus.COMPLETED:
                state.progress = 1.0
            snapshot = _copy_state(state)
            self._unfinished -= 1
            all_finished = self._unfinished == 0
        self._display.update(snapshot, True)
        if all_finished:
            self._display.close()
            self._all_finished.set()

    def _shutdown(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


def _copy_state(state: PreloadState) -> PreloadState:
    return replace(state, data_ids=list(state.data_ids))


def _as_ids(returned: Iterable[str] | None, data_id: str) -> list[str]:
    if returned is None:
        return []
    if isinstance(returned, str):
        return [returned]
    ids = list(returned)
    for item in ids:
        if not isinstance(item, str):
            raise DataStoreError(
                f"the preload task returned a non-string data id {item!r}", data_id=data_id
            )
    return ids


def _remove_paths(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass  # a leftover temporary file is not worth failing the preload for


def _shorten(text: str, width: int = _MESSAGE_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------- displays


def _in_jupyter() -> bool:
    """Whether we run in a Jupyter kernel (IPython already imported, with a kernel)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _new_display(handle: PreloadHandle, silent: bool) -> _Display:
    if silent:
        return _Display()
    if _in_jupyter():
        return _JupyterDisplay(handle)
    stream = sys.stderr
    if stream is not None and _is_terminal(stream):
        return _BarDisplay(handle, stream)
    return _LineDisplay(stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Display:
    """Shows nothing; the interface of the displays."""

    def update(self, state: PreloadState, status_changed: bool) -> None:
        pass

    def write(self, text: str) -> None:
        """Print ``text`` on standard output without mixing it into the progress shown."""
        print(text)

    def close(self) -> None:
        pass


class _LineDisplay(_Display):
    """One line per status change, for logs and non-interactive output."""

    def __init__(self, stream: TextIO | None):
        self._stream = stream
        self._lock = threading.Lock()

    def update(self, state: PreloadState, status_changed: bool) -> None:
        if not status_changed or self._stream is None:
            return
        line = f"preload {state.data_id}: {state.status}"
        if state.message and state.status in (PreloadStatus.FAILED, PreloadStatus.COMPLETED):
            line += f": {_shorten(state.message)}"
        with self._lock:
            try:
                print(line, file=self._stream, flush=True)
            except (OSError, ValueError):
                pass


class _BarDisplay(_Display):
    """One tqdm progress bar per data id, on a terminal."""

    def __init__(self, handle: PreloadHandle, stream: TextIO):
        from tqdm import tqdm

        self._lock = threading.Lock()
        self._bars = {
            state.data_id: tqdm(
                total=100,
                desc=state.data_id,
                position=index,
                file=stream,
                leave=True,
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}",
                postfix=str(state.status),
            )
            for index, state in enumerate(handle.states)
        }

    def update(self, state: PreloadState, status_changed: bool) -> None:
        with self._lock:
            bar = self._bars.get(state.data_id)
            if bar is None:
                return
            bar.n = round(state.progress * 100)
            status = str(state.status)
            message = _shorten(state.message, 40)
            bar.set_postfix_str(f"{status} {message}".strip(), refresh=False)
            if status_changed:
                bar.refresh()
            else:
                bar.update(0)  # refreshes at most every tqdm mininterval

    def write(self, text: str) -> None:
        from tqdm import tqdm

        with self._lock:
            if self._bars:  # lift the bars, print, draw them again below
                tqdm.write(text, file=sys.stdout)
                return
        print(text)

    def close(self) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()


class _JupyterDisplay(_Display):
    """An HTML table updated in place in the notebook cell's output."""

    _MIN_INTERVAL = 0.2

    def __init__(self, handle: PreloadHandle):
        from IPython.display import HTML, display

        self._handle = handle
        self._html = HTML
        self._output = display(HTML(handle._repr_html_()), display_id=True)
        self._lock = threading.Lock()
        self._last = 0.0

    def update(self, state: PreloadState, status_changed: bool) -> None:
        now = time.monotonic()
        with self._lock:
            if not status_changed and now - self._last < self._MIN_INTERVAL:
                return
            self._last = now
            if self._output is not None:
                self._output.update(self._html(self._handle._repr_html_()))

    def close(self) -> None:
        with self._lock:
            if self._output is not None:
                self._output.update(self._html(self._handle._repr_html_()))
