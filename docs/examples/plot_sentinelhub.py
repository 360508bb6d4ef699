"""
# Sentinel Hub: NDVI from Sentinel-2

The `sentinelhub` store opens Sentinel Hub collections as lazy cubes: each chunk is one
Process API request. Here it talks to the Sentinel Hub emulator of `eostores-sentinelhub`,
whose reflectances are known functions of band, position and date.
"""

# %%
# Start the emulator and point a store at it (with the real service, give `client_id` and
# `client_secret` instead of the emulator's parameters).
import matplotlib.pyplot as plt
from eostores_sentinelhub.testing import SentinelHubEmulator

from eostores import new_data_store

emulator = SentinelHubEmulator().start()
store = new_data_store("sentinelhub", **emulator.store_params())

# %%
# Open red and near-infrared reflectances lazily: one time step per acquisition.
cube = store.open_data(
    "S2L2A",
    variable_names=["B04", "B08"],
    bbox=[10.0, 50.0, 10.1, 50.06],
    spatial_res=0.001,
    time_range=["2021-06-01", "2021-06-20"],
    time_period=None,
)
ndvi = ((cube.B08 - cube.B04) / (cube.B08 + cube.B04)).rename("NDVI")
ndvi.attrs = {"long_name": "NDVI", "units": "1"}
print(cube)

# %%
# A map of the NDVI of the first acquisition.
ndvi.isel(time=0).plot(cmap="YlGn")
plt.show()

# %%
# The NDVI at one point through time.
ndvi.sel(lat=50.03, lon=10.05, method="nearest").plot(marker="o")
plt.show()

# %%
# Every acquisition side by side, labelled by its date.
dates = ndvi.assign_coords(time=ndvi.time.dt.strftime("%Y-%m-%d"))
dates.plot(col="time", col_wrap=2, cmap="YlGn")
# mkdocs_gallery_thumbnail_number = 3
plt.show()

emulator.stop()
