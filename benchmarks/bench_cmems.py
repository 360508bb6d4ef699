"""Benchmark: the cmems store's service choice and catalogue cache, as ratios.

1. A one-year daily series at one point (``analysed_sst`` of the emulated OSTIA dataset):
   the bytes of the data objects fetched with the automatic service choice versus the
   bytes of the chunks that hold the series (goal: <= 1.5), versus forcing the other ARCO
   service, and the requests made versus those the protocol needs (the consolidated
   metadata, one object per coordinate and one per chunk).
2. Listing the data ids a second time, in a new store reading the disk cache, versus the
   first listing, which walks the catalogue (goal: < 0.05). The emulator answers every
   request after ``--latency-ms``, so that round trips show up as time.

Run: ``python benchmarks/bench_cmems.py [--latency-ms 20] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

from benchutil import goal, run_with_goals
from eostores_cmems.testing import CmemsEmulator, find_dataset

from eostores import new_data_store

SST = "cmems_obs-sst_glo_phy_nrt_l4_P1D-m"
POINT = dict(
    variable_names=["analysed_sst"],
    bbox=[10.2, 40.2, 10.8, 40.8],
    time_range=["2020-01-01", "2020-12-31"],
)


def chunk_bytes_holding(asset: str, lat: float, lon: float, days: int) -> int:
    """Bytes of the chunks of ``asset`` that hold ``days`` daily values at one point."""
    sample = find_dataset(SST)
    chunks = sample.chunks[asset]
    lat_index = list(sample.latitudes).index(lat)
    lon_index = list(sample.longitudes).index(lon)
    counts = {
        "time": (days - 1) // chunks["time"] + 1,
        "latitude": lat_index // chunks["latitude"] - lat_index // chunks["latitude"] + 1,
        "longitude": lon_index // chunks["longitude"] - lon_index // chunks["longitude"] + 1,
    }
    per_chunk = 4 * math.prod(chunks[d] for d in sample.dims)
    return per_chunk * math.prod(counts.values())


def data_bytes(emulator: CmemsEmulator) -> tuple[int, int, int]:
    """(bytes of every data object fetched, metadata and coordinates included; requests;
    chunk requests) of the data service."""
    records = emulator.data_requests()
    chunks = [r for r in records if "/analysed_sst/" in r.path and r.path[-1].isdigit()]
    return sum(r.bytes_sent for r in records), len(records), len(chunks)


def series_at_a_point(latency_ms: float) -> None:
    with CmemsEmulator(latency_ms=latency_ms) as emu, tempfile.TemporaryDirectory() as cache:
        store = new_data_store("cmems", **emu.store_params(), cache_dir=cache)
        store.describe_data(SST)
        results = {}
        for service in ("auto", "arco-geo-series", "arco-time-series"):
            emu.reset_log()
            started = time.perf_counter()
            cube = store.open_data(SST, service=service, **POINT)
            cube.load()
            elapsed = time.perf_counter() - started
            results[service] = (*data_bytes(emu), elapsed, cube.attrs["cmems_service"])
        chosen = results["auto"][4]
        asset = {"arco-geo-series": "timeChunked", "arco-time-series": "geoChunked"}[chosen]
        ideal = chunk_bytes_holding(asset, 40.5, 10.5, 366)
        other = "arco-geo-series" if chosen == "arco-time-series" else "arco-time-series"
        auto_bytes, auto_requests, auto_chunks = results["auto"][:3]
        necessary = 1 + 3 + auto_chunks  # .zmetadata, time/lat/lon, the chunks
        print(f"one-year series at one point: automatic choice {chosen}")
        print(
            f"  bytes fetched / bytes of the chunks holding the series: "
            f"{auto_bytes / ideal:.2f}x ({auto_bytes} / {ideal}) "
            + goal("series bytes / chunks holding it", auto_bytes / ideal, at_most=1.5)
        )
        print(
            f"  bytes fetched, automatic / forced {other}: "
            f"{auto_bytes / results[other][0]:.4f}x ({auto_bytes} / {results[other][0]})"
        )
        print(f"  time, automatic / forced {other}: {results['auto'][3] / results[other][3]:.3f}x")
        print(
            f"  requests made / requests the protocol needs: "
            f"{auto_requests / necessary:.2f}x ({auto_requests} / {necessary})"
        )


def listing_twice(latency_ms: float, rounds: int) -> None:
    ratios = []
    for _ in range(rounds):
        with (
            CmemsEmulator(latency_ms=latency_ms) as emu,
            tempfile.TemporaryDirectory() as cache,
        ):
            params = {**emu.store_params(), "cache_dir": cache}
            started = time.perf_counter()
            first = new_data_store("cmems", **params).list_data_ids()
            walk = time.perf_counter() - started
            started = time.perf_counter()
            second = new_data_store("cmems", **params).list_data_ids()
            cached = time.perf_counter() - started
            assert first == second
            ratios.append((cached / walk, walk, cached, len(emu.request_log)))
    best = min(ratios)
    print(f"listing ids, latency {latency_ms:g} ms per request")
    print(
        f"  second listing (disk cache) / first (catalogue walk of {best[3]} requests): "
        f"{best[0]:.4f}x ({best[2] * 1000:.1f} ms / {best[1] * 1000:.1f} ms) "
        + goal("cached listing / catalogue walk", best[0], below=0.05)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    series_at_a_point(args.latency_ms)
    listing_twice(args.latency_ms, args.rounds)


if __name__ == "__main__":
    run_with_goals(main)
