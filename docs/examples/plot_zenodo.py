"""
# Zenodo: a NetCDF file of a record

The `zenodo` store lists the files of a Zenodo record and opens them, reading only the byte
ranges a subset needs where the format allows it. Here it talks to the Zenodo emulator of
`eostores-zenodo`, whose sample record holds a daily temperature grid.
"""

# %%
# Start the emulator and point a store at its sample record (with the real service,
# `root` is a record id or DOI and no `api_url` is needed).
import matplotlib.pyplot as plt
from eostores_zenodo.testing import ZenodoEmulator

from eostores import new_data_store

emulator = ZenodoEmulator().start()
store = new_data_store("zenodo", **emulator.store_params())
store.describe_data("temperature.nc").data_vars.keys()

# %%
# Open Europe lazily from the NetCDF file.
cube = store.open_data("temperature.nc", variable_names=["temperature"], bbox=[-10, 35, 30, 60])
print(cube)

# %%
# A map of the first day.
cube.temperature.isel(time=0).plot(cmap="inferno")
plt.show()

# %%
# The time series at one point.
cube.temperature.sel(lat=48, lon=10, method="nearest").plot(marker="o")
plt.show()

# %%
# Every day side by side.
cube.temperature.plot(col="time", col_wrap=2, cmap="inferno")
# mkdocs_gallery_thumbnail_number = 3
plt.show()

emulator.stop()
