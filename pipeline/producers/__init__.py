"""Producers: read reports from files (CSV, JSON Lines, STIX 2.1, MISP) and publish them to Kafka.

>>> from pipeline.producers import read_path, to_canonical_report   # doctest: +SKIP
>>> for item in read_path("reports.csv"):                          # doctest: +SKIP
...     ...
"""

from pipeline.producers.publisher import (
    Delivery,
    DeliveryReport,
    Publisher,
    Submission,
    build_submission,
    check_producer_id,
)
from pipeline.producers.readers import FORMATS, SourceFile, infer_format, load_source, read_path, read_source
from pipeline.producers.records import (
    Accepted,
    ReadItem,
    Rejected,
    ReportInput,
    Skipped,
    file_submission_id,
    report_from_fields,
    to_canonical_report,
)

__all__ = [
    "FORMATS",
    "Accepted",
    "Delivery",
    "DeliveryReport",
    "Publisher",
    "ReadItem",
    "Rejected",
    "ReportInput",
    "Skipped",
    "SourceFile",
    "Submission",
    "build_submission",
    "check_producer_id",
    "file_submission_id",
    "infer_format",
    "load_source",
    "read_path",
    "read_source",
    "report_from_fields",
    "to_canonical_report",
]
