"""The offline demo of the Zenodo store, run by ``eostores demo``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["demo", "demo_files"]


def demo(say: Callable[[str], None]) -> None:
    """Open a file of the emulated record lazily, then preload an archive."""
    from eostores import new_data_store

    from . import CONCEPT_ID, LATEST_RECORD_ID, ZenodoEmulator
    from .samples import sample_files, temperature_value

    with ZenodoEmulator(sample=False) as emulator, tempfile.TemporaryDirectory() as cache:
        emulator.add_record(
            LATEST_RECORD_ID,
            demo_files(sample_files()["v2"]),
            concept_id=CONCEPT_ID,
            title="Sample Earth observation data",
        )
        api_url = emulator.store_params()["api_url"]
        store = new_data_store(
            "zenodo",
            root="10.5281/zenodo.7000000",
            api_url=api_url,
            cache_store_params={"root": cache},
        )
        say(f"Zenodo emulator at {api_url}; concept DOI resolved to record {store.record_id}")
        listed = [
            f"{key} ({attrs['format']})"
            for key, attrs in store.list_data_ids(include_attrs=["format"])
        ]
        say(f"data ids: {', '.join(listed)}")
        emulator.reset_log()
        dataset = store.open_data(
            "temperature.nc",
            variable_names=["temperature"],
            bbox=[0, 40, 10, 50],
            time_range=["2020-01-02", "2020-01-02"],
        )
        value = dataset.temperature.isel(time=0, lat=0, lon=0)
        expected = temperature_value(1, float(value.lat), float(value.lon))
        sent = sum(record.bytes_sent for record in emulator.request_log)
        size = store.record.files["temperature.nc"].size
        say(
            f"opened temperature.nc lazily: {dict(dataset.sizes)}; value {float(value):.3f} "
            f"(expected {expected:.3f}); {len(emulator.request_log)} range requests, "
            f"{sent} of {size} bytes"
        )
        handle = store.preload_data("collection.zip", target_format="zarr")
        handle.raise_for_failures()
        say(f"preloaded collection.zip (md5 verified, extracted, converted): {handle.data_ids}")
        cube = handle.store.open_data(handle.data_ids[0])
        say(f"opened {handle.data_ids[0]} from the cache store: {dict(cube.sizes)}")


def demo_files(record: Any) -> dict[str, Path]:
    """The data files of a sample record, without the fixtures that test hostile input
    (archives escaping their folder, files with a wrong checksum)."""
    return {
        key: path
        for key, path in record.files.items()
        if not key.startswith("escape-") and key not in record.wrong_checksums
    }
