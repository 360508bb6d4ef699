"""The chunk function of a cube variable: one OPeNDAP hyperslab request per chunk."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from eostores.errors import DataNotFoundError

from .api import api_for
from .config import OdpConnection

__all__ = ["HyperslabReader"]

logger = logging.getLogger("eostores.cci")


@dataclass(frozen=True)
class HyperslabReader:
    """Reads chunk ``(t, i, j)`` of a variable: the hyperslab of time step ``t`` (a file and
    the step's index in it) covering rows ``i`` and columns ``j`` of the window, with
    inclusive stops.

    A file the service says does not exist (404, 410) gives a chunk of fill values; any
    other failure is raised with the service's message. A signed byte variable served as
    DAP2 ``Byte`` is read as int8. Picklable: workers in other processes make their own
    session.
    """

    connection: OdpConnection
    data_id: str
    variable: str
    steps: tuple[tuple[str, int], ...]
    origin: tuple[int, int]
    window: tuple[int, int]
    chunks: tuple[int, int, int]
    dtype: str
    fill_value: Any

    def region(self, index: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int]]:
        """The file rows and columns (first, last, inclusive) of chunk ``index``."""
        _, i, j = index
        _, rows, columns = self.chunks
        height, width = self.window
        y0, x0 = self.origin
        first_row, first_column = y0 + i * rows, x0 + j * columns
        last_row = y0 + min((i + 1) * rows, height) - 1
        last_column = x0 + min((j + 1) * columns, width) - 1
        return (first_row, last_row), (first_column, last_column)

    def __call__(self, index: tuple[int, ...]) -> np.ndarray:
        rows, columns = self.region(index)
        url, step = self.steps[index[0]]
        try:
            array = api_for(self.connection).hyperslab(
                url, self.variable, [(step, step), rows, columns]
            )
        except DataNotFoundError as error:
            logger.warning(
                "%s: %s is missing (%s); chunk %s of %r filled",
                self.data_id,
                url,
                error.message,
                tuple(index),
                self.variable,
            )
            shape = (1, rows[1] - rows[0] + 1, columns[1] - columns[0] + 1)
            return np.full(shape, self.fill_value, dtype=self.dtype)
        dtype = np.dtype(self.dtype)
        if array.dtype.itemsize == dtype.itemsize == 1 and array.dtype != dtype:
            return array.view(dtype)  # DAP2 Byte carrying a signed byte (_Unsigned "false")
        return array
