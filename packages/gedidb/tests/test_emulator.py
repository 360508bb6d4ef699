"""The emulator speaks CMR's and S3's protocols and holds an array laid out as gedidb's."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import requests
from eostores_gedidb.testing import VARIABLES
from eostores_gedidb.testing.emulator import PRIVATE_BUCKET
from eostores_gedidb.testing.s3 import clamped_range

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_cmr_collection_feed(emulator):
    url = emulator.store_params()["cmr_url"] + "/collections.json"
    answer = requests.get(url, params={"concept_id": "C2142771958-LPCLOUD"}, timeout=10)
    assert answer.status_code == 200 and answer.headers["CMR-Hits"] == "1"
    (entry,) = answer.json()["feed"]["entry"]
    assert entry["id"] == "C2142771958-LPCLOUD"
    assert entry["boxes"] == ["-51.6 -180 51.6 180"]
    assert entry["time_start"].startswith("2019-03-25")
    unknown = requests.get(url, params={"concept_id": "C1-NOPE"}, timeout=10)
    assert unknown.status_code == 200 and unknown.json()["feed"]["entry"] == []
    malformed = requests.get(url, params={"concept_id": "../x"}, timeout=10)
    assert malformed.status_code == 400 and "not valid" in malformed.json()["errors"][0]


def _s3(emulator, path, **kwargs):
    return requests.request(
        kwargs.pop("method", "GET"), emulator.s3.url + path, timeout=10, **kwargs
    )


def test_s3_lists_and_reads_unsigned_with_ranges_clamped(emulator):
    bucket = emulator.bucket
    listing = _s3(
        emulator,
        f"/{bucket}",
        params={"list-type": "2", "prefix": "array_uri/__schema/", "delimiter": "/"},
    )
    assert listing.status_code == 200
    keys = [e.text for e in ET.fromstring(listing.content).iter(f"{S3_NS}Key")]
    assert keys and all(k.startswith("array_uri/__schema/") for k in keys)
    size = int(_s3(emulator, f"/{bucket}/{keys[0]}", method="HEAD").headers["Content-Length"])
    assert size > 16
    ranged = _s3(emulator, f"/{bucket}/{keys[0]}", headers={"Range": "bytes=8-102399"})
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 8-{size - 1}/{size}"
    assert len(ranged.content) == size - 8
    whole = _s3(emulator, f"/{bucket}/{keys[0]}")
    assert whole.content[8:] == ranged.content


def test_s3_is_read_only_and_the_private_bucket_refuses_anonymous_readers(emulator):
    bucket = emulator.bucket
    assert _s3(emulator, f"/{bucket}/array_uri/x", method="PUT", data=b"x").status_code == 403
    assert _s3(emulator, f"/{bucket}/array_uri/__schema/", method="DELETE").status_code == 403
    refused = _s3(emulator, f"/{PRIVATE_BUCKET}", params={"list-type": "2"})
    assert refused.status_code == 403


def test_clamping_a_content_range_that_overshoots():
    body, headers = clamped_range(b"0123456789", {"Content-Range": "bytes 90-199/95"})
    assert headers["Content-Range"] == "bytes 90-94/95" and body == b"01234"
    body, headers = clamped_range(b"abc", {"content-range": "bytes 0-2/3"})
    assert headers["content-range"] == "bytes 0-2/3" and body == b"abc"


def test_the_array_follows_gedidbs_layout(emulator):
    import tiledb
    from gedidb import GEDIProvider

    params = emulator.store_params()
    provider = GEDIProvider(
        storage_type="s3", s3_bucket=params["bucket"], url=params["endpoint_url"]
    )
    try:
        schema = tiledb.ArraySchema.load(provider.scalar_array_uri, ctx=provider.ctx)
        dims = [schema.domain.dim(i) for i in range(schema.domain.ndim)]
        assert [(d.name, d.dtype) for d in dims] == [
            ("latitude", np.float64),
            ("longitude", np.float64),
            ("time", np.int64),
        ]
        assert schema.sparse and schema.allows_duplicates and schema.cell_order == "hilbert"
        names = {schema.attr(i).name for i in range(schema.nattr)}
        assert {"shot_number", "timestamp_ns", "agbd", "rh_1", "rh_101", "cover_z_30"} <= names
        assert "rh" not in names and "rh_102" not in names
        metadata = provider.get_available_variables()
        assert metadata.loc["rh", "profile_length"] == 101
        assert metadata.loc["agbd", "units"] == VARIABLES["agbd"].units
        assert metadata.loc["cover_z", "profile_label_name"] == "height_m"
        assert not any(name.startswith("granule_") for name in metadata.index)
    finally:
        provider.close()
