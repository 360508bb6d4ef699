"""A program written for xcube's data store API runs on eostores with only its imports changed.

``PROGRAM`` is the program as an xcube user writes it (a store pool from YAML, schemas
converting values, descriptors to and from dicts, filesystem write, list, search, open and
delete, preloading); the test swaps its import block and runs it.
"""

from __future__ import annotations

import textwrap

import pytest

XCUBE_IMPORTS = """\
from xcube.core.store import (
    DatasetDescriptor,
    DataStoreError,
    DataStorePool,
    DataType,
    MultiLevelDatasetDescriptor,
    VariableDescriptor,
    find_data_store_extensions,
    get_data_store_instance,
    get_filename_extensions,
    new_data_descriptor,
    new_data_store,
    new_fs_data_store,
)
from xcube.util.jsonschema import (
    JsonArraySchema,
    JsonDateSchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonObject,
    JsonObjectSchema,
    JsonStringSchema,
)
"""

EOSTORES_IMPORTS = XCUBE_IMPORTS.replace("xcube.core.store", "eostores").replace(
    "xcube.util.jsonschema", "eostores.schema"
)

PROGRAM = XCUBE_IMPORTS + textwrap.dedent(
    '''
    import datetime
    import os

    import numpy as np
    import pandas as pd
    import xarray as xr

    POOL_YAML = """
    local:
      store_id: file
      title: Cubes on this machine
      store_params:
        root: {root}
        max_depth: 2
    scratch:
      store_id: memory
      description: Data that need not survive the session
      store_params:
        root: {scratch}
    """


    class Region(JsonObject):
        """A region of interest as stored in the project's JSON configuration."""

        def __init__(self, name, bbox, start=None, max_cloud=100):
            self.name = name
            self.bbox = bbox
            self.start = start
            self.max_cloud = max_cloud

        @classmethod
        def get_schema(cls):
            number = JsonNumberSchema()
            return JsonObjectSchema(
                properties=dict(
                    name=JsonStringSchema(min_length=1),
                    bbox=JsonArraySchema(items=[number, number, number, number]),
                    start=JsonDateSchema(
                        nullable=True,
                        factory=datetime.date.fromisoformat,
                        serializer=datetime.date.isoformat,
                    ),
                    max_cloud=JsonNumberSchema(type="integer", minimum=0, maximum=100, default=100),
                ),
                required=["name", "bbox"],
                additional_properties=False,
                factory=cls,
            )


    def make_cube(days=5):
        lat = np.arange(-85.0, 90.0, 10.0)
        lon = np.arange(-175.0, 180.0, 10.0)
        time = pd.date_range("2020-06-01", periods=days, freq="D")
        day = np.arange(days)[:, None, None]
        sst = 20 + lat[None, :, None] / 10 + lon[None, None, :] / 100 + day
        return xr.Dataset(
            {"sst": (("time", "lat", "lon"), sst.astype("float32"), {"units": "degC"})},
            coords={"time": time, "lat": lat, "lon": lon},
            attrs={"title": "demo cube"},
        )


    def main(workdir):
        results = {}

        # -- configuration: a region from JSON and back
        region = Region.from_dict(
            {"name": "north sea", "bbox": [0, 50, 10, 60], "start": "2020-06-02"}
        )
        assert isinstance(region.start, datetime.date) and region.max_cloud == 100
        results["region"] = region.to_dict()
        subset, rest = Region.get_schema().process_kwargs_subset(
            dict(name="x", colour="red"), ["name", "max_cloud"]
        )
        results["kwargs_subset"] = [subset, rest]

        # -- stores from a pool file
        pool_file = os.path.join(workdir, "stores.yaml")
        with open(pool_file, "w") as stream:
            stream.write(POOL_YAML.format(root=os.path.join(workdir, "data"),
                                          scratch="/scratch-" + os.path.basename(workdir)))
        os.makedirs(os.path.join(workdir, "data"))
        pool = DataStorePool.from_file(pool_file)
        results["pool"] = pool.store_instance_ids
        store = get_data_store_instance("@local", store_pool=pool).store
        assert store is pool.get_store("local")
        assert pool.get_store_config("scratch").description.startswith("Data that")

        # -- write, list, describe, search, open
        cube = make_cube()
        data_id = store.write_data(cube, "cubes/demo.zarr")
        store.write_data(cube.chunk(dict(lat=9, lon=9)), "cubes/demo.levels")
        results["ids"] = sorted(store.list_data_ids())
        results["types"] = store.get_data_types_for_data(data_id)
        results["openers"] = store.get_data_opener_ids(data_id)
        results["planned_openers"] = store.get_data_opener_ids("cubes/later.zarr")
        assert "cache_size" in store.get_open_data_params_schema(data_id).to_dict()["properties"]

        descriptor = store.describe_data(data_id)
        assert isinstance(descriptor, DatasetDescriptor)
        results["data_type"] = descriptor.data_type.alias
        results["dims"] = descriptor.dims
        results["time_range"] = list(descriptor.time_range)
        as_dict = descriptor.to_dict()
        again = DatasetDescriptor.from_dict(as_dict)
        assert again.to_dict() == as_dict
        assert isinstance(again.data_vars["sst"], VariableDescriptor)
        results["variable"] = again.data_vars["sst"].to_dict()

        found = list(store.search_data(data_type="dataset"))
        results["searched"] = sorted(d.data_id for d in found)

        dataset = store.open_data(data_id)
        expected = make_cube().sst.values
        results["values_match"] = bool(np.allclose(dataset.sst.values, expected))
        levels = store.open_data("cubes/demo.levels")
        results["num_levels"] = levels.num_levels
        level_descriptor = store.describe_data("cubes/demo.levels")
        assert isinstance(level_descriptor, MultiLevelDatasetDescriptor)

        # -- descriptors of data in memory
        in_memory = new_data_descriptor("demo", cube)
        results["in_memory_bbox"] = list(in_memory.bbox)
        assert DataType.normalize("xarray.Dataset").alias == "dataset"

        # -- a scratch store: write, open, replace, delete
        scratch = pool.get_store("scratch")
        scratch.write_data(cube, "tmp.nc")
        scratch.write_data(cube.isel(time=slice(0, 2)), "tmp.nc", replace=True)
        results["scratch_time"] = scratch.open_data("tmp.nc").sizes["time"]
        scratch.delete_data("tmp.nc")
        results["scratch_after_delete"] = scratch.has_data("tmp.nc")
        other = new_fs_data_store("memory", root="/other-" + os.path.basename(workdir))
        results["other_ids"] = other.list_data_ids()

        # -- preloading, where the store opens what was preloaded
        preloaded = store.preload_data(data_id)
        assert preloaded.preload_handle is not None
        state = preloaded.preload_handle.get_state(data_id)
        results["preloaded_state_id"] = state.data_id
        results["preloaded_open"] = bool(
            np.allclose(preloaded.open_data(data_id).sst.values, expected)
        )

        # -- the registry
        extensions = {ext.name: ext for ext in find_data_store_extensions()}
        results["has_file_store"] = extensions["file"].component is type(store)
        results["zarr_openers"] = [
            i for i in get_filename_extensions("openers")[".zarr"] if i.endswith(":file")
        ]
        try:
            new_data_store("no-such-store")
        except DataStoreError as error:
            results["unknown_store_error"] = type(error).__name__

        store.delete_data(data_id)
        results["ids_after_delete"] = sorted(store.list_data_ids())
        return results
    '''
)


