"""The offline demo: a stack-mode cube across two UTM zones from the STAC emulator."""

from __future__ import annotations

from collections.abc import Callable


def demo(say: Callable[[str], None]) -> None:
    """Start the emulator, open an item and a two-zone cube, and report what came back."""
    import numpy as np

    from eostores import new_data_store

    from .emulator import StacEmulator

    with StacEmulator(mode="api", many_items=50) as emulator:
        say(f"STAC API emulator at {emulator.catalog_url}")
        items = new_data_store("stac", url=emulator.catalog_url)
        first = next(iter(items.get_data_ids()))
        say(f"stac: first item {first}")
        dataset = items.open_data(first, variable_names=["B04", "aot"])
        say(
            f"item opened lazily: {dict(dataset.sizes)}, B04 mean "
            f"{float(dataset.B04.mean()):.4f} (scaled from uint16 by the raster extension)"
        )
        cubes = new_data_store("stac", url=emulator.catalog_url, stack_mode=True)
        cube = cubes.open_data(
            "sentinel-2-l2a",
            variable_names=["B02", "B04"],
            bbox=[11.9, 50.06, 12.12, 50.14],
            crs="EPSG:4326",
            spatial_res=0.001,
            time_range=["2024-06-01", "2024-06-11"],
        )
        say(
            f"stack mode: {dict(cube.sizes)} from {len(cube.attrs['stac_item_ids'])} items "
            "in UTM zones 32N and 33N, mosaicked on a lon/lat grid"
        )
        valid = float(np.isfinite(cube.B04.isel(time=0).values).mean())
        say(f"first time step: {valid:.0%} of pixels filled, B04 mean {float(cube.B04.mean()):.4f}")
