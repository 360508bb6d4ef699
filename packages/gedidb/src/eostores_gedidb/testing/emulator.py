"""The gedidb emulator: NASA's CMR collection search in this process, S3 in a child.

:class:`GediEmulator` serves ``GET /search/collections.json?concept_id=...`` the way CMR
does (a JSON ``feed`` whose ``entry`` list holds the collection: ``id``, ``title``,
``summary``, ``time_start``, ``time_end``, ``boxes`` as ``"S W N E"`` strings, ...; an
empty list for an unknown concept id; 400 with ``errors`` for a malformed one), with the
toolkit's faults (latency, 429/5xx with ``Retry-After``, dropped connections, truncated
bodies). When started it writes the sample database (:mod:`.samples`) to a temporary
folder and serves it from :class:`~.s3.GediS3Emulator` in a child process, reachable as
:attr:`s3` (its own request log and faults).

:attr:`request_log` holds the requests of both sides, so that a test can assert that a
call made no request at all.
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from eostores.testing import EmulatorServer, Request, RequestRecord, Response, route

from .samples import SampleSpec

__all__ = ["DEFAULT_BUCKET", "DEFAULT_COLLECTIONS", "PRIVATE_BUCKET", "GediEmulator"]

DEFAULT_BUCKET = "dog-ext.gedidb.gedi-l2-l4-v002.0"
#: A bucket with the same array that anonymous readers are refused.
PRIVATE_BUCKET = "private.gedidb"

_GLOBAL_BOX = ["-51.6 -180 51.6 180"]
#: The CMR records of the four GEDI collections, as the search API returns them.
DEFAULT_COLLECTIONS: dict[str, dict[str, Any]] = {
    "C2142771958-LPCLOUD": {
        "short_name": "GEDI02_A",
        "title": "GEDI L2A Elevation and Height Metrics Data Global Footprint Level V002",
        "summary": "Ground elevation, canopy top height and relative height metrics.",
        "data_center": "LPCLOUD",
        "time_start": "2019-03-25T00:00:00.000Z",
        "time_end": "2023-03-16T23:59:59.999Z",
        "boxes": _GLOBAL_BOX,
    },
    "C2142776747-LPCLOUD": {
        "short_name": "GEDI02_B",
        "title": "GEDI L2B Canopy Cover and Vertical Profile Metrics Data Global Footprint "
        "Level V002",
        "summary": "Canopy cover, plant area index and foliage height diversity profiles.",
        "data_center": "LPCLOUD",
        "time_start": "2019-03-25T00:00:00.000Z",
        "time_end": "2023-03-16T23:59:59.999Z",
        "boxes": _GLOBAL_BOX,
    },
    "C2237824918-ORNL_CLOUD": {
        "short_name": "GEDI_L4A_AGB_Density_V2_1_2056",
        "title": "GEDI L4A Footprint Level Aboveground Biomass Density, Version 2.1",
        "summary": "Aboveground biomass density predictions for each GEDI footprint.",
        "data_center": "ORNL_CLOUD",
        "time_start": "2019-04-18T00:00:00.000Z",
        "time_end": "2023-03-16T23:59:59.999Z",
        "boxes": ["-52 -180 52 180"],
    },
    "C3049900163-ORNL_CLOUD": {
        "short_name": "GEDI_L4C_WSCI_2338",
        "title": "GEDI L4C Footprint Level Waveform Structural Complexity Index, Version 2",
        "summary": "Waveform structural complexity index for each GEDI footprint.",
        "data_center": "ORNL_CLOUD",
        "time_start": "2019-04-18T00:00:00.000Z",
        "time_end": "2023-03-16T23:59:59.999Z",
        "boxes": ["-52 -180 52 180"],
    },
}
_CONCEPT_ID = re.compile(r"[A-Z]+\d+-[A-Z0-9_]+")


class GediEmulator(EmulatorServer):
    """CMR collection search plus the S3 bucket of a gedidb database (see the module).

    ``sample`` sets the shots (:class:`~.samples.SampleSpec` fields), ``bucket`` the
    public bucket's name (:data:`PRIVATE_BUCKET` holds the same array, not public),
    ``s3_latency_ms`` the S3 side's latency, ``collections`` replaces or adds CMR records
    by concept id (a ``None`` value removes one).
    """

    name = "gedidb"

    def __init__(
        self,
        latency_ms: float = 0,
        faults: Any = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sample: Mapping[str, Any] | None = None,
        bucket: str = DEFAULT_BUCKET,
        s3_latency_ms: float = 0,
        collections: Mapping[str, Mapping[str, Any] | None] | None = None,
    ):
        super().__init__(latency_ms=latency_ms, faults=faults, host=host, port=port)
        self.sample = SampleSpec.from_mapping(sample)
        self.bucket = bucket
        self.s3_latency_ms = s3_latency_ms
        self.collections: dict[str, dict[str, Any]] = copy.deepcopy(DEFAULT_COLLECTIONS)
        for concept_id, record in (collections or {}).items():
            if record is None:
                self.collections.pop(concept_id, None)
            else:
                self.collections[concept_id] = dict(record)
        self.s3: Any = None
        self._folder: str | None = None

    # -- lifecycle: the S3 child lives as long as this server

    def start(self) -> GediEmulator:
        import importlib.util

        from .s3 import GediS3Emulator
        from .samples import write_array

        if importlib.util.find_spec("moto") is None:
            raise RuntimeError(
                "the gedidb emulator serves its bucket with moto's S3 server: "
                "pip install 'eostores-gedidb[testing]'"
            )

        self._folder = tempfile.mkdtemp(prefix="eostores-gedidb-emulator-")
        try:
            array = write_array(self._folder, self.sample)
            self.s3 = GediS3Emulator.start_subprocess(
                source_dir=str(array),
                bucket=self.bucket,
                private_bucket=PRIVATE_BUCKET,
                latency_ms=self.s3_latency_ms,
                startup_timeout=120.0,
            )
            super().start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        super().stop()
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def store_params(self) -> dict[str, Any]:
        """Store parameters of a ``gedidb`` store that reads from this emulator."""
        params = {"cmr_url": f"{self.url}/search"}
        if self.s3 is not None:
            params.update(self.s3.store_params())
        return params

    # -- the request log of both sides

    @property
    def request_log(self) -> list[RequestRecord]:
        """The requests served by the CMR and the S3 side, in the order they started."""
        records = list(super().request_log)
        if self.s3 is not None:
            records += self.s3.request_log
        return sorted(records, key=lambda record: record.started)

    @property
    def cmr_log(self) -> list[RequestRecord]:
        """The requests served by the CMR side only."""
        return list(super().request_log)

    def reset_log(self) -> None:
        super().reset_log()
        if self.s3 is not None:
            self.s3.reset_log()

    def set_faults(self, faults: Any) -> None:
        """The same fault profile on both sides (``None`` removes all faults)."""
        self.faults = faults
        if self.s3 is not None:
            self.s3.set_faults(faults)

    # -- CMR

    @route("GET", r"/search/collections\.json")
    def collections_json(self, request: Request) -> Response:
        wanted = [v for k, v in request.query_list if k in ("concept_id", "concept_id[]")]
        for concept_id in wanted:
            if not _CONCEPT_ID.fullmatch(concept_id):
                return Response.json(
                    {"errors": [f"Concept-id [{concept_id}] is not valid."]}, status=400
                )
        entries = [
            _entry(concept_id, self.collections[concept_id])
            for concept_id in wanted
            if concept_id in self.collections
        ]
        feed = {
            "feed": {
                "updated": "2024-05-01T00:00:00.000Z",
                "id": f"{self.url}{request.raw_path}",
                "title": "ECHO dataset metadata",
                "entry": entries,
            }
        }
        headers = {"CMR-Hits": str(len(entries)), "CMR-Took": "7", "CMR-Request-Id": "emulated"}
        return Response.json(feed, headers=headers)


def _entry(concept_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    entry = {
        "id": concept_id,
        "dataset_id": record.get("title"),
        "version_id": "2",
        "processing_level_id": "Level 2",
        "coordinate_system": "CARTESIAN",
        "original_format": "UMM_JSON",
        "online_access_flag": True,
        "browse_flag": False,
        "has_spatial_subsetting": False,
        "updated": "2024-05-01T00:00:00.000Z",
        "links": [{"rel": "http://esipfed.org/ns/fedsearch/1.1/metadata#", "hreflang": "en-US"}],
    }
    entry.update(copy.deepcopy(dict(record)))
    return entry
