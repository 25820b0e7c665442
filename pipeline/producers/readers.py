"""Input readers: CSV, JSON Lines, plain lists, STIX 2.1 and MISP → :class:`ReportInput`, rejects and skips.

Every reader yields, in file order, a :class:`~pipeline.producers.records.ReportInput` for each entry
whose fields are valid, a :class:`~pipeline.producers.records.Rejected` naming ``file:line`` (or
``file:objects[3]``, ``file:Attribute[2]``) and the reason otherwise, and a
:class:`~pipeline.producers.records.Skipped` for entries deliberately not published (a type the exchange
does not carry, a MISP attribute marked ``to_ids: false``), with its category for the per-type counts.

:func:`prepare` reads a file once as a check: the format, the number of entries (for a progress bar) and
any problem with the file as a whole (bad encoding, invalid JSON, a CSV without the required columns), as
an :class:`~pipeline.errors.InputError` naming the file, the line and the problem. Its ``items()`` then
reads the file again, in bounded memory for the line formats; JSON documents (STIX, MISP, a JSON array)
are parsed whole, once.

>>> src = SourceFile("reports.csv", b"type,value\\ndomain,example.com\\n")
>>> [item.value for item in read_source(src)]
['example.com']
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import orjson

from pipeline.errors import InputError
from pipeline.producers.misp_input import is_misp_document, read_misp
from pipeline.producers.records import DEFAULT_OPTIONS, ReadItem, ReadOptions
from pipeline.producers.sources import (
    STDIN_NAME,
    SourceFile,
    decode,
    is_utf16,
    load_json,
    load_source,
    text_lines,
    whole_text,
)
from pipeline.producers.stix_input import is_stix_document, read_stix
from pipeline.producers.tabular import (
    CSV_OPTIONAL,
    CSV_REQUIRED,
    count_csv,
    count_jsonl,
    count_list,
    is_record_array,
    is_string_array,
    list_value,
    looks_like_header,
    read_csv_lines,
    read_jsonl_lines,
    read_list_lines,
    read_record_array,
    read_string_array,
)

logger = logging.getLogger(__name__)

FORMATS: Final = ("csv", "jsonl", "list", "stix", "misp")
_EXTENSIONS: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".tsv": "csv"}


@dataclass(frozen=True)
class Prepared:
    """A file read once and found readable: its format, how many entries it holds, and its items."""

    source: SourceFile
    fmt: str
    entries: int
    items: Callable[[], Iterator[ReadItem]]


def prepare(src: SourceFile, fmt: str | None = None, options: ReadOptions = DEFAULT_OPTIONS) -> Prepared:
    """Check ``src`` as a whole and count its entries; InputError names the first problem.

    ``fmt`` is one of :data:`FORMATS`; ``None`` infers it (see :func:`infer_format`).
    """
    if fmt is not None and fmt not in FORMATS:
        raise InputError(src.name, None, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    head = _head_text(src)
    fmt = fmt or infer_format(src.name, head, options=options, whole=lambda: whole_text(src))
    if fmt == "list" and head.lstrip().startswith("["):
        doc = _json_or_none(whole_text(src))
        if isinstance(doc, list):
            return _prepared_document(src, fmt, doc, options)
    elif fmt in ("stix", "misp") or (fmt == "jsonl" and head.lstrip().startswith("[")):
        doc = load_json(whole_text(src), src.name)
        return _prepared_document(src, fmt, doc, options)
    read, count = _LINE_READERS[fmt]
    entries = count(text_lines(src), src.name, options)
    return Prepared(src, fmt, entries, lambda: read(text_lines(src), src.name, options))


def _prepared_document(src: SourceFile, fmt: str, doc: Any, options: ReadOptions) -> Prepared:
    if fmt == "jsonl" and isinstance(doc, list):
        return Prepared(src, "jsonl", len(doc), lambda: read_record_array(doc, src.name, options))
    if fmt == "list" or is_string_array(doc):
        if not isinstance(doc, list):
            raise InputError(src.name, None, "a list of values in JSON is an array of strings")
        return Prepared(src, "list", len(doc), lambda: read_string_array(doc, src.name, options))
    reader = read_stix if fmt == "stix" else read_misp
    items = list(reader(doc, src.name, options))
    return Prepared(src, fmt, len(items), lambda: iter(items))


_Reader = Callable[[Iterator[str], str, ReadOptions], Iterator[ReadItem]]
_Counter = Callable[[Iterator[str], str, ReadOptions], int]
#: Format → (reader, check pass). The check pass reads the same lines for their syntax only.
_LINE_READERS: Final[dict[str, tuple[_Reader, _Counter]]] = {
    "csv": (read_csv_lines, count_csv),
    "jsonl": (read_jsonl_lines, count_jsonl),
    "list": (read_list_lines, count_list),
}


def read_source(
    src: SourceFile, fmt: str | None = None, options: ReadOptions = DEFAULT_OPTIONS
) -> Iterator[ReadItem]:
    """The reports, rejects and skipped entries of ``src``; InputError before any when it is unreadable."""
    return prepare(src, fmt, options).items()


def read_path(
    path: str,
    fmt: str | None = None,
    *,
    stdin: BinaryIO | None = None,
    options: ReadOptions = DEFAULT_OPTIONS,
) -> Iterator[ReadItem]:
    """Read one file (``-``: stdin) in ``fmt`` or the format its name and content suggest."""
    return read_source(load_source(path, stdin=stdin), fmt, options)


def _json_or_none(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None  # "[.]evil.example" starts a plain list, not a JSON array


def _head_text(src: SourceFile) -> str:
    """The start of ``src`` decoded, for format inference only: a character cut at its end is left out
    (a minified document is one long line), and a bad byte in it is reported where it is."""
    head = src.head()
    if is_utf16(head):
        return whole_text(src)[:65536]
    if len(head) < 65536:
        return decode(head, src.name)
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return decode(head, src.name)  # raises, naming the line and column


def infer_format(
    name: str,
    text: str,
    *,
    options: ReadOptions = DEFAULT_OPTIONS,
    whole: Callable[[], str] | None = None,
) -> str:
    """The format of a file from its extension, or from the start of its content (``text``).

    ``.csv``/``.tsv`` → csv (a plain list when ``--type`` is given and the first line is no header),
    ``.jsonl``/``.ndjson`` → jsonl, ``.json`` → stix, misp or a list by looking inside. Otherwise (stdin,
    ``.txt``): JSON whose first line is a whole object followed by more lines is JSON Lines; other JSON
    is sniffed as a document; text with a header naming a ``value`` column is CSV; anything else is a plain
    list (with ``--type``) or CSV, which then explains the missing header. ``whole`` returns the whole
    text when the head is not enough to parse a JSON document.
    """
    ext = _EXTENSIONS.get(Path(name).suffix.lower())
    if ext in ("jsonl",):
        return ext
    if ext == "csv":
        return _text_format(text, options) if options.kind else "csv"
    stripped = text.lstrip()
    if ext == "json" or stripped[:1] in ("{", "["):
        return _json_format(name, stripped, options, whole, require=ext == "json")
    return _text_format(text, options)


def _text_format(text: str, options: ReadOptions) -> str:
    first = next((line for line in text.split("\n") if list_value(line) is not None), "")
    if looks_like_header(first) or not options.kind:
        return "csv"
    return "list"


def _json_format(
    name: str, stripped: str, options: ReadOptions, whole: Callable[[], str] | None, *, require: bool
) -> str:
    first, _, rest = stripped.partition("\n")
    try:
        first_value = orjson.loads(first)
    except orjson.JSONDecodeError:
        first_value = None
    if isinstance(first_value, dict) and rest.strip() and not require:
        return "jsonl"
    text = whole() if whole is not None else stripped
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if stripped.startswith("{") and not require:
            return "jsonl"
        if stripped.startswith("[") and options.kind and not require:
            return "list"  # "[.]evil.example" on the first line of a plain list
        raise InputError(name, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from exc
    if isinstance(doc, dict) and "value" in doc and not is_misp_document(doc) and not is_stix_document(doc):
        return "jsonl"  # one record on one line
    return sniff_json(doc, name, options)


def sniff_json(doc: Any, name: str, options: ReadOptions = DEFAULT_OPTIONS) -> str:
    """``stix``, ``misp`` or ``list`` for a parsed JSON document; InputError when it is none of them."""
    if is_string_array(doc):
        if not options.kind:
            raise InputError(
                name, None, "a JSON array of strings is a plain list of values: give --type KIND"
            )
        return "list"
    if is_record_array(doc):
        return "jsonl"  # an array of records: JSON Lines as one document
    if is_misp_document(doc):
        return "misp"
    if is_stix_document(doc):
        return "stix"
    raise InputError(
        name,
        None,
        "JSON is neither a STIX bundle (or list of STIX objects), a MISP event or search result, nor a "
        "list of values; pass --format",
    )


__all__ = [
    "CSV_OPTIONAL",
    "CSV_REQUIRED",
    "FORMATS",
    "STDIN_NAME",
    "Prepared",
    "SourceFile",
    "decode",
    "infer_format",
    "load_json",
    "load_source",
    "prepare",
    "read_path",
    "read_source",
    "sniff_json",
]
