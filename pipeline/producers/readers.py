"""Input readers: CSV, JSON Lines, STIX 2.1 bundles and MISP events → :class:`ReportInput` or rejects.

Every reader yields, in file order, a :class:`~pipeline.producers.records.ReportInput` for each entry
whose fields are valid, a :class:`~pipeline.producers.records.Rejected` naming ``file:line`` (or
``file:objects[3]``, ``file:Attribute[2]``) and the reason otherwise, and a
:class:`~pipeline.producers.records.Skipped` for entries deliberately not published. A file that cannot be
read as a whole (bad encoding, invalid JSON, a CSV without the required columns) raises
:class:`~pipeline.errors.InputError` naming the file, the line and the problem.

Files are read whole: the publisher needs the content hash for deterministic submission ids, and JSON
must be parsed whole anyway. ``-`` reads standard input.

>>> src = SourceFile("reports.csv", b"type,value\\ndomain,example.com\\n")
>>> [item.value for item in read_source(src)]
['example.com']
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Final

import orjson

from pipeline.errors import InputError
from pipeline.producers.misp_input import is_misp_document, read_misp
from pipeline.producers.records import ReadItem, Rejected, report_from_fields
from pipeline.producers.stix_input import is_stix_document, read_stix

logger = logging.getLogger(__name__)

FORMATS: Final = ("csv", "jsonl", "stix", "misp")
STDIN_NAME: Final = "<stdin>"
CSV_REQUIRED: Final = ("type", "value")
CSV_OPTIONAL: Final = (
    "country", "scam_type", "confidence", "tlp", "first_seen", "description", "bic", "revoked",
)  # fmt: skip
#: Header spellings read as one of the columns above.
_CSV_HEADER_ALIASES: Final = {"kind": "type", "scam_types": "scam_type"}
_EXTENSIONS: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


@dataclass(frozen=True)
class SourceFile:
    """The bytes of one input file and the name messages use for it."""

    name: str
    data: bytes

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the content (part of each report's deterministic submission id)."""
        return hashlib.sha256(self.data).hexdigest()


def load_source(path: str, *, stdin: BinaryIO | None = None) -> SourceFile:
    """Read a file (``-``: standard input) into a :class:`SourceFile`; InputError when unreadable."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return SourceFile(STDIN_NAME, stream.read())
    try:
        return SourceFile(path, Path(path).read_bytes())
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror or exc}") from exc


def read_path(path: str, fmt: str | None = None, *, stdin: BinaryIO | None = None) -> Iterator[ReadItem]:
    """Read one file (``-``: stdin) in ``fmt`` or the format its name and content suggest."""
    return read_source(load_source(path, stdin=stdin), fmt)


def read_source(src: SourceFile, fmt: str | None = None) -> Iterator[ReadItem]:
    """Yield the reports, rejects and skipped entries of ``src``.

    ``fmt`` is one of :data:`FORMATS`; ``None`` infers it (see :func:`infer_format`). Raises InputError
    before yielding anything when the file as a whole is unreadable.
    """
    text = decode(src.data, src.name)
    fmt = fmt or infer_format(src.name, text)
    if fmt == "csv":
        return read_csv(text, src.name)
    if fmt == "jsonl":
        return read_jsonl(text, src.name)
    if fmt == "stix":
        return read_stix(load_json(text, src.name), src.name)
    if fmt == "misp":
        return read_misp(load_json(text, src.name), src.name)
    raise InputError(src.name, None, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a UTF-8 BOM is dropped; UTF-16 with a BOM, as Excel writes it, is accepted).

    Raises InputError naming the line of the first byte that is not UTF-8.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(name, None, f"invalid UTF-16: {exc.reason}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start]
        raise InputError(
            name, line, f"not UTF-8 text: byte 0x{byte:02x} at column {column}; save the file as UTF-8"
        ) from exc


def load_json(text: str, name: str) -> Any:
    """Parse a whole JSON document; InputError with the line and column of a syntax error."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(name, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from exc


def infer_format(name: str, text: str) -> str:
    """The format of a file from its extension, or from its content when the extension does not say.

    ``.csv`` → csv, ``.jsonl``/``.ndjson`` → jsonl, ``.json`` → stix or misp by looking inside. Without a
    known extension (stdin, ``.txt``): a document that parses as one JSON value is sniffed the same way,
    text starting with ``{`` is JSON Lines, anything else CSV.
    """
    fmt = _EXTENSIONS.get(Path(name).suffix.lower())
    if fmt is not None and fmt != "json":
        return fmt
    if fmt == "json":
        return sniff_json(load_json(text, name), name)
    start = text.lstrip()[:1]
    if start in ("{", "["):
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            if start == "{":
                return "jsonl"
            raise
        return sniff_json(doc, name)
    return "csv"


