"""The emulated catalogue documents: OpenSearch description, GeoJSON search results, ISO 19115.

They follow the shapes CEDA's OpenSearch service gives: facets as ``param:Parameter``
options whose labels end in the number of files, collection features linking their ISO
record and description, file features with ``date`` ("start/end", in the dataset's date
style) and related links titled ``Download`` and ``Opendap``.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .datasets import SampleDataset, SampleFile

__all__ = [
    "FACET_NAMES",
    "collection_feature",
    "description_xml",
    "file_feature",
    "iso_xml",
    "matches_facets",
    "overlaps",
]

#: The facets of the description, in the service's order.
FACET_NAMES = (
    "ecv",
    "frequency",
    "institute",
    "processingLevel",
    "productString",
    "productVersion",
    "dataType",
    "sensor",
    "platform",
    "fileFormat",
    "drsId",
)


def _facet_values(dataset: SampleDataset) -> dict[str, str]:
    parts = dataset.parts
    values = {name: parts[name] for name in FACET_NAMES if name in parts}
    values.update(institute=dataset.institute, fileFormat=".nc", drsId=dataset.drs_id)
    return values


def description_xml(
    base_url: str,
    datasets: Iterable[SampleDataset],
    parent: str = "cci",
    extra_drs_ids: Iterable[str] = (),
) -> str:
    """The OpenSearch description of ``parent`` with a facet per parameter."""
    datasets = list(datasets)
    counts: dict[str, Counter] = {name: Counter() for name in FACET_NAMES}
    for dataset in datasets:
        files = len(dataset.files())
        for name, value in _facet_values(dataset).items():
            counts[name][value] += files
    for drs_id in extra_drs_ids:
        counts["drsId"][drs_id] += 1
    template = html.escape(
        f"{base_url}/opensearch/request?parentIdentifier={parent}&"
        + "&".join(f"{name}={{{name}?}}" for name in FACET_NAMES)
        + "&startDate={time:start?}&endDate={time:end?}&startPage={startPage?}"
        "&maximumRecords={count?}&httpAccept=application/geo%2Bjson",
        quote=True,
    )
    parameters = []
    for name in FACET_NAMES:
        options = "".join(
            f'\n      <param:Option value="{html.escape(value, quote=True)}" '
            f'label="{html.escape(value, quote=True)} ({count})"/>'
            for value, count in sorted(counts[name].items())
        )
        parameters.append(
            f'    <param:Parameter name="{name}" value="{{{name}?}}">{options}\n'
            "    </param:Parameter>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:param="http://a9.com/-/spec/opensearch/extensions/parameters/1.0/" '
        'xmlns:time="http://a9.com/-/opensearch/extensions/time/1.0/">\n'
        "  <ShortName>CEDA</ShortName>\n"
        f"  <Description>Emulated OpenSearch for {html.escape(parent)}</Description>\n"
        f'  <Url type="application/geo+json" rel="results" template="{template}">\n'
        + "\n".join(parameters)
        + "\n  </Url>\n</OpenSearchDescription>\n"
    )


def matches_facets(dataset: SampleDataset, query: Mapping[str, str]) -> bool:
    """Whether the facet parameters of a search select ``dataset``."""
    values = _facet_values(dataset)
    return all(
        not query.get(name) or query[name] == values.get(name)
        for name in FACET_NAMES
        if name != "fileFormat"
    )


def collection_feature(base_url: str, dataset: SampleDataset) -> dict[str, Any]:
    """The GeoJSON feature of a collection."""
    west, south, east, north = dataset.bbox
    last = dataset.files()[-1].end
    return {
        "type": "Feature",
        "id": f"{base_url}/opensearch/request?parentIdentifier={dataset.uuid}",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[west, south], [east, south], [east, north], [west, north], [west, south]]
            ],
        },
        "properties": {
            "identifier": dataset.uuid,
            "title": dataset.title,
            "date": f"{dataset.instant(dataset.files()[0].start)}/"
            f"{dataset.instant(last, end=True)}",
            "variables": [
                {"var_id": v.name, "units": v.units, "long_name": v.long_name}
                for v in dataset.variables
            ],
            "links": {
                "search": [
                    {
                        "title": "Opensearch Description Document",
                        "href": f"{base_url}/opensearch/description.xml?parentIdentifier="
                        f"{dataset.uuid}",
                        "type": "application/xml",
                    }
                ],
                "describedby": [
                    {
                        "title": "ISO19115",
                        "href": f"{base_url}/catalogue/iso/{dataset.uuid}.xml",
                        "type": "application/xml",
                    }
                ],
                "via": [
                    {
                        "title": "Dataset Manifest",
                        "href": f"{base_url}/catalogue/manifest/{dataset.uuid}.json",
                    }
                ],
            },
        },
    }


def file_feature(
    base_url: str, dataset: SampleDataset, sample: SampleFile, size: int | None = None
) -> dict[str, Any]:
    """The GeoJSON feature of one file."""
    path = dataset.file_path(sample)
    return {
        "type": "Feature",
        "id": f"{dataset.uuid}-{sample.index}",
        "geometry": None,
        "properties": {
            "identifier": sample.name,
            "title": sample.name,
            "filesize": size,
            "date": dataset.date_property(sample),
            "links": {
                "related": [
                    {"title": "Download", "href": f"{base_url}/thredds/fileServer/{path}"},
                    {"title": "Opendap", "href": f"{base_url}/thredds/dodsC/{path}"},
                ]
            },
        },
    }


def overlaps(sample: SampleFile, start: datetime | None, end: datetime | None) -> bool:
    """Whether a file's period overlaps ``start..end`` (both inclusive, either open)."""
    return (start is None or sample.end >= start) and (end is None or sample.start <= end)


