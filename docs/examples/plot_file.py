"""
# Files: a Zarr cube in a folder

The `file` store reads the Zarr, NetCDF, GeoTIFF and vector files below a folder. Here the
folder is a temporary one holding eostores' sample cube, a global daily grid whose sea
surface temperature is a known function of time, latitude and longitude.
"""

# %%
# Write the sample cube into a folder, then list and open it through a `file` store.
import tempfile

import matplotlib.pyplot as plt

from eostores import new_data_store
from eostores.demo import sample_cube

folder = tempfile.TemporaryDirectory()
store = new_data_store("file", root=folder.name)
store.write_data(sample_cube(days=10, resolution=2.0), "sst.zarr")
store.list_data_ids()

# %%
# Open a subset lazily: one variable, the North Atlantic, the first week.
cube = store.open_data(
    "sst.zarr",
    variable_names=["sst"],
    bbox=[-80, 0, 0, 60],
    time_range=["2024-01-01", "2024-01-07"],
)
print(cube)

# %%
# A map of the first day.
cube.sst.isel(time=0).plot(cmap="viridis")
plt.title("sea surface temperature, 2024-01-01")
plt.show()

# %%
# The time series at one point.
cube.sst.sel(lat=30, lon=-40, method="nearest").plot(marker="o")
plt.title("sea surface temperature at 30°N 40°W")
plt.show()

# %%
# Four days side by side.
cube.sst.isel(time=slice(0, 4)).plot(col="time", col_wrap=2, cmap="viridis")
# mkdocs_gallery_thumbnail_number = 3
plt.show()

folder.cleanup()
