"""
# STAC: a Sentinel-2 mosaic across two UTM zones

The `stac` store searches a STAC API and opens items, or (with `stack_mode=True`) whole
collections as cubes: the items of each date are reprojected and mosaicked onto one grid.
Here it talks to the STAC emulator of `eostores-stac`, whose Cloud-Optimised GeoTIFFs hold
reflectances that are known functions of position and date.
"""

# %%
# Start the emulator and point a store at it in stack mode (with a real catalogue, `url`
# is its address).
import matplotlib.pyplot as plt
from eostores_stac.testing import StacEmulator

from eostores import new_data_store

emulator = StacEmulator(mode="api").start()
store = new_data_store("stac", url=emulator.catalog_url, stack_mode=True)

# %%
# Open a lon/lat cube of the red band from items in UTM zones 32N and 33N.
cube = store.open_data(
    "sentinel-2-l2a",
    variable_names=["B04"],
    bbox=[11.9, 50.06, 12.12, 50.14],
    crs="EPSG:4326",
    spatial_res=0.001,
    time_range=["2024-06-01", "2024-06-11"],
)
print(cube)

# %%
# A map of the first date.
cube.B04.isel(time=0).plot(cmap="Reds")
plt.show()

# %%
# The time series at one point.
cube.B04.sel(lat=50.1, lon=12.0, method="nearest").plot(marker="o")
plt.show()

# %%
# Every date side by side.
cube.B04.plot(col="time", col_wrap=3, cmap="Reds")
# mkdocs_gallery_thumbnail_number = 3
plt.show()

emulator.stop()
