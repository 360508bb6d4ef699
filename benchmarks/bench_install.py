"""Footprint of ``pip install ./core`` in a fresh virtual environment.

Counts the installed distributions (goal <= 30) and measures site-packages, for the core
alone and with every extra. Needs the package registry.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import goal, run_with_goals

CORE = Path(__file__).resolve().parent.parent / "core"


def installed(spec: str) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        start = time.perf_counter()
        subprocess.run([str(python), "-m", "pip", "install", "-q", spec], check=True)
        seconds = time.perf_counter() - start
        listing = subprocess.run(
            [str(python), "-m", "pip", "list", "--format=freeze"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        names = [line.split("==")[0] for line in listing.splitlines() if "==" in line]
        names = [n for n in names if n.lower() not in ("pip", "setuptools", "wheel")]
        site = next((venv / "lib").glob("python*/site-packages"))
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        return len(names), size / 2**20, seconds


def main() -> None:
    if shutil.which("git") is None:
        print("note: git not found; installing from the working tree anyway")
    for label, spec in (("eostores", str(CORE)), ("eostores[all]", f"{CORE}[all]")):
        count, megabytes, seconds = installed(spec)
        verdict = (
            " " + goal("core alone: distributions", count, at_most=30, unit="")
            if label == "eostores"
            else ""
        )
        print(
            f"pip install {label:<14} {count:3d} distributions, site-packages "
            f"{megabytes:7.1f} MiB, {seconds:5.1f} s{verdict}"
        )


if __name__ == "__main__":
    run_with_goals(main)