def _run_with_eostores(workdir: str) -> dict:
    source = PROGRAM.replace(XCUBE_IMPORTS, EOSTORES_IMPORTS)
    namespace = {"__name__": "xcube_program"}
    exec(compile(source, "xcube_program.py", "exec"), namespace)
    return namespace["main"](workdir)


def test_only_the_imports_differ():
    source = PROGRAM.replace(XCUBE_IMPORTS, EOSTORES_IMPORTS)
    assert source != PROGRAM
    assert source.removeprefix(EOSTORES_IMPORTS) == PROGRAM.removeprefix(XCUBE_IMPORTS)
    assert "xcube" not in source


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    return _run_with_eostores(str(tmp_path_factory.mktemp("program")))


def test_configuration_objects_round_trip(results):
    assert results["region"] == {
        "name": "north sea",
        "bbox": [0, 50, 10, 60],
        "start": "2020-06-02",
        "max_cloud": 100,
    }
    # an optional property's default is not added (only a const, or a required default)
    assert results["kwargs_subset"] == [{"name": "x"}, {"colour": "red"}]


def test_pool_and_listing(results):
    assert results["pool"] == ["local", "scratch"]
    assert results["ids"] == ["cubes/demo.levels", "cubes/demo.zarr"]
    assert results["types"] == ("dataset",)
    assert results["openers"] == ("dataset:zarr:file",)
    assert results["planned_openers"] == ("dataset:zarr:file",)
    assert results["searched"] == ["cubes/demo.levels", "cubes/demo.zarr"]


def test_descriptors(results):
    assert results["data_type"] == "dataset"
    assert results["dims"] == {"time": 5, "lat": 18, "lon": 36}
    assert results["time_range"] == ["2020-06-01", "2020-06-05"]
    assert results["variable"]["dims"] == ["time", "lat", "lon"]
    assert results["variable"]["attrs"] == {"units": "degC"}
    assert results["in_memory_bbox"] == [-180.0, -90.0, 180.0, 90.0]


def test_data_values_levels_scratch_and_preload(results):
    assert results["values_match"] is True
    assert results["num_levels"] == 3
    assert results["scratch_time"] == 2
    assert results["scratch_after_delete"] is False
    assert results["other_ids"] == []
    assert results["preloaded_state_id"] == "cubes/demo.zarr"
    assert results["preloaded_open"] is True


def test_registry_and_cleanup(results):
    assert results["has_file_store"] is True
    assert results["zarr_openers"] == ["dataset:zarr:file"]
    assert results["unknown_store_error"] == "DataStoreError"
    assert results["ids_after_delete"] == ["cubes/demo.levels"]
