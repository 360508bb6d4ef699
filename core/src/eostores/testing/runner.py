"""Running an emulator in the foreground, and its command line.

``python -m eostores.testing.runner --class pkg.module:Emulator [--port P] ...`` is what
:class:`~eostores.testing.process.EmulatorProcess` starts in its child process.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from .faults import FaultProfile, coerce_faults
from .server import EmulatorServer

__all__ = ["load_emulator_class", "main", "run_emulator"]


def load_emulator_class(spec: str) -> type[EmulatorServer]:
    """The emulator class named ``module:QualifiedName``."""
    module_name, sep, qualname = spec.partition(":")
    if not sep:
        raise ValueError(f"expected 'module:Class', got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not (isinstance(target, type) and issubclass(target, EmulatorServer)):
        raise TypeError(f"{spec} is not an EmulatorServer subclass")
    return target


def run_emulator(
    cls: type[EmulatorServer],
    port: int = 0,
    latency_ms: float = 0,
    faults: FaultProfile | Mapping[str, Any] | str | None = None,
    out: TextIO | None = None,
    *,
    host: str = "127.0.0.1",
    init_kwargs: Mapping[str, Any] | None = None,
    stop_event: threading.Event | None = None,
    watch_stdin: bool = False,
) -> None:
    """Run an emulator in the foreground until interrupted (or ``stop_event`` is set).

    Writes one JSON line ``{"name", "url", "port", "store_params"}`` to ``out``
    (standard output by default) once the server listens. SIGTERM and SIGHUP stop it like
    Ctrl-C does, so that the emulator removes its temporary files.
    """
    out = sys.stdout if out is None else out
    stop_event = stop_event or threading.Event()
    with _stopping_on_signals(stop_event):
        _serve(cls, port, latency_ms, faults, out, host, init_kwargs, stop_event, watch_stdin)


@contextlib.contextmanager
def _stopping_on_signals(stop_event: threading.Event) -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP set ``stop_event`` (in the main thread only,
    where Python delivers signals); the previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ("SIGTERM", "SIGHUP")
    wanted = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {number: signal.signal(number, lambda *_: stop_event.set()) for number in wanted}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _serve(
    cls: type[EmulatorServer],
    port: int,
    latency_ms: float,
    faults: FaultProfile | Mapping[str, Any] | str | None,
    out: TextIO,
    host: str,
    init_kwargs: Mapping[str, Any] | None,
    stop_event: threading.Event,
    watch_stdin: bool,
) -> None:
    emulator = cls(
        latency_ms=latency_ms,
        faults=coerce_faults(faults),
        host=host,
        port=port,
        **dict(init_kwargs or {}),
    )
    with emulator:
        info = {
            "name": emulator.name,
            "url": emulator.url,
            "port": emulator.port,
            "store_params": emulator.store_params(),
        }
        out.write(json.dumps(info) + "\n")
        out.flush()
        if watch_stdin:
            sys.stdout = sys.stderr  # the parent reads only the first line

            def watch() -> None:
                try:
                    while sys.stdin.buffer.read(4096):
                        pass
                finally:
                    stop_event.set()

            threading.Thread(target=watch, name="emulator-stdin-watch", daemon=True).start()
        try:
            while not stop_event.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass


def main(argv: list[str] | None = None) -> int:
    """``python -m eostores.testing.runner --class pkg.mod:Class [--port P] ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m eostores.testing.runner", description="Run a service emulator."
    )
    parser.add_argument("--class", dest="cls", required=True, help="module:Class of the emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--faults", default=None, help="FaultProfile settings as JSON")
    parser.add_argument("--kwargs", default=None, help="extra emulator arguments as JSON")
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes")
    args = parser.parse_args(argv)
    try:
        cls = load_emulator_class(args.cls)
        faults = coerce_faults(args.faults)
        init_kwargs = json.loads(args.kwargs) if args.kwargs else None
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        parser.error(str(error))
    run_emulator(
        cls,
        port=args.port,
        latency_ms=args.latency_ms,
        faults=faults,
        host=args.host,
        init_kwargs=init_kwargs,
        watch_stdin=args.watch_stdin,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