_ABSTRACT = "emulated CCI data whose values are a known function of time, latitude and longitude."


def iso_xml(dataset: SampleDataset) -> str:
    """The ISO 19115 (gmd) record of a collection: title, abstract, extent."""
    west, south, east, north = dataset.bbox
    begin = dataset.instant(dataset.files()[0].start)
    last = dataset.files()[-1].end
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd"
    xmlns:gco="http://www.isotc211.org/2005/gco" xmlns:gml="http://www.opengis.net/gml/3.2">
  <gmd:fileIdentifier><gco:CharacterString>{dataset.uuid}</gco:CharacterString></gmd:fileIdentifier>
  <gmd:identificationInfo>
    <gmd:MD_DataIdentification>
      <gmd:citation>
        <gmd:CI_Citation>
          <gmd:title><gco:CharacterString>{html.escape(dataset.title)}</gco:CharacterString></gmd:title>
        </gmd:CI_Citation>
      </gmd:citation>
      <gmd:abstract>
        <gco:CharacterString>{html.escape(dataset.title)}: {_ABSTRACT}</gco:CharacterString>
      </gmd:abstract>
      <gmd:extent>
        <gmd:EX_Extent>
          <gmd:geographicElement>
            <gmd:EX_GeographicBoundingBox>
              <gmd:westBoundLongitude><gco:Decimal>{west}</gco:Decimal></gmd:westBoundLongitude>
              <gmd:eastBoundLongitude><gco:Decimal>{east}</gco:Decimal></gmd:eastBoundLongitude>
              <gmd:southBoundLatitude><gco:Decimal>{south}</gco:Decimal></gmd:southBoundLatitude>
              <gmd:northBoundLatitude><gco:Decimal>{north}</gco:Decimal></gmd:northBoundLatitude>
            </gmd:EX_GeographicBoundingBox>
          </gmd:geographicElement>
          <gmd:temporalElement>
            <gmd:EX_TemporalExtent>
              <gmd:extent>
                <gml:TimePeriod gml:id="period">
                  <gml:beginPosition>{begin}</gml:beginPosition>
                  <gml:endPosition>{dataset.instant(last, end=True)}</gml:endPosition>
                </gml:TimePeriod>
              </gmd:extent>
            </gmd:EX_TemporalExtent>
          </gmd:temporalElement>
        </gmd:EX_Extent>
      </gmd:extent>
    </gmd:MD_DataIdentification>
  </gmd:identificationInfo>
</gmd:MD_Metadata>
"""
