"""Line-oriented inputs: CSV with a header, JSON Lines, and plain lists (one value per line).

Each reader takes the decoded lines of a file (:func:`pipeline.producers.sources.text_lines`) and yields,
in order, a :class:`ReportInput`, or a :class:`Rejected` naming ``file:line`` and the reason. Problems
with the file as a whole (a CSV without its required columns, a line of JSON Lines that is not JSON) raise
:class:`InputError` naming the line; the publisher runs every reader once as a check before it sends
anything (:func:`pipeline.producers.readers.prepare`), so such a file publishes nothing.

Plain lists are what most feeds are: one value per line, ``#`` comments and blank lines skipped, and the
hosts-file form ``0.0.0.0 evil.example`` read as its host. Their kind (``--type``) and country
(``--country``) come from :class:`ReadOptions`.
"""

from __future__ import annotations

import csv
import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

import orjson

from pipeline.errors import InputError
from pipeline.producers.records import DEFAULT_OPTIONS, ReadItem, ReadOptions, Rejected, report_from_fields

logger = logging.getLogger(__name__)

CSV_REQUIRED: Final = ("type", "value")
CSV_OPTIONAL: Final = (
    "country", "scam_type", "confidence", "tlp", "first_seen", "description", "bic", "revoked",
)  # fmt: skip
#: Header spellings read as one of the columns above.
_CSV_HEADER_ALIASES: Final = {"kind": "type", "scam_types": "scam_type"}
#: Addresses a hosts-format blocklist maps a bad host to.
_HOSTS_SINKS: Final = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1"})  # noqa: S104 - data, not a bind


#: ``evil.example  # seen in SMS``: a comment after blanks (a URL's ``#fragment`` has none before it).
_INLINE_COMMENT: Final = re.compile(r"\s+#")
_WARNED: set[tuple[str, tuple[str, ...]]] = set()


def column_name(cell: str) -> str:
    name = cell.strip().strip('"').strip().lower().replace(" ", "_").replace("-", "_")
    return _CSV_HEADER_ALIASES.get(name, name)


def sniff_delimiter(header_line: str) -> str:
    """``,`` unless the header only makes sense split on ``;`` or a tab (European Excel, TSV)."""
    for delimiter in (",", ";", "\t"):
        names = {column_name(cell) for cell in header_line.split(delimiter)}
        if "value" in names:
            return delimiter
    return ","


def looks_like_header(line: str) -> bool:
    """Whether ``line`` is a CSV header (it names a ``value`` column)."""
    return "value" in {column_name(cell) for cell in line.split(sniff_delimiter(line))}


def _first_content(lines: Iterator[str]) -> tuple[int, str] | None:
    """The first line that is neither blank nor a ``#`` comment (feeds such as URLhaus's CSV open with
    comment lines before the header)."""
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number, line
    return None


def read_csv_lines(
    lines: Iterable[str], name: str, options: ReadOptions = DEFAULT_OPTIONS
) -> Iterator[ReadItem]:
    """Reports from CSV with a header: ``type,value,country,scam_type,confidence,tlp,first_seen,...``.

    ``type`` and ``value`` are required (``type`` may be left out when ``options.kind`` gives it); columns
    may come in any order; unknown columns are ignored with a warning. ``scam_type`` may hold several names
    separated by ``;`` or ``|``. Blank rows are skipped. A missing required column or a repeated one raises
    InputError at once, before any row is read.
    """
    reader, columns, offset = _csv_reader(lines, name, options)
    return _csv_rows(reader, columns, name, offset, options)


def count_csv(lines: Iterable[str], name: str, options: ReadOptions = DEFAULT_OPTIONS) -> int:
    """The check pass over a CSV: its header and every record's syntax; the number of rows it holds."""
    reader, _columns, offset = _csv_reader(lines, name, options)
    rows, previous_end = 0, 1
    try:
        for row in reader:
            rows += any(cell.strip() for cell in row)
            previous_end = reader.line_num
    except csv.Error as exc:
        start = offset + previous_end + 1
        raise InputError(
            name, start, f"unreadable CSV: {exc} (in the record that starts here: an unclosed quote?)"
        ) from exc
    return rows


def _csv_reader(lines: Iterable[str], name: str, options: ReadOptions) -> tuple[Any, list[str], int]:
    stream = iter(lines)
    found = _first_content(stream)
    if found is None:
        expected = ",".join(CSV_REQUIRED + CSV_OPTIONAL)
        raise InputError(name, None, f"empty file: expected a header line such as {expected}")
    header_no, header_line = found
    delimiter = sniff_delimiter(header_line)
    # strict: a stray quote is an error at once, not a field that swallows the rest of the file.
    reader = csv.reader(itertools.chain([header_line], stream), delimiter=delimiter, strict=True)
    try:
        header = [column_name(cell) for cell in next(reader)]
    except csv.Error as exc:
        raise InputError(name, header_no, f"unreadable CSV header: {exc}") from exc
    return reader, _check_header(header, header_line, name, header_no, options), header_no - 1


def _check_header(header: list[str], raw: str, name: str, line: int, options: ReadOptions) -> list[str]:
    seen: set[str] = set()
    for column in header:
        if column and column in seen:
            raise InputError(name, line, f"column {column!r} appears twice in the header")
        seen.add(column)
    shown = raw.strip()
    shown = repr(shown if len(shown) <= 80 else shown[:77] + "...")
    if not seen & {*CSV_REQUIRED, *CSV_OPTIONAL}:
        raise InputError(
            name,
            line,
            f"no header line: the first line is {shown}. A CSV needs a header naming its columns "
            "(type,value,...); for a plain list of values, one per line, give --type KIND",
        )
    for column in CSV_REQUIRED:
        if column not in seen and not (column == "type" and options.kind):
            hint = " (or give --type KIND for every row)" if column == "type" else ""
            raise InputError(name, line, f"missing required column {column!r} in the header {shown}{hint}")
    unknown = tuple(c for c in header if c and c not in CSV_REQUIRED + CSV_OPTIONAL)
    if unknown and (name, unknown) not in _WARNED:
        _WARNED.add((name, unknown))  # once per file, not once per pass over it
        logger.warning("file=%s ignoring unknown column(s): %s", name, ", ".join(unknown))
    return header


