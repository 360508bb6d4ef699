"""Many threads and processes on one cache folder: every document is fetched once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter

from conftest import CLOUD, FAST_RETRIES

from eostores import new_data_store


def _per_request(server) -> Counter:
    return Counter((r.path, tuple(sorted(r.query.items()))) for r in server.request_log)


def test_threads_with_stores_of_their_own_fetch_each_document_once(emulator, tmp_path):
    cache = str(tmp_path / "cache")
    stores = [
        new_data_store("cciodp", **emulator.store_params(), **FAST_RETRIES, cache_dir=cache)
        for _ in range(8)
    ]
    barrier = threading.Barrier(len(stores))
    results: list = [None] * len(stores)

    def describe(index: int) -> None:
        barrier.wait()
        results[index] = stores[index].describe_data(CLOUD.drs_id).to_dict()

    threads = [threading.Thread(target=describe, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result == results[0] for result in results)
    counts = _per_request(emulator)
    assert len(counts) >= 6 and set(counts.values()) == {1}, counts


_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from eostores import new_data_store

    params = json.loads(sys.argv[1])
    store = new_data_store("cciodp", **params)
    descriptor = store.describe_data(sys.argv[2])
    cube = store.open_data(sys.argv[2], variable_names=[], time_range=["2000-01-01", None])
    print(json.dumps({"dims": descriptor.dims, "time": cube.sizes["time"]}))
    """
)


def test_processes_fetch_each_document_once(emulator, tmp_path):
    params = {**emulator.store_params(), **FAST_RETRIES, "cache_dir": str(tmp_path / "cache")}
    command = [sys.executable, "-c", _SCRIPT, json.dumps(params), CLOUD.drs_id]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=240) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        result = json.loads(stdout.strip().splitlines()[-1])
        assert result == {"dims": {"time": 24, "lat": 60, "lon": 120}, "time": 24}
    counts = _per_request(emulator)
    assert set(counts.values()) == {1}, counts
