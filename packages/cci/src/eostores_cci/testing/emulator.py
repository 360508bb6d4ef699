"""The ESA Climate Data Centre emulator: OpenSearch, ISO 19115, OPeNDAP, files and references.

Endpoints (all GET, on 127.0.0.1):

* ``/opensearch/description.xml?parentIdentifier=cci|<uuid>``: OpenSearch description;
* ``/opensearch/request?...``: collection and file searches in GeoJSON, paged with
  ``startPage`` (1-based) and ``maximumRecords``, filtered by facets, ``drsId``,
  ``fileFormat``, ``startDate`` and ``endDate`` (ISO 8601, with or without offset). Like
  the service's Elasticsearch index, a search reaching past the result window
  (``startPage * maximumRecords`` > :attr:`CciEmulator.result_window`, 10000) fails with
  the service's bare "Server Error (500)";
* ``/catalogue/iso/<uuid>.xml``: ISO 19115 records;
* ``/thredds/dodsC/<path>.nc.{dds,das,dods}``: DAP2 over the NetCDF files (pydap), signed
  bytes as THREDDS serves them (``Byte`` with ``_Unsigned "false"``) unless
  ``signed_bytes="int16"`` (pydap's and Hyrax's upcast);
* ``/thredds/fileServer/<path>.nc``: the NetCDF files, with byte ranges;
* ``/kerchunk/<name>.json``: kerchunk references into the served files.

A file named in :attr:`CciEmulator.missing_files` is listed by the search but answered
with 404 by the data server, as when the archive lost it. Faults come from the toolkit's
fault profile (latency, 429/5xx with ``Retry-After``, dropped connections, truncation).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from eostores.testing import EmulatorServer, Request, Response, route

from .dap import SIGNED_BYTES, dap_response
from .datasets import DATASETS, FileCache, SampleDataset, SampleFile
from .opensearch import (
    collection_feature,
    description_xml,
    file_feature,
    iso_xml,
    matches_facets,
    overlaps,
)
from .references import dataset_references

__all__ = ["HOSTILE_DRS_ID", "KERCHUNK_SETS", "CciEmulator"]

#: A data id the emulator lists when ``hostile`` is set: its name tries to leave any folder
#: it is put in, and its files' hrefs point at local files.
HOSTILE_DRS_ID = "esacci.SST.day.L4.SSTdepth.multi-sensor.multi-platform.EVIL.1-0.r1/../../../x"
_HOSTILE_UUID = "0000000000000000000000000000dead"

#: Reference sets the emulator serves: name -> (DRS id, number of files from the first).
KERCHUNK_SETS = {
    "ESACCI-L4_GHRSST-SSTdepth-OSTIA-GLOB_CDR2.1-2000-01-kr1.0": (DATASETS[0].drs_id, 31),
    "ESACCI-L3C_CLOUD-CLD_PRODUCTS-AVHRR_NOAA-15-2000-2001-fv3.0-kr1.0": (DATASETS[2].drs_id, 24),
}

#: Records one search may reach (``startPage * maximumRecords``), Elasticsearch's default.
RESULT_WINDOW = 10000


class CciEmulator(EmulatorServer):
    """A local model of the ESA CCI Open Data Portal; see the module docstring."""

    name: ClassVar[str] = "cci"
    #: the stores that store_params() points at this emulator
    store_ids: ClassVar[tuple[str, ...]] = ("cciodp",)

    def __init__(
        self,
        latency_ms: float = 0,
        faults: Any = None,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | None = None,
        hostile: bool = False,
        signed_bytes: str = "thredds",
    ):
        super().__init__(latency_ms=latency_ms, faults=faults, host=host, port=port)
        if signed_bytes not in SIGNED_BYTES:
            raise ValueError(f"signed_bytes must be one of {SIGNED_BYTES}, not {signed_bytes!r}")
        #: how DAP2 answers carry int8 variables: "thredds" (Byte + _Unsigned) or "int16"
        self.signed_bytes = signed_bytes
        #: records one search may reach; beyond, the search fails as the service's does
        self.result_window = RESULT_WINDOW
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="eostores-cci-emulator-"))
        self.files = FileCache(self.data_dir / "archive")
        self.hostile = hostile
        self.missing_files: set[str] = set()
        self.datasets = {d.uuid: d for d in DATASETS}
        self._by_path: dict[str, tuple[SampleDataset, SampleFile]] = {}
        self._files: dict[str, list[SampleFile]] = {}
        for dataset in DATASETS:
            samples = dataset.files()
            self._files[dataset.uuid] = samples
            for sample in samples:
                self._by_path[dataset.file_path(sample)] = (dataset, sample)
        self._refs: dict[str, bytes] = {}
        self._refs_lock = threading.Lock()
        #: Further reference documents to serve, by name (for tests of hostile references).
        self.extra_references: dict[str, dict[str, Any]] = {}

    def stop(self) -> None:
        super().stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- what a store needs

    def store_params(self) -> dict[str, Any]:
        """``cciodp`` store parameters pointing at this emulator."""
        return {
            "endpoint_url": f"{self.url}/opensearch/request",
            "endpoint_description_url": f"{self.url}/opensearch/description.xml"
            "?parentIdentifier=cci",
        }

    def reference_urls(self) -> dict[str, str]:
        """Data id -> URL of each reference file served."""
        return {name: f"{self.url}/kerchunk/{name}.json" for name in KERCHUNK_SETS}

    def file_url(self, dataset: SampleDataset, sample: SampleFile) -> str:
        return f"{self.url}/thredds/fileServer/{dataset.file_path(sample)}"

    # -- OpenSearch

    @route("GET", "/opensearch/description.xml")
    def description(self, request: Request) -> Response:
        parent = request.query.get("parentIdentifier", "cci")
        if parent == "cci":
            datasets = list(DATASETS)
        elif parent in self.datasets:
            datasets = [self.datasets[parent]]
        else:
            return Response.json({"message": f"Unknown parentIdentifier {parent!r}"}, 404)
        extra = [HOSTILE_DRS_ID] if self.hostile and parent == "cci" else []
        body = description_xml(self.url, datasets, parent, extra)
        return Response.text(body, content_type="application/opensearchdescription+xml")

    @route("GET", "/opensearch/request")
    def search(self, request: Request) -> Response:
        query = request.query
        try:
            page = int(query.get("startPage", "1"))
            size = int(query.get("maximumRecords", "10"))
            start = _instant(query.get("startDate"))
            end = _instant(query.get("endDate"))
        except ValueError as error:
            return Response.json({"message": f"Bad request: {error}"}, 400)
        if page < 1 or size < 0:
            return Response.json({"message": "startPage must be >= 1 and maximumRecords >= 0"}, 400)
        if page * size > self.result_window:
            # Elasticsearch refuses from + size beyond its window; the service does not
            # catch that error and answers with Django's bare error page
            return Response.html_error(500, "Server Error (500)")
        parent = query.get("parentIdentifier", "cci")
        if parent == "cci":
            features = self._collections(query)
        else:
            features = self._file_features(parent, query, start, end)
        chosen = features[(page - 1) * size : page * size]
        return Response.json(
            {
                "type": "FeatureCollection",
                "totalResults": len(features),
                "startIndex": (page - 1) * size + 1,
                "itemsPerPage": size,
                "features": chosen,
            }
        )

    def _collections(self, query: dict[str, str]) -> list[dict[str, Any]]:
        found = [collection_feature(self.url, d) for d in DATASETS if matches_facets(d, query)]
        if self.hostile and query.get("drsId") == HOSTILE_DRS_ID:
            hostile = collection_feature(self.url, DATASETS[0])
            hostile["id"] = f"{self.url}/opensearch/request?parentIdentifier={_HOSTILE_UUID}"
            hostile["properties"]["identifier"] = _HOSTILE_UUID
            found.append(hostile)
        return found

    def _file_features(
        self, parent: str, query: dict[str, str], start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]:
        if parent == _HOSTILE_UUID and self.hostile:
            dataset = DATASETS[0]
            features = [file_feature(self.url, dataset, s) for s in dataset.files()[:5]]
            for feature in features:
                links = feature["properties"]["links"]["related"]
                links[1]["href"] = "file:///etc/passwd"
            return features
        dataset = self.datasets.get(parent)
        if dataset is None:
            return []
        if query.get("drsId") not in (None, "", dataset.drs_id):
            return []
        if query.get("fileFormat") not in (None, "", ".nc"):
            return []
        return [
            file_feature(self.url, dataset, sample, _file_size(dataset, sample))
            for sample in self._files[parent]
            if overlaps(sample, start, end)
        ]

    @route("GET", "/catalogue/iso/(?P<uuid>[^/]+)\\.xml")
    def iso(self, request: Request, uuid: str) -> Response:
        dataset = self.datasets.get(uuid)
        if dataset is None:
            return Response.html_error(404, f"No record {uuid}")
        return Response.text(iso_xml(dataset), content_type="application/xml")

    # -- data

    def _sample(self, path: str) -> tuple[SampleDataset, SampleFile] | None:
        found = self._by_path.get(path)
        if found is None or found[1].name in self.missing_files:
            return None
        return found

    @route("GET", "/thredds/dodsC/(?P<path>.+\\.nc)\\.(?P<kind>dds|das|dods)")
    def opendap(self, request: Request, path: str, kind: str) -> Response:
        found = self._sample(path)
        if found is None:
            return Response.text(
                f'Error {{\n    code = 404;\n    message = "File not found: /{path}";\n}}\n',
                404,
            )
        dataset, sample = found
        status, body, content_type = dap_response(
            self.files.path(dataset, sample), kind, _constraint(request), self.signed_bytes
        )
        return Response(status, body, content_type=content_type)

    @route("GET", "/thredds/fileServer/(?P<path>.+\\.nc)")
    def file(self, request: Request, path: str) -> Response:
        found = self._sample(path)
        if found is None:
            return Response.html_error(404, f"File not found: /{path}")
        dataset, sample = found
        return Response.file(self.files.path(dataset, sample), request, "application/x-netcdf")

    def references(self, name: str) -> dict[str, Any]:
        """The reference document served as ``name``."""
        return json.loads(self._reference_body(name))

    def _reference_body(self, name: str) -> bytes:
        with self._refs_lock:
            body = self._refs.get(name)
            if body is None:
                drs_id, count = KERCHUNK_SETS[name]
                dataset = next(d for d in DATASETS if d.drs_id == drs_id)
                samples = dataset.files()[:count]
                refs = dataset_references(
                    dataset,
                    samples,
                    lambda s: self.files.path(dataset, s),
                    lambda s: self.file_url(dataset, s),
                )
                body = self._refs[name] = json.dumps(refs).encode("utf-8")
        return body

    @route("GET", "/kerchunk/(?P<name>[^/]+)\\.json")
    def kerchunk(self, request: Request, name: str) -> Response:
        if name in self.extra_references:
            body = json.dumps(self.extra_references[name]).encode("utf-8")
            return Response.file(body, request, "application/json")
        if name not in KERCHUNK_SETS:
            return Response.html_error(404, f"No reference file {name}.json")
        body = self._reference_body(name)
        return Response.file(body, request, "application/json")


def _constraint(request: Request) -> str:
    """The DAP2 constraint expression of a request (its query, decoded)."""
    return "&".join(key if not value else f"{key}={value}" for key, value in request.query_list)


def _instant(text: str | None) -> datetime | None:
    """A search's date as naive UTC (the service reads any ISO 8601 form)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid date {text!r}") from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _file_size(dataset: SampleDataset, sample: SampleFile) -> int:
    cells = dataset.lat[2] * dataset.lon[2] * len(sample.steps)
    return 4096 + sum(cells * np.dtype(v.dtype).itemsize for v in dataset.variables)
