"""stac-destine's download cache: one transfer per asset, whatever shares the cache."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from eostores_stac.access import AssetAccess
from eostores_stac.config import StoreSettings
from eostores_stac.destine import DownloadingAccess

from eostores import new_data_store
from eostores.errors import DataNotFoundError

_OPEN = r"""
import json, sys
import numpy as np
from eostores import new_data_store
params, data_id = json.loads(sys.argv[1]), sys.argv[2]
store = new_data_store("stac-destine", **params)
dataset = store.open_data(data_id, variable_names=["B02", "B03", "aot"]).compute()
print(float(np.nanmean(dataset.B02.values)))
"""


@pytest.fixture
def destine_params(cachea_emulator, tmp_path, fast_http):
    return {**cachea_emulator.store_params(), "cache_dir": str(tmp_path / "cache"), **fast_http}


def _downloads(emulator) -> Counter:
    return Counter(
        r.query.get("filename")
        for r in emulator.request_log
        if r.path == "/stac/download" and r.status == 200
    )


def _check_cache(root) -> None:
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    assert not [p for p in files if p.name.endswith((".part", ".meta")) or p.name == ".download"]
    assert all(root in p.parents for p in files)


def test_threads_and_store_instances_share_one_download(destine_params, cachea_emulator):
    cachea_emulator.reset_log()
    scene = cachea_emulator.data.scenes[5]
    data_id = cachea_emulator.item_data_id(scene.item_id)
    results, errors = [], []

    def open_one() -> None:
        try:
            store = new_data_store("stac-destine", **destine_params)
            dataset = store.open_data(data_id, variable_names=["B02", "aot", "wvp"])
            results.append(float(np.nanmean(dataset.B02.values)))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 6 and len(set(results)) == 1
    counts = _downloads(cachea_emulator)
    assert len(counts) == 3 and set(counts.values()) == {1}, counts
    _check_cache(Path(destine_params["cache_dir"]))


def test_processes_share_one_download(destine_params, cachea_emulator):
    cachea_emulator.reset_log()
    scene = cachea_emulator.data.scenes[6]
    data_id = cachea_emulator.item_data_id(scene.item_id)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, json.dumps(destine_params), data_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    store = new_data_store("stac-destine", **destine_params)
    mine = float(np.nanmean(store.open_data(data_id, variable_names=["B02"]).B02.values))
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=240)
        assert child.returncode == 0, err[-2000:]
        outputs.append(float(out.strip().splitlines()[-1]))
    assert all(value == pytest.approx(mine) for value in outputs)
    counts = _downloads(cachea_emulator)
    assert len(counts) == 3 and set(counts.values()) == {1}, counts
    _check_cache(Path(destine_params["cache_dir"]))


@pytest.mark.parametrize(
    "filename",
    [
        "../../../../etc/passwd",
        "SENTINEL-2/../../outside.tif",
        "/abs/olute.tif",
        "..",
        "a/b/%2e%2e%2fc.tif",
        "CON",
        ".hidden",
    ],
)
def test_names_from_the_service_stay_in_the_cache(cachea_emulator, tmp_path, filename):
    settings = StoreSettings.from_params(
        "stac-destine",
        {**cachea_emulator.store_params(), "cache_dir": str(tmp_path / "cache"), "num_retries": 0},
    )
    access = DownloadingAccess(settings)
    href = f"{cachea_emulator.url}/stac/download?" + urlencode({"filename": filename})
    with pytest.raises(DataNotFoundError):
        access.local_path(href)
    created = list(tmp_path.rglob("*"))
    assert all((tmp_path / "cache") in p.parents or p == tmp_path / "cache" for p in created)


def test_assets_other_than_http_or_s3_are_never_read(tmp_path):
    secret = tmp_path / "secret.tif"
    secret.write_bytes(b"II*\x00")
    access = AssetAccess(StoreSettings.from_params("stac", {"url": "https://example.org/stac"}))
    for href in (str(secret), f"file://{secret}", "ftp://example.org/x.tif", "/etc/passwd"):
        with pytest.raises(DataNotFoundError, match="not read"):
            access.filesystem(href)