def _csv_rows(
    reader: Any, columns: list[str], name: str, offset: int, options: ReadOptions
) -> Iterator[ReadItem]:
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
        if options.kind and not (fields.get("type") or "").strip():
            fields["type"] = options.kind
        yield report_from_fields(fields, source=source, location=location, country=options.country)


def read_jsonl_lines(
    lines: Iterable[str], name: str, options: ReadOptions = DEFAULT_OPTIONS
) -> Iterator[ReadItem]:
    """Reports from JSON Lines: one object per line with the CSV field names (``scam_types`` may be a list).

    Blank lines are skipped. A line that is not valid JSON raises InputError naming it; a valid JSON value
    that is not an object is rejected.
    """
    for number, obj in _json_lines(lines, name):
        source = f"{name}:{number}"
        if not isinstance(obj, dict):
            yield Rejected(source, f"expected a JSON object, got {type(obj).__name__}")
            continue
        if options.kind and not obj.get("type") and not obj.get("kind"):
            obj["type"] = options.kind
        yield report_from_fields(obj, source=source, location=str(number), country=options.country)


def count_jsonl(lines: Iterable[str], name: str, options: ReadOptions = DEFAULT_OPTIONS) -> int:
    """The check pass over JSON Lines: every line parses; the number of entries."""
    return sum(1 for _ in _json_lines(lines, name))


def _json_lines(lines: Iterable[str], name: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(name, number, f"invalid JSON: {exc.msg} (column {exc.colno})") from exc


def list_value(line: str) -> str | None:
    """The value on one line of a plain list; ``None`` for blank and comment lines."""
    text = _INLINE_COMMENT.split(line.strip(), maxsplit=1)[0]
    if not text or text.startswith("#"):
        return None
    parts = text.split()
    if len(parts) >= 2 and parts[0] in _HOSTS_SINKS:
        return parts[1]
    return text


def read_list_lines(lines: Iterable[str], name: str, options: ReadOptions) -> Iterator[ReadItem]:
    """Reports from a plain list: one value per line, all of kind ``options.kind``."""
    if not options.kind:
        raise InputError(name, None, "a plain list of values (one per line) needs --type KIND")
    for number, line in enumerate(lines, start=1):
        value = list_value(line)
        if value is None:
            continue
        fields = {"type": options.kind, "value": value}
        yield report_from_fields(
            fields, source=f"{name}:{number}", location=str(number), country=options.country
        )


def count_list(lines: Iterable[str], name: str, options: ReadOptions) -> int:
    """The check pass over a plain list: the number of values."""
    if not options.kind:
        raise InputError(name, None, "a plain list of values (one per line) needs --type KIND")
    return sum(1 for line in lines if list_value(line) is not None)


def read_string_array(doc: list[Any], name: str, options: ReadOptions) -> Iterator[ReadItem]:
    """Reports from a JSON array of strings, all of kind ``options.kind``; other entries are rejected."""
    if not options.kind:
        raise InputError(name, None, "a JSON array of strings is a plain list of values: give --type KIND")
    for index, entry in enumerate(doc):
        source, location = f"{name}:[{index}]", f"[{index}]"
        if not isinstance(entry, str):
            yield Rejected(source, f"expected a string in a list of values, got {type(entry).__name__}")
            continue
        fields = {"type": options.kind, "value": entry}
        yield report_from_fields(fields, source=source, location=location, country=options.country)


def read_record_array(doc: list[Any], name: str, options: ReadOptions) -> Iterator[ReadItem]:
    """Reports from a JSON array of records with the CSV field names (JSON Lines as one document)."""
    for index, obj in enumerate(doc):
        source, location = f"{name}:[{index}]", f"[{index}]"
        if not isinstance(obj, dict):
            yield Rejected(source, f"expected a JSON object, got {type(obj).__name__}")
            continue
        fields = obj
        if options.kind and not obj.get("type") and not obj.get("kind"):
            fields = {**obj, "type": options.kind}
        yield report_from_fields(fields, source=source, location=location, country=options.country)


def is_record_array(doc: Any) -> bool:
    """A JSON array of report records: objects with a ``value`` and no STIX id (``<type>--<uuid>``)."""
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(e, dict) for e in doc)
        and any("value" in e for e in doc)
        and not any(isinstance(e.get("id"), str) and "--" in e["id"] for e in doc)
    )


def is_string_array(doc: Any) -> bool:
    """A JSON list of values: an array of strings (anything else in it but objects is rejected per entry)."""
    return (
        isinstance(doc, list)
        and any(isinstance(e, str) for e in doc)
        and not any(isinstance(e, dict) for e in doc)
    )


__all__ = [
    "CSV_OPTIONAL",
    "CSV_REQUIRED",
    "count_csv",
    "count_jsonl",
    "count_list",
    "is_record_array",
    "is_string_array",
    "list_value",
    "looks_like_header",
    "read_csv_lines",
    "read_jsonl_lines",
    "read_list_lines",
    "read_record_array",
    "read_string_array",
    "sniff_delimiter",
]
