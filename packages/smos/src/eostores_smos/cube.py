"""Cubes and pyramids of products: the function computing one chunk, and the levels.

A chunk is one product and one spatial block of a level's window. Computing it reads the
product's grid point positions and the cube's variables (once per product and process,
see :mod:`eostores_smos.archive`), maps the block's pixel centres to the nearest grid
points and takes their values. Everything here pickles, so that dask.distributed workers
compute chunks in other processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import context
from eostores.http import call_deadline

from .archive import ArchiveReader
from .config import STORE_ID, CubeRequest, DatasetInfo, Product
from .convert import build_dataset, decode_values
from .grid import PointIndex, Window, valid_points, window_for_bbox

if TYPE_CHECKING:
    import xarray

__all__ = ["GEOLOCATION", "CubeSource", "PyramidLevels", "VariableChunks", "open_cube"]

#: The variables of every product that place its grid points.
GEOLOCATION = ("Grid_Point_ID", "Latitude", "Longitude")


class CubeSource:
    """What the chunks of one cube are computed from."""

    def __init__(
        self,
        reader: ArchiveReader,
        info: DatasetInfo,
        variable_names: Sequence[str],
        window: Window,
        products: Sequence[Product],
    ):
        self.reader = reader
        self.info = info
        self.variable_names = tuple(variable_names)
        self.window = window
        self.products = tuple(products)

    def _points(self, product: Product) -> tuple[np.ndarray, PointIndex]:
        """Positions (indices into the product's arrays) of its valid points, and their index."""

        def build() -> tuple[np.ndarray, PointIndex]:
            raw = self.reader.read(product, GEOLOCATION + self.variable_names)
            lat = decode_values(raw["Latitude"].values, raw["Latitude"].attrs)
            lon = decode_values(raw["Longitude"].values, raw["Longitude"].attrs)
            valid = valid_points(raw["Grid_Point_ID"].values, lat, lon)
            return np.flatnonzero(valid), PointIndex(lat[valid], lon[valid])

        return self.reader.memo(("points", product.path), build)

    def _values(self, product: Product, name: str) -> np.ndarray:
        def build() -> np.ndarray:
            positions, _ = self._points(product)
            raw = self.reader.read(product, GEOLOCATION + self.variable_names)[name]
            return decode_values(raw.values, raw.attrs)[positions]

        return self.reader.memo(("values", product.path, name), build)

    def _mapping(self, product: Product, rows: slice, cols: slice) -> np.ndarray:
        window = self.window
        key = (
            "mapping",
            product.path,
            window.level,
            window.row0 + rows.start,
            rows.stop - rows.start,
            window.col0 + cols.start,
            cols.stop - cols.start,
        )

        def build() -> np.ndarray:
            _, index = self._points(product)
            return index.nearest(window.lat()[rows], window.lon()[cols]).astype(np.int32)

        return self.reader.memo(key, build)

    def chunk(self, name: str, index: tuple[int, ...]) -> np.ndarray:
        """Chunk ``(time, row block, column block)`` of variable ``name``."""
        step, row_block, col_block = index
        product = self.products[step]
        rows, cols = self.window.block(row_block, col_block)
        with context(STORE_ID, self.info.data_id), call_deadline(self.reader.spec.http.deadline):
            mapping = self._mapping(product, rows, cols)
            values = self._values(product, name)
        result = np.full((1, *mapping.shape), np.nan, dtype=np.float32)
        hit = mapping >= 0
        result[0][hit] = values[mapping[hit]]
        return result


class VariableChunks:
    """The chunk function of one variable of a cube (picklable)."""

    def __init__(self, source: CubeSource, name: str):
        self.source = source
        self.name = name

    def __call__(self, index: tuple[int, ...]) -> np.ndarray:
        return self.source.chunk(self.name, index)

    def __repr__(self) -> str:
        return f"VariableChunks({self.source.info.data_id!r}, {self.name!r})"


def open_cube(
    reader: ArchiveReader,
    info: DatasetInfo,
    request: CubeRequest,
    products: Sequence[Product],
    level: int,
    attrs: dict[str, Any],
) -> xarray.Dataset:
    """The lazy cube of ``products`` at ``level`` over the request's bbox."""
    window = window_for_bbox(level, request.bbox)
    source = CubeSource(reader, info, request.variable_names, window, products)
    bbox = window.bbox()
    cube_attrs = {
        **attrs,
        "res_level": level,
        "spatial_res": window.res,
        "bbox": list(bbox),
        "geospatial_lon_min": bbox[0],
        "geospatial_lat_min": bbox[1],
        "geospatial_lon_max": bbox[2],
        "geospatial_lat_max": bbox[3],
    }
    return build_dataset(
        info,
        request.variable_names,
        window,
        products,
        lambda name: VariableChunks(source, name),
        max_workers=reader.spec.http.max_concurrency_per_host or 8,
        attrs=cube_attrs,
    )


class PyramidLevels:
    """The levels of a multi-level dataset: cube ``level`` of the same products (picklable)."""

    def __init__(
        self,
        reader: ArchiveReader,
        info: DatasetInfo,
        request: CubeRequest,
        products: Sequence[Product],
        attrs: dict[str, Any],
    ):
        self.reader = reader
        self.info = info
        self.request = request
        self.products = tuple(products)
        self.attrs = dict(attrs)

    def __call__(self, level: int) -> xarray.Dataset:
        return open_cube(self.reader, self.info, self.request, self.products, level, self.attrs)
