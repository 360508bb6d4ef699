"""Run several pytest suites, a few at a time, and report every result at the end.

``python tools/run_suites.py [--jobs N] SUITE... [-- PYTEST ARGS]`` runs ``pytest SUITE``
for each suite in its own process (at most N at once), prints each suite's output when it
has finished (so that outputs never interleave), then one line per suite, and exits 1 if
any suite failed: a failing suite never hides the results of the others. A suite whose
output reports an unclosed aiohttp session or connector (during the tests or at exit) has
failed too: an open session is a leak, whichever test left it. A suite written
``PYTHON::SUITE`` runs with that interpreter (an environment of its own) instead of this one.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

#: What aiohttp prints (as a ResourceWarning or through asyncio's handler) for a leak.
UNCLOSED = re.compile(r"Unclosed (?:client session|connector)")


@dataclass
class SuiteResult:
    suite: str
    returncode: int
    seconds: float
    summary: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def _summary(output: str) -> str:
    """pytest's closing line (``== 12 passed in 3.4s ==``), without its decoration."""
    for line in reversed(output.strip().splitlines()):
        text = line.strip().strip("=").strip()
        if any(word in text for word in ("passed", "failed", "error", "no tests ran")):
            return text
    return "no summary line"


def run_suite(suite: str, pytest_args: list[str]) -> SuiteResult:
    """Run one suite; its output is printed as one block when it has finished."""
    start = time.monotonic()
    python, _, path = suite.rpartition("::")
    process = subprocess.run(
        [python or sys.executable, "-m", "pytest", path, *pytest_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seconds = time.monotonic() - start
    print(f"\n===== {path} (exit {process.returncode}, {seconds:.0f} s) =====", flush=True)
    print(process.stdout, flush=True)
    returncode, summary = process.returncode, _summary(process.stdout)
    leaks = len(UNCLOSED.findall(process.stdout))
    if leaks:
        returncode = returncode or 1
        summary += f"; {leaks} unclosed aiohttp session(s) or connector(s) reported"
    return SuiteResult(suite, returncode, seconds, summary)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        index = argv.index("--")
        argv, pytest_args = argv[:index], argv[index + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("EOSTORES_TEST_JOBS", "1")),
        help="suites run at once (default: $EOSTORES_TEST_JOBS or 1)",
    )
    parser.add_argument("suites", nargs="+")
    args = parser.parse_args(argv)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda suite: run_suite(suite, pytest_args), args.suites))
    print("\n===== summary =====")
    for result in results:
        status = "ok    " if result.passed else "FAILED"
        path = result.suite.rpartition("::")[2]
        print(f"{status} {path:<32} {result.seconds:6.0f} s  {result.summary}")
    counts = {word: 0 for word in ("passed", "failed", "skipped")}
    for result in results:
        for number, word in re.findall(r"(\d+) (passed|failed|skipped|error)", result.summary):
            counts["failed" if word == "error" else word] += int(number)
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    failed = [r.suite for r in results if not r.passed]
    if failed:
        print(f"{len(failed)} of {len(results)} suites failed: {', '.join(failed)}")
        return 1
    print(f"all {len(results)} suites passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
