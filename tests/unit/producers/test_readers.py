"""CSV and JSON Lines readers, decoding, format inference and file-level errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.producers import sources
from pipeline.producers.readers import (
    STDIN_NAME,
    SourceFile,
    decode,
    infer_format,
    load_source,
    prepare,
    read_path,
    read_source,
)
from pipeline.producers.records import (
    Accepted,
    ReadItem,
    ReadOptions,
    Rejected,
    ReportInput,
    to_canonical_report,
)
from pipeline.stix.tlp import TLP

DATA = Path(__file__).parent / "data"


def _read(name: str, data: bytes, fmt: str | None = None) -> list[ReadItem]:
    return list(read_source(SourceFile(name, data), fmt))


def _summary(items: list[ReadItem]) -> list[tuple[str, str]]:
    """(source, value or reason) per item, for compact assertions."""
    return [(i.source, i.value if isinstance(i, ReportInput) else i.reason) for i in items]


# --- CSV --------------------------------------------------------------------------------------------


def test_csv_sample_every_row_is_a_report() -> None:
    path = str(DATA / "reports.csv")
    items = list(read_path(path))
    assert all(isinstance(i, ReportInput) for i in items)
    assert [i.source for i in items] == [f"{path}:{n}" for n in range(2, 9)]
    first = items[0]
    assert isinstance(first, ReportInput)
    assert (first.kind, first.country, first.scam_types, first.confidence, first.tlp) == (
        "phone",
        "AU",
        ("investment", "impersonation"),
        80,
        TLP.AMBER,
    )
    assert first.location == "2"
    url = items[2]
    assert isinstance(url, ReportInput)
    assert url.scam_types == ("phishing", "bank-impersonation")


def test_messy_csv_exact_lines(caplog: pytest.LogCaptureFixture) -> None:
    # BOM, ';' delimiter, CRLF, columns in another order, an unknown column, blank rows, a quoted
    # field spanning two lines, bad rows.
    items = _read("messy.csv", (DATA / "messy.csv").read_bytes())
    assert _summary(items) == [
        ("messy.csv:3", "+61 2 9876 5432"),
        ("messy.csv:5", "not-an-email"),  # fields fine; the value fails canonicalisation later
        ("messy.csv:6", "confidence must be an integer 0-100, got 'high'"),
        ("messy.csv:7", "+66 81 234 5678"),
        ("messy.csv:9", "12345"),
        (
            "messy.csv:10",
            "unknown type 'fax'; expected one of phone, domain, url, email, wallet, bank-account, social, "
            "imei",
        ),
        ("messy.csv:11", "6 fields but the header has 5"),
    ]
    first = items[0]
    assert isinstance(first, ReportInput)
    assert (first.kind, first.confidence, first.scam_types) == ("phone", 75, ("investment", "romance"))
    assert "ignoring unknown column(s): notes" in caplog.text


def test_csv_missing_optional_columns_and_short_rows() -> None:
    items = _read("a.csv", b"value,type\nexample.com,domain\nexample.org\n")
    assert _summary(items) == [("a.csv:2", "example.com"), ("a.csv:3", "missing 'type'")]


def test_csv_trailing_empty_cells_are_fine() -> None:
    items = _read("a.csv", b"type,value\ndomain,example.com,,\n")
    assert _summary(items) == [("a.csv:2", "example.com")]


def test_csv_missing_required_column_is_a_file_error() -> None:
    with pytest.raises(InputError) as err:
        _read("feed.csv", b"\n\ntype,country\nphone,AU\n")
    assert (err.value.path, err.value.line) == ("feed.csv", 3)
    assert str(err.value) == "feed.csv:3: missing required column 'value' in the header 'type,country'"


def test_csv_repeated_column_is_a_file_error() -> None:
    with pytest.raises(InputError, match=r"^a.csv:1: column 'value' appears twice"):
        _read("a.csv", b"type,value,value\n")


def test_csv_empty_file_is_a_file_error() -> None:
    with pytest.raises(InputError, match=r"^empty.csv: empty file"):
        _read("empty.csv", b"\n  \n")


def test_csv_header_aliases() -> None:
    items = _read("a.csv", b"Kind,Value,Scam Types\ndomain,example.com,phishing|romance\n")
    assert isinstance(items[0], ReportInput)
    assert items[0].scam_types == ("phishing", "romance")


def test_csv_tab_separated() -> None:
    items = _read("a.txt", b"type\tvalue\ndomain\texample.com\n", fmt="csv")
    assert _summary(items) == [("a.txt:2", "example.com")]


def test_csv_quoted_newline_keeps_line_numbers_right() -> None:
    items = _read("a.csv", b'type,value,description\ndomain,example.com,"two\nlines"\ndomain,example.org,\n')
    assert [i.source for i in items] == ["a.csv:2", "a.csv:4"]


# --- JSON Lines --------------------------------------------------------------------------------------


def test_jsonl_sample() -> None:
    items = _read("r.jsonl", (DATA / "reports.jsonl").read_bytes())
    assert _summary(items) == [
        ("r.jsonl:1", "+1 415 555 2671"),
        ("r.jsonl:3", "paypa1-secure.com"),
        ("r.jsonl:4", "expected a JSON object, got list"),
        ("r.jsonl:5", "confidence must be between 0 and 100, got 101"),
        ("r.jsonl:6", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ("r.jsonl:7", "DE89 3704 0044 0532 0130 00"),
    ]
    first, iban = items[0], items[-1]
    assert isinstance(first, ReportInput)
    assert (first.tlp, first.scam_types) == (TLP.AMBER_STRICT, ("tech-support", "impersonation"))
    assert isinstance(iban, ReportInput)
    assert (iban.kind, iban.bic) == ("bank-account", "COBADEFF")


def test_jsonl_invalid_json_names_the_line() -> None:
    data = b'{"type": "domain", "value": "example.com"}\n\n{"type": "domain", "value": }\n'
    with pytest.raises(InputError) as err:
        _read("feed.jsonl", data)
    assert (err.value.path, err.value.line) == ("feed.jsonl", 3)
    assert "invalid JSON" in err.value.problem
    assert "column" in err.value.problem


def test_jsonl_keeps_unicode_line_separators_inside_strings() -> None:
    data = '{"type": "domain", "value": "example.com", "description": "a\u2028b"}\n'.encode()
    items = _read("u.jsonl", data)
    assert isinstance(items[0], ReportInput)
    assert items[0].description == "a\u2028b"


# --- decoding ----------------------------------------------------------------------------------------


def test_bad_utf8_names_line_and_column() -> None:
    with pytest.raises(InputError) as err:
        _read("latin1.csv", b"type,value\ndomain,example.com\ndomain,caf\xe9.com\n")
    assert (err.value.line, str(err.value)) == (
        3,
        "latin1.csv:3: not UTF-8 text: byte 0xe9 at column 11; save the file as UTF-8",
    )


def test_utf16_with_bom_is_read() -> None:
    data = "type,value\r\ndomain,example.com\r\n".encode("utf-16")
    assert _summary(_read("excel.csv", data)) == [("excel.csv:2", "example.com")]


def test_utf8_bom_is_dropped() -> None:
    assert decode(b"\xef\xbb\xbftype", "x") == "type"


# --- format inference and sources ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("a.csv", "{}", "csv"),
        ("a.JSONL", "", "jsonl"),
        ("a.ndjson", "", "jsonl"),
        ("a.json", '{"type": "bundle", "id": "bundle--1", "objects": []}', "stix"),
        ("a.json", '[{"type": "indicator", "id": "indicator--1"}]', "stix"),
        ("a.json", '{"Event": {"Attribute": []}}', "misp"),
        ("a.json", '{"response": [{"Event": {}}]}', "misp"),
        (STDIN_NAME, '{"type": "domain", "value": "a.com"}\n{"type": "domain", "value": "b.com"}\n', "jsonl"),
        (STDIN_NAME, '  {"type": "bundle", "objects": []}', "stix"),
        (STDIN_NAME, "type,value\n", "csv"),
        ("feed.txt", '{"Event": {}}', "misp"),
    ],
)
def test_infer_format(name: str, text: str, fmt: str) -> None:
    assert infer_format(name, text) == fmt


def test_infer_format_unknown_json() -> None:
    with pytest.raises(InputError, match=r"^x.json: JSON is neither a STIX bundle"):
        infer_format("x.json", '{"hello": "world"}')


def test_invalid_json_file_names_line() -> None:
    with pytest.raises(InputError) as err:
        _read("bundle.json", b'{"type": "bundle",\n "objects": [\n  {"type": "indicator",}\n]}\n')
    assert (err.value.path, err.value.line) == ("bundle.json", 3)


def test_unknown_format_argument() -> None:
    with pytest.raises(InputError, match="unknown format 'xml'"):
        _read("a.xml", b"<x/>", fmt="xml")


def test_stdin_is_read_with_a_name() -> None:
    src = load_source("-", stdin=io.BytesIO(b"type,value\ndomain,example.com\n"))
    assert src.name == STDIN_NAME
    assert _summary(list(read_source(src))) == [(f"{STDIN_NAME}:2", "example.com")]


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError) as err:
        load_source(str(missing))
    assert err.value.path == str(missing)
    assert "cannot read" in err.value.problem


def test_sha256_of_content() -> None:
    a, b = SourceFile("a", b"x"), SourceFile("b", b"x")
    assert a.sha256 == b.sha256 == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"


def test_rejected_type_for_non_object_rows() -> None:
    assert isinstance(_read("x.jsonl", b"42\n")[0], Rejected)


# --- never crash on input -----------------------------------------------------------------------------

_JSON_KEYS = [
    "type",
    "value",
    "objects",
    "Event",
    "Attribute",
    "Object",
    "pattern",
    "id",
    "to_ids",
    "Tag",
    "tlp",
]
_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_JSON_KEYS), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.binary(max_size=200), _json_values.map(lambda v: json.dumps(v).encode())),
    st.sampled_from([None, "csv", "jsonl", "stix", "misp"]),
    st.sampled_from(["a.csv", "a.json", "a.jsonl", STDIN_NAME]),
)
def test_any_bytes_give_items_or_an_input_error(data: bytes, fmt: str | None, name: str) -> None:
    error: InputError | None = None
    try:
        items = list(read_source(SourceFile(name, data), fmt))
    except InputError as exc:
        error, items = exc, []
    assert error is None or error.path == name
    for item in items:
        assert item.source.startswith(f"{name}:")
        if isinstance(item, ReportInput):
            assert isinstance(to_canonical_report(item), Accepted | Rejected)


# --- plain lists and streaming (issue: real-world inputs) -----------------------------------------------

DOMAINS = ReadOptions(kind="domain")


def test_a_one_value_per_line_list_without_type_says_what_is_missing() -> None:
    with pytest.raises(InputError) as err:
        _read("feed.txt", b"evil-bank-login.com\npaypa1-secure.com\n")
    assert err.value.line == 1
    assert "no header line: the first line is 'evil-bank-login.com'" in str(err.value)
    assert "--type KIND" in str(err.value)


def test_a_plain_list_with_type_reads_every_line_skipping_comments_and_hosts_sinks() -> None:
    data = b"# a feed\n\nevil-bank-login.com\n0.0.0.0 paypa1-secure.com\nnot a domain\n"
    items = list(read_source(SourceFile("feed.txt", data), None, DOMAINS))
    assert _summary(items)[:2] == [
        ("feed.txt:3", "evil-bank-login.com"),
        ("feed.txt:4", "paypa1-secure.com"),
    ]
    assert [type(to_canonical_report(i)).__name__ for i in items if isinstance(i, ReportInput)] == [
        "Accepted",
        "Accepted",
        "Rejected",
    ]


def test_a_plain_list_takes_the_country_for_national_numbers() -> None:
    items = list(
        read_source(
            SourceFile("numbers.txt", b"081-234-5678\n"), None, ReadOptions(kind="phone", country="TH")
        )
    )
    (accepted,) = [to_canonical_report(i) for i in items if isinstance(i, ReportInput)]
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.value == "+66812345678"


def test_a_json_array_of_strings_is_a_plain_list() -> None:
    data = b'["evil-bank-login.com", 7, "paypa1-secure.com"]'
    with pytest.raises(
        InputError, match="a JSON array of strings is a plain list of values: give --type KIND"
    ):
        _read("feed.json", b'["evil-bank-login.com"]')
    items = list(read_source(SourceFile("feed.json", data), None, DOMAINS))
    assert _summary(items) == [
        ("feed.json:[0]", "evil-bank-login.com"),
        ("feed.json:[1]", "expected a string in a list of values, got int"),
        ("feed.json:[2]", "paypa1-secure.com"),
    ]


def test_a_csv_with_only_a_value_column_takes_its_type_from_the_option() -> None:
    items = list(
        read_source(SourceFile("a.csv", b"value,country\n0812345678,TH\n"), None, ReadOptions(kind="phone"))
    )
    assert [(i.kind, i.value, i.country) for i in items if isinstance(i, ReportInput)] == [
        ("phone", "0812345678", "TH")
    ]
    with pytest.raises(InputError, match=r"missing required column 'type'.*give --type KIND"):
        _read("a.csv", b"value,country\n0812345678,TH\n")


def test_a_row_country_wins_over_the_option() -> None:
    data = b"type,value,country\nphone,0412345678,AU\nphone,0812345678,\n"
    items = list(read_source(SourceFile("a.csv", data), None, ReadOptions(country="TH")))
    assert [i.country for i in items if isinstance(i, ReportInput)] == ["AU", "TH"]


def test_lines_are_numbered_across_read_chunks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sources, "CHUNK_BYTES", 64)
    path = tmp_path / "big.csv"
    rows = [f"domain,scam-{n}.example" for n in range(200)]
    path.write_bytes(("type,value\n" + "\n".join(rows) + "\n").encode())
    items = list(read_source(load_source(str(path))))
    assert len(items) == 200
    assert _summary(items)[150] == (f"{path}:152", "scam-150.example")


def test_a_bad_byte_deep_in_a_file_names_its_line_before_anything_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sources, "CHUNK_BYTES", 64)
    path = tmp_path / "big.csv"
    path.write_bytes(b"type,value\n" + b"domain,a.example\n" * 100 + b"domain,b\xff.example\n")
    with pytest.raises(InputError) as err:
        prepare(load_source(str(path)))
    assert (err.value.line, "byte 0xff at column 9" in str(err.value)) == (102, True)


def test_prepare_counts_entries_and_reads_again_the_same_items(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'{"type": "domain", "value": "a.example"}\n\n{"type": "domain", "value": "b.example"}\n'
    )
    prepared = prepare(load_source(str(path)))
    assert (prepared.fmt, prepared.entries) == ("jsonl", 2)
    assert _summary(list(prepared.items())) == _summary(list(prepared.items()))


def test_large_stdin_is_spooled_to_a_file_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "CHUNK_BYTES", 64)
    data = b"type,value\n" + b"domain,a.example\n" * 50
    src = load_source("-", stdin=io.BytesIO(data))
    assert src.data is None and src.path is not None
    assert src.sha256 == SourceFile("x", data).sha256
    assert len(list(read_source(src))) == 50


# --- found in review: odd but real inputs ----------------------------------------------------------------


def test_a_minified_document_longer_than_the_head_is_not_cut_inside_a_character() -> None:
    start = '{"type":"bundle","id":"bundle--1","objects":[],"x":"'
    data = (start + "a" * (65535 - len(start)) + "é" * 3000 + '"}').encode()
    assert prepare(SourceFile("a.json", data)).fmt == "stix"


def test_a_bad_byte_after_a_bom_is_named_where_it_is() -> None:
    with pytest.raises(InputError) as err:
        _read("a.csv", b"\xef\xbb\xbftype,value\n\xff\n")
    assert err.value.line == 2
    assert "byte 0xff at column 1" in str(err.value)


def test_a_stray_quote_is_an_error_at_the_line_it_opens_not_a_field_that_swallows_the_file() -> None:
    data = b"type,value\ndomain,ok.com\n" + b'domain,"oops.com\n' + b"domain,b.com\n" * 20000
    with pytest.raises(InputError) as err:
        prepare(SourceFile("a.csv", data))
    assert err.value.line == 3
    assert "unclosed quote" in str(err.value)


def test_a_json_array_of_records_is_read_as_records_not_as_stix() -> None:
    data = b'[{"type":"domain","value":"evil.com","confidence":80},{"type":"phone","value":"+61412345678"}]'
    items = _read("recs.json", data)
    assert [(i.kind, i.value, i.confidence) for i in items if isinstance(i, ReportInput)] == [
        ("domain", "evil.com", 80),
        ("phone", "+61412345678", None),
    ]
    assert [i.source for i in items] == ["recs.json:[0]", "recs.json:[1]"]


def test_one_record_on_one_line_without_an_extension_is_json_lines() -> None:
    assert _summary(_read(STDIN_NAME, b'{"type":"domain","value":"evil.com"}\n')) == [
        (f"{STDIN_NAME}:1", "evil.com")
    ]


def test_a_plain_list_may_start_with_a_bracket_and_carry_inline_comments() -> None:
    data = b"[.]evil-bank.com\nkbank-login.com  # seen in SMS\nhttps://x.com/#frag\n"
    items = list(read_source(SourceFile("feed.txt", data), None, DOMAINS))
    assert [i.value for i in items if isinstance(i, ReportInput)] == [
        "[.]evil-bank.com",
        "kbank-login.com",
        "https://x.com/#frag",
    ]
