"""
# CDS: ERA5 air temperature

The `cds` store reaches the Copernicus Climate Data Store: a request becomes one job per
month, the jobs' NetCDF results are cached, and the cube opens from the cache. Here the
store talks to the CDS emulator of `eostores-cds`, which serves the catalogue and runs
jobs whose results are known functions of time and position.
"""

# %%
# Start the emulator and point a store at it (with the real service, give `cds_api_key`
# instead of the emulator's parameters).
import matplotlib.pyplot as plt
from eostores_cds.testing import CdsEmulator

from eostores import new_data_store

emulator = CdsEmulator().start()
store = new_data_store("cds", **emulator.store_params(), poll_interval=0.05)
store.describe_data("reanalysis-era5-single-levels").data_vars.keys()

# %%
# Open two days of 2 m temperature over the Alps every 6 hours.
cube = store.open_data(
    "reanalysis-era5-single-levels",
    variable_names=["2m_temperature"],
    bbox=[5.0, 44.0, 12.0, 48.0],
    time_range=["2020-01-30", "2020-01-31"],
    time_period="6H",
)
print(cube)

# %%
# A map of the first time step.
cube.t2m.isel(time=0).plot(cmap="coolwarm")
plt.show()

# %%
# The time series at one point.
cube.t2m.sel(lat=46.0, lon=8.0, method="nearest").plot(marker="o")
plt.show()

# %%
# Four time steps side by side.
cube.t2m.isel(time=slice(0, 4)).plot(col="time", col_wrap=2, cmap="coolwarm")
# mkdocs_gallery_thumbnail_number = 3
plt.show()

emulator.stop()
