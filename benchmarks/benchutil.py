"""Helpers shared by the benchmark scripts: test data and alternating timing."""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

MB = 1 << 20


def write_random_zip(path: Path, size: int, members: int = 20, folder: str = "data") -> None:
    """A deflated zip of random (incompressible) data in ``members`` files below ``folder``."""
    per_member = size // members
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for index in range(members):
            with zf.open(f"{folder}/part-{index:03d}.bin", "w", force_zip64=True) as member:
                for offset in range(0, per_member, 16 * MB):
                    member.write(os.urandom(min(16 * MB, per_member - offset)))


def best_times(
    candidates: dict[str, Callable[[], None]], rounds: int, cleanup: Callable[[], None]
) -> dict[str, float]:
    """Run the candidates alternately; the best wall time of each."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, run in candidates.items():
            cleanup()
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    cleanup()
    return best
