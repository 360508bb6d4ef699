"""Running an emulator in a child process, controlled over its ``/_emulator/*`` endpoints."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .faults import FaultProfile, RequestRecord, coerce_faults
from .messages import CONTROL_PREFIX

if TYPE_CHECKING:
    from .server import EmulatorServer


class EmulatorProcess:
    """An emulator running in a child process, controlled over its ``/_emulator/*`` endpoints.

    The child exits on :meth:`stop` and when this process dies (it watches its stdin).
    The child inherits this process's ``sys.path`` so that emulator classes defined in test
    modules can be imported there.
    """

    def __init__(
        self,
        emulator_class: type[EmulatorServer],
        *,
        startup_timeout: float = 60.0,
        **init_kwargs: Any,
    ):
        module = emulator_class.__module__
        if module == "__main__" or "<locals>" in emulator_class.__qualname__:
            raise ValueError(
                f"{emulator_class.__qualname__} must be importable by module path "
                "to run in a subprocess (define it at module level of an importable module)"
            )
        self.emulator_class = emulator_class
        port = int(init_kwargs.pop("port", 0))
        host = init_kwargs.pop("host", "127.0.0.1")
        latency_ms = init_kwargs.pop("latency_ms", 0)
        faults = coerce_faults(init_kwargs.pop("faults", None))
        command = [
            sys.executable,
            "-m",
            "eostores.testing.runner",
            "--class",
            f"{module}:{emulator_class.__qualname__}",
            "--host",
            host,
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--watch-stdin",
        ]
        if faults is not None:
            command += ["--faults", json.dumps(faults.to_dict())]
        if init_kwargs:
            command += ["--kwargs", json.dumps(init_kwargs)]
        env = dict(os.environ)
        paths = [os.getcwd() if entry == "" else entry for entry in sys.path]
        paths += env.get("PYTHONPATH", "").split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        try:
            info = json.loads(self._read_first_line(startup_timeout))
        except BaseException:
            self.stop()
            raise
        self.url: str = info["url"]
        self._store_params: dict[str, Any] = info["store_params"]

    def _read_first_line(self, timeout: float) -> str:
        assert self._process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            if selector.select(timeout):
                line = self._process.stdout.readline().decode("utf-8").strip()
                if line:
                    return line
        self._process.poll()
        raise RuntimeError(
            f"emulator {self.emulator_class.__qualname__} did not start "
            f"(exit code {self._process.returncode}): {self._stderr_tail()}"
        )

    def _stderr_tail(self, limit: int = 4000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-limit:]

    @property
    def pid(self) -> int:
        return self._process.pid

    def store_params(self) -> dict[str, Any]:
        """Store parameters that point a store at the emulator."""
        return dict(self._store_params)

    def _call(self, method: str, action: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}{CONTROL_PREFIX}{action}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            raise RuntimeError(f"emulator control {method} {action} failed: {detail}") from None
        return json.loads(body) if body else None

    def _log(self) -> dict[str, Any]:
        return self._call("GET", "log")

    @property
    def request_log(self) -> list[RequestRecord]:
        """The child's request log."""
        return [RequestRecord(**record) for record in self._log()["records"]]

    @property
    def peak_concurrency(self) -> int:
        return int(self._log()["peak_concurrency"])

    def reset_log(self) -> None:
        self._call("DELETE", "log")

    def set_faults(self, faults: FaultProfile | Mapping[str, Any] | None) -> None:
        """Replace the child's fault profile (``None`` removes all faults)."""
        profile = coerce_faults(faults)
        self._call("POST", "faults", profile.to_dict() if profile else None)

    def issue_token(self) -> str:
        """A token the child emulator accepts (see :meth:`EmulatorServer.issue_token`)."""
        return self._call("POST", "token")["token"]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the child: close its stdin, then terminate, then kill."""
        process = self._process
        if process.poll() is None:
            try:
                if process.stdin is not None:
                    process.stdin.close()
                process.wait(timeout)
            except (subprocess.TimeoutExpired, OSError):
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
