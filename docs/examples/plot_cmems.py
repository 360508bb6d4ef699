"""
# Copernicus Marine: ocean temperature

The `cmems` store opens Copernicus Marine datasets lazily from their ARCO Zarr services,
choosing for each request the layout that reads the fewest bytes. Here it talks to the
Copernicus Marine emulator of `eostores-cmems`, whose values are known functions of time,
depth and position.
"""

# %%
# Start the emulator and point a store at it (with the real service, give your Copernicus
# Marine username and password instead of the emulator's parameters).
import matplotlib.pyplot as plt
from eostores_cmems.testing import CmemsEmulator

from eostores import new_data_store

emulator = CmemsEmulator().start()
store = new_data_store("cmems", **emulator.store_params())
data_id = "cmems_mod_glo_phy-thetao_anfc_1deg_P1D-m"

# %%
# Open ten days of sea water temperature in the upper 50 m off Iberia.
cube = store.open_data(
    data_id,
    variable_names=["thetao"],
    bbox=[-20.0, 30.0, 5.0, 50.0],
    time_range=["2023-07-01", "2023-07-10"],
    depth_range=[0.0, 50.0],
)
print(cube)

# %%
# A map of the surface on the first day.
cube.thetao.isel(time=0, depth=0).plot(cmap="RdYlBu_r")
plt.show()

# %%
# The surface temperature at one point through time.
cube.thetao.isel(depth=0).sel(latitude=40, longitude=-15, method="nearest").plot(marker="o")
plt.show()

# %%
# The first day at four depths side by side.
cube.thetao.isel(time=0, depth=slice(0, 4)).plot(col="depth", col_wrap=2, cmap="RdYlBu_r")
# mkdocs_gallery_thumbnail_number = 3
plt.show()

emulator.stop()
