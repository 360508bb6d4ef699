"""esa-cci-kc: the portal's kerchunk references, the shipped index and its regeneration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import CLOUD, SST
from eostores_cci.kcindex import describe_references, load_index, main, regenerate
from eostores_cci.testing import expected_value

from eostores import new_data_store
from eostores.errors import DataNotFoundError, InvalidParameterError
from eostores.http import HttpConfig, new_session

CLOUD_REFS = "ESACCI-L3C_CLOUD-CLD_PRODUCTS-AVHRR_NOAA-15-2000-2001-fv3.0-kr1.0"
SST_REFS = "ESACCI-L4_GHRSST-SSTdepth-OSTIA-GLOB_CDR2.1-2000-01-kr1.0"


@pytest.fixture
def index(emulator):
    session = new_session(HttpConfig())
    return regenerate(emulator.reference_urls().values(), session)


def test_the_shipped_index_is_the_default():
    store = new_data_store("esa-cci-kc")
    shipped = load_index()
    assert store.list_data_ids() == [entry["data_id"] for entry in shipped]
    assert all(entry["ref_path"].startswith("https://") for entry in shipped)
    descriptor = store.describe_data(shipped[0]["data_id"])
    assert descriptor.time_range == tuple(shipped[0]["data_descriptor"]["time_range"])
    assert "shipped index" in repr(store)
    schema = type(store).get_data_store_params_schema()
    assert "refs" not in schema.required
    assert set(schema.properties) >= {"refs", "target_options", "remote_protocol", "remote_options"}


def test_construction_makes_no_request(emulator):
    store = new_data_store("esa-cci-kc", refs=list(emulator.reference_urls().values()))
    assert len(store.list_data_ids()) == 2
    assert emulator.request_log == []


def test_index_entries_are_described_from_metadata_alone(index, emulator):
    by_id = {entry["data_id"]: entry for entry in index}
    assert set(by_id) == {CLOUD_REFS, SST_REFS}
    descriptor = by_id[CLOUD_REFS]["data_descriptor"]
    assert descriptor["dims"] == {"time": 24, "lat": 60, "lon": 120}
    assert descriptor["time_range"] == ["2000-01-01", "2001-12-31"]
    assert descriptor["bbox"] == list(CLOUD.bbox)
    assert set(descriptor["data_vars"]) == {"cfc", "cot", "ctt"}
    assert descriptor["data_vars"]["cot"]["chunks"] == [1, 30, 40]
    assert descriptor["coords"]["time"]["dtype"] == "datetime64[ns]"
    assert not any("fileServer" in r.path for r in emulator.request_log), "no data read"


def test_open_with_index_entries(index, emulator):
    store = new_data_store("esa-cci-kc", refs=index)
    assert store.describe_data(CLOUD_REFS).dims["lat"] == 60
    emulator.reset_log()
    cube = store.open_data(
        CLOUD_REFS,
        variable_names=["cfc", "cot"],
        bbox=[-5, 50, 5, 60],
        time_range=["2000-03-01", "2000-05-31"],
    )
    assert dict(cube.sizes) == {"time": 3, "lat": 20, "lon": 20}
    for name in ("cfc", "cot"):
        want = expected_value(
            CLOUD,
            name,
            cube.time.values[:, None, None],
            cube.lat.values[:, None],
            cube.lon.values,
        )
        np.testing.assert_allclose(cube[name].values, want, atol=1e-4)
    ranges = [r for r in emulator.request_log if "fileServer" in r.path and r.status == 206]
    assert ranges, "chunks are byte ranges of the NetCDF files"
    assert all(r.headers.get("range", "").startswith("bytes=") for r in ranges)


def test_references_and_data_both_over_http_without_any_option(emulator):
    # the reference file and the NetCDF files are on http servers; nothing else given
    store = new_data_store("esa-cci-kc", refs=[emulator.reference_urls()[SST_REFS]])
    cube = store.open_data(SST_REFS, bbox=[0, 0, 10, 10], time_range=["2000-01-05", "2000-01-06"])
    point = cube.analysed_sst.isel(time=1, lat=3, lon=4)
    want = expected_value(
        SST, "analysed_sst", point.time.values, point.lat.values, point.lon.values
    )
    assert float(point) == pytest.approx(float(want), abs=1e-4)


def test_faults_while_reading_references_are_retried(emulator):
    store = new_data_store("esa-cci-kc", refs=[emulator.reference_urls()[CLOUD_REFS]])
    emulator.faults = {"fail_first": 2, "error_statuses": [503], "retry_after": 0}
    cube = store.open_data(CLOUD_REFS, time_range=["2000-01-01", "2000-03-31"])
    assert [r.status for r in emulator.request_log][:3] == [503, 503, 200]
    emulator.reset_log()
    emulator.faults = {"error_rate": 0.3, "error_statuses": [500, 503], "seed": 5, "retry_after": 0}
    values = cube.ctt.values  # 3 files x 6 chunks
    want = expected_value(
        CLOUD, "ctt", cube.time.values[:, None, None], cube.lat.values[:, None], cube.lon.values
    )
    np.testing.assert_allclose(values, want, atol=1e-4)
    statuses = [r.status for r in emulator.request_log]
    assert statuses.count(206) == 18 and {500, 503} & set(statuses)


def test_unknown_and_gone_reference_files(emulator):
    gone = f"{emulator.url}/kerchunk/ESACCI-GONE-kr1.0.json"
    store = new_data_store("esa-cci-kc", refs=[gone])
    with pytest.raises(DataNotFoundError):
        store.open_data("ESACCI-GONE-kr1.0")
    with pytest.raises(DataNotFoundError):
        store.open_data("nope")
    with pytest.raises(InvalidParameterError):
        store.open_data("ESACCI-GONE-kr1.0", bbox=[10, 0, 0, 10])
    assert regenerate([gone], new_session(HttpConfig())) == []


def test_the_index_script(emulator, tmp_path, capsys):
    current = tmp_path / "index.json"
    current.write_text(json.dumps([{"ref_path": emulator.reference_urls()[CLOUD_REFS]}]))
    output = tmp_path / "new.json"
    code = main(
        ["--index", str(current), "--output", str(output), emulator.reference_urls()[SST_REFS]]
    )
    assert code == 0
    written = json.loads(output.read_text())
    assert [e["data_id"] for e in written] == [CLOUD_REFS, SST_REFS]
    assert "2 reference files" in capsys.readouterr().err
    store = new_data_store("esa-cci-kc", refs=written)
    assert store.describe_data(SST_REFS).dims["time"] == 31


def test_describe_references_of_version_0():
    document = {
        ".zgroup": '{"zarr_format": 2}',
        ".zattrs": json.dumps({"title": "t", "time_coverage_start": "2001-02-03"}),
        "v/.zarray": json.dumps({"shape": [2, 3], "chunks": [1, 3], "dtype": "<f4"}),
        "v/.zattrs": json.dumps({"_ARRAY_DIMENSIONS": ["y", "x"], "units": "K"}),
    }
    descriptor = describe_references(document, "d")
    assert descriptor["dims"] == {"y": 2, "x": 3}
    assert descriptor["data_vars"]["v"]["dtype"] == "float32"
    assert descriptor["time_range"] == ["2001-02-03", None]


def _sst_values(store, name):
    cube = store.open_data(name, bbox=[0, 0, 10, 10], time_range=["2000-01-05", "2000-01-06"])
    want = expected_value(
        SST,
        "analysed_sst",
        cube.time.values[:, None, None],
        cube.lat.values[:, None],
        cube.lon.values,
    )
    np.testing.assert_allclose(cube.analysed_sst.values, want, atol=1e-4)


def test_compressed_chunks_are_decoded_with_the_references_codecs(emulator):
    # the SST files are deflated with shuffle, as CCI's NetCDF files usually are
    zarray = json.loads(emulator.references(SST_REFS)["refs"]["analysed_sst/.zarray"])
    assert zarray["compressor"] is None
    assert zarray["filters"] == [{"id": "shuffle", "elementsize": 4}, {"id": "zlib", "level": 4}]
    store = new_data_store("esa-cci-kc", refs=[emulator.reference_urls()[SST_REFS]])
    _sst_values(store, SST_REFS)


def test_compressed_chunks_with_codecs_as_compressor_and_filter(emulator):
    # older kerchunk wrote deflate as the compressor, shuffle as the only filter
    document = emulator.references(SST_REFS)
    zarray = json.loads(document["refs"]["analysed_sst/.zarray"])
    zarray.update(compressor={"id": "zlib", "level": 4}, filters=zarray["filters"][:1])
    document["refs"]["analysed_sst/.zarray"] = json.dumps(zarray)
    emulator.extra_references["sst-older-kr1.0"] = document
    try:
        store = new_data_store("esa-cci-kc", refs=[f"{emulator.url}/kerchunk/sst-older-kr1.0.json"])
        _sst_values(store, "sst-older-kr1.0")
    finally:
        emulator.extra_references.clear()