def sniff_json(doc: Any, name: str) -> str:
    """``stix`` or ``misp`` for a parsed JSON document; InputError when it is neither."""
    if is_misp_document(doc):
        return "misp"
    if is_stix_document(doc):
        return "stix"
    raise InputError(
        name, None, "JSON is neither a STIX bundle (or list of STIX objects) nor a MISP event; pass --format"
    )


def _sniff_delimiter(header_line: str) -> str:
    """``,`` unless the header only makes sense split on ``;`` or a tab (European Excel, TSV)."""
    for delimiter in (",", ";", "\t"):
        names = {_column_name(cell) for cell in header_line.split(delimiter)}
        if {"type", "value"} <= names:
            return delimiter
    return ","


def _column_name(cell: str) -> str:
    name = cell.strip().strip('"').strip().lower().replace(" ", "_").replace("-", "_")
    return _CSV_HEADER_ALIASES.get(name, name)


def read_csv(text: str, name: str) -> Iterator[ReadItem]:
    """Reports from CSV with a header: ``type,value,country,scam_type,confidence,tlp,first_seen,description``.

    Only ``type`` and ``value`` are required; columns may come in any order; unknown columns are ignored
    (with a warning). ``scam_type`` may hold several names separated by ``;`` or ``|``. Blank rows are
    skipped. A missing required column or a repeated one raises InputError before any row is read.
    """
    lines = text.split("\n")
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        expected = ",".join(CSV_REQUIRED + CSV_OPTIONAL)
        raise InputError(name, None, f"empty file: expected a header line such as {expected}")
    header_line_no = header_index + 1
    delimiter = _sniff_delimiter(lines[header_index])
    # newline="" lets the csv module see \r\n and quoted newlines itself; line_num then counts real lines.
    reader = csv.reader(io.StringIO("\n".join(lines[header_index:]), newline=""), delimiter=delimiter)
    try:
        header = [_column_name(cell) for cell in next(reader)]
    except csv.Error as exc:
        raise InputError(name, header_line_no, f"unreadable CSV header: {exc}") from exc
    columns = _check_header(header, name, header_line_no)
    return _csv_rows(reader, columns, name, header_index)


def _check_header(header: list[str], name: str, line: int) -> list[str]:
    seen: set[str] = set()
    for column in header:
        if column and column in seen:
            raise InputError(name, line, f"column {column!r} appears twice in the header")
        seen.add(column)
    for column in CSV_REQUIRED:
        if column not in seen:
            found = ",".join(header) or "(nothing)"
            raise InputError(name, line, f"missing required column {column!r} (header: {found})")
    unknown = [c for c in header if c and c not in CSV_REQUIRED + CSV_OPTIONAL]
    if unknown:
        logger.warning("file=%s ignoring unknown column(s): %s", name, ", ".join(unknown))
    return header


def _csv_rows(reader: Any, columns: list[str], name: str, offset: int) -> Iterator[ReadItem]:
    previous_end = 1  # reader.line_num counts lines consumed, starting with the header
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(name, offset + reader.line_num, f"unreadable CSV: {exc}") from exc
        start, previous_end = offset + previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        source, location = f"{name}:{start}", str(start)
        extra = row[len(columns) :]
        if any(cell.strip() for cell in extra):
            yield Rejected(source, f"{len(row)} fields but the header has {len(columns)}")
            continue
        fields = {col: cell for col, cell in zip(columns, row, strict=False) if col}
        yield report_from_fields(fields, source=source, location=location)


def read_jsonl(text: str, name: str) -> Iterator[ReadItem]:
    """Reports from JSON Lines: one object per line with the CSV field names (``scam_types`` may be a list).

    Blank lines are skipped. A line that is not valid JSON raises InputError naming it; a valid JSON value
    that is not an object is rejected.
    """
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and other characters splitlines breaks on.
    parsed: list[tuple[int, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            parsed.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            raise InputError(name, number, f"invalid JSON: {exc.msg} (column {exc.colno})") from exc
    return _jsonl_items(parsed, name)


def _jsonl_items(parsed: list[tuple[int, Any]], name: str) -> Iterator[ReadItem]:
    for number, obj in parsed:
        source = f"{name}:{number}"
        if not isinstance(obj, dict):
            yield Rejected(source, f"expected a JSON object, got {type(obj).__name__}")
            continue
        yield report_from_fields(obj, source=source, location=str(number))
