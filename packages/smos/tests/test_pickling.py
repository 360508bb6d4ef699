"""Stores, cubes and pyramids pickle; unpickled chunk functions share one reader per store."""

from __future__ import annotations

import pickle

import numpy as np
from conftest import BBOX, DAY, SM


def test_cubes_and_pyramids_pickle_and_compute(store):
    cube = store.open_data(
        SM, time_range=[DAY, DAY], bbox=BBOX, res_level=3, variable_names=["Chi_2"]
    )
    expected = cube.Chi_2.values
    again = pickle.loads(pickle.dumps(cube))
    np.testing.assert_array_equal(again.Chi_2.values, expected)
    pyramid = store.open_data(
        SM,
        opener_id="mldataset:zarr:smos",
        time_range=[DAY, DAY],
        bbox=BBOX,
        variable_names=["Chi_2"],
    )
    copy = pickle.loads(pickle.dumps(pyramid))
    np.testing.assert_array_equal(copy.get_dataset(3).Chi_2.values, expected)


def test_a_pickled_store_keeps_its_reader_in_this_process(store):
    again = pickle.loads(pickle.dumps(store))
    assert again.reader is store.reader
