"""``scamshare publish`` without a broker: --dry-run, --emit-stix, rejects, exit codes."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
import stix2validator
from click.testing import CliRunner, Result
from rich.console import Console

from pipeline.cli.context import CliContext
from pipeline.cli.publish import _progress, collect, publish
from pipeline.config import Settings
from pipeline.producers.readers import load_source
from pipeline.stix.tlp import TLP
from pipeline.wire.schemas import extension_definitions

DATA = Path(__file__).parents[1] / "producers" / "data"
ALL_SAMPLES = [
    str(DATA / n) for n in ("reports.csv", "messy.csv", "reports.jsonl", "bundle.json", "misp_event.json")
]


def _run(args: list[str], tmp_path: Path, stdin: bytes | None = None) -> Result:
    # state_dir in tmp_path: no dev stack can be found, so nothing here can reach a broker.
    obj = CliContext(Settings(state_dir=tmp_path / ".scamshare"))
    return CliRunner().invoke(publish, args, obj=obj, input=stdin)


def test_dry_run_clean_file(tmp_path: Path) -> None:
    result = _run([str(DATA / "reports.csv"), "--producer", "telco-au", "--dry-run"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "dry run: 7 valid report(s) in 1 file(s); nothing published" in result.stdout
    assert "rejected" not in result.stdout


def test_rejected_lines_give_exit_1_and_name_file_and_line(tmp_path: Path) -> None:
    messy = str(DATA / "messy.csv")
    result = _run([messy, str(DATA / "reports.csv"), "--producer", "telco-au", "--dry-run"], tmp_path)
    assert result.exit_code == 1
    assert "dry run: 9 valid report(s) in 2 file(s)" in result.stdout
    assert "rejected 5:" in result.stdout
    for line, reason in [
        (5, "invalid email 'not-an-email'"),
        (6, "confidence must be an integer 0-100, got 'high'"),
        (9, "invalid phone '12345': national number without a country"),
        (10, "unknown type 'fax'"),
        (11, "6 fields but the header has 5"),
    ]:
        assert f"  {messy}:{line}: {reason}" in result.stdout


def test_json_summary(tmp_path: Path) -> None:
    result = _run([*ALL_SAMPLES, "--producer", "telco-au", "--dry-run", "--json"], tmp_path)
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["dry_run"] is True
    assert summary["published"] == 0
    # bundle.json's revoked Indicator is a withdrawal report (it used to be skipped); its OR of two domains
    # is two reports, and its ipv4 indicator and SCO are skipped (they used to be rejected)
    assert [f["reports"] for f in summary["files"]] == [7, 2, 3, 10, 7]
    assert summary["reports"] == 29
    assert summary["rejected_total"] == len(summary["rejected"]) == 11
    assert {"source": f"{DATA / 'reports.jsonl'}:4", "reason": "expected a JSON object, got list"} in summary[
        "rejected"
    ]
    assert summary["skipped_total"] == len(summary["skipped"]) == 5
    assert summary["skipped_by_type"] == {
        "indicator:ipv4-addr": 1, "ipv4-addr": 1, "to_ids-false": 1, "ip-dst": 1, "deleted": 1,
    }  # fmt: skip


def test_emit_stix_writes_one_valid_deduplicated_bundle(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = _run([*ALL_SAMPLES, "--producer", "telco-au", "--dry-run", "--emit-stix", str(out)], tmp_path)
    assert result.exit_code == 1  # the samples hold rejects; the bundle is still written
    text = out.read_text()
    assert stix2validator.validate_string(text).is_valid
    bundle = json.loads(text)
    assert bundle["type"] == "bundle"
    ids = [o["id"] for o in bundle["objects"]]
    assert len(ids) == len(set(ids))
    types = Counter(o["type"] for o in bundle["objects"])
    # The samples report some values twice (+61412345678, paypa1-secure.com, ...): one indicator each.
    accepted_reports, _tally = collect([load_source(p) for p in ALL_SAMPLES], None, "telco-au")
    expected = {accepted.canonical.indicator_id for accepted, _ in accepted_reports}
    assert len(expected) < len(accepted_reports) == 29
    indicators = [o for o in bundle["objects"] if o["type"] == "indicator"]
    assert {o["id"] for o in indicators} == expected
    assert types["indicator"] == types["relationship"] == len(expected)
    producer_identities = [
        o for o in bundle["objects"] if o["type"] == "identity" and o["name"] == "telco-au"
    ]
    assert len(producer_identities) == 1
    markings = [o["id"] for o in bundle["objects"] if o["type"] == "marking-definition"]
    assert len(markings) == len(set(markings))
    assert {TLP.RED.marking_id, TLP.AMBER.marking_id, TLP.GREEN.marking_id} <= set(markings)
    assert types["extension-definition"] == len(extension_definitions())


def test_emit_stix_to_stdout_sends_the_summary_to_stderr(tmp_path: Path) -> None:
    result = _run([str(DATA / "reports.csv"), "--producer", "p", "--dry-run", "--emit-stix", "-"], tmp_path)
    assert result.exit_code == 0, result.output
    bundle = json.loads(result.stdout)
    assert sum(o["type"] == "indicator" for o in bundle["objects"]) == 7
    assert "dry run: 7 valid report(s)" in result.stderr


def test_emit_stix_dash_with_json_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(
        [str(DATA / "reports.csv"), "--producer", "p", "--dry-run", "--emit-stix", "-", "--json"], tmp_path
    )
    assert result.exit_code == 2
    assert "--emit-stix - and --json both write to stdout" in result.output


def test_default_tlp_applies_to_entries_without_one(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    stdin = b"type,value,tlp\ndomain,example.com,\ndomain,example.org,clear\n"
    args = ["-", "--producer", "p", "--dry-run", "--default-tlp", "amber+strict", "--emit-stix", str(out)]
    result = _run(args, tmp_path, stdin=stdin)
    assert result.exit_code == 0, result.output
    refs = {
        o["pattern"]: o["object_marking_refs"]
        for o in json.loads(out.read_text())["objects"]
        if o["type"] == "indicator"
    }
    assert refs == {
        "[domain-name:value = 'example.com']": [TLP.AMBER_STRICT.marking_id],
        "[domain-name:value = 'example.org']": [TLP.CLEAR.marking_id],
    }


def test_stdin_names_its_lines(tmp_path: Path) -> None:
    result = _run(
        ["-", "--producer", "p", "--dry-run", "--format", "jsonl"], tmp_path, stdin=b'{"type": "x"}\n'
    )
    assert result.exit_code == 1
    assert "<stdin>:1: unknown type 'x'" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"type,value\ndomain,caf\xe9.com\n", "bad.csv:2: not UTF-8 text: byte 0xe9"),
        (b"type,country\nphone,AU\n", "bad.csv:1: missing required column 'value'"),
    ],
)
def test_unreadable_file_exits_2_and_publishes_nothing(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    out = tmp_path / "out.json"
    result = _run([str(DATA / "reports.csv"), str(bad), "--producer", "p", "--emit-stix", str(out)], tmp_path)
    assert result.exit_code == 2
    assert f"error: {tmp_path}/{message}" in result.stderr
    assert not out.exists()


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bundle.json"
    bad.write_text('{"type": "bundle",\n  "objects": [,]}\n')
    result = _run([str(bad), "--producer", "p", "--dry-run"], tmp_path)
    assert result.exit_code == 2
    assert f"error: {bad}:2: invalid JSON" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = _run([str(tmp_path / "nope.csv"), "--producer", "p", "--dry-run"], tmp_path)
    assert result.exit_code == 2
    assert "nope.csv: cannot read" in result.stderr


def test_bad_producer_id_exits_2(tmp_path: Path) -> None:
    result = _run([str(DATA / "reports.csv"), "--producer", "Telco AU", "--dry-run"], tmp_path)
    assert result.exit_code == 2
    assert "producer id 'Telco AU' is invalid" in result.stderr


def test_publishing_without_a_broker_says_how_to_get_one(tmp_path: Path) -> None:
    result = _run([str(DATA / "reports.csv"), "--producer", "p"], tmp_path)
    assert result.exit_code == 2
    assert "no Kafka broker configured" in result.stderr


def test_format_option_is_checked(tmp_path: Path) -> None:
    result = _run([str(DATA / "reports.csv"), "--producer", "p", "--format", "xml"], tmp_path)
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.output


def test_progress_bar_for_people_on_a_terminal(tmp_path: Path) -> None:
    err = io.StringIO()
    obj = CliContext(
        Settings(state_dir=tmp_path / ".scamshare"), err=Console(file=err, force_terminal=True, width=100)
    )
    result = CliRunner().invoke(publish, [str(DATA / "reports.csv"), "--producer", "p", "--dry-run"], obj=obj)
    assert result.exit_code == 0, result.output
    assert "validating" in err.getvalue()
    assert "7/7" in err.getvalue()
    # --json: no progress bar even on a terminal
    err.seek(0)
    err.truncate()
    result = CliRunner().invoke(
        publish, [str(DATA / "reports.csv"), "--producer", "p", "--dry-run", "--json"], obj=obj
    )
    assert result.exit_code == 0
    assert err.getvalue() == ""


def test_emit_stix_into_a_missing_directory_fails_before_anything_else(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "dir" / "out.json"
    result = _run([str(DATA / "reports.csv"), "--producer", "p", "--emit-stix", str(out)], tmp_path)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# --- real-world inputs: skips are no error, plain lists, --country (issue: real-world inputs) -------------


def test_an_export_with_only_uncarried_content_besides_good_reports_exits_0(tmp_path: Path) -> None:
    # What an ordinary OpenCTI/MISP export holds: hashes, IPs and YARA beside the scam indicators.
    bundle = {
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            {"type": "indicator", "id": "indicator--1", "pattern_type": "stix",
             "pattern": "[domain-name:value = 'paypa1-secure.com' OR file:hashes.MD5 = '00']"},
            {"type": "indicator", "id": "indicator--2", "pattern_type": "yara", "pattern": "rule x {}"},
            {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.7"},
            {"type": "malware", "id": "malware--1", "name": "x", "is_family": False},
        ],
    }  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps(bundle))
    result = _run([str(path), "--producer", "p", "--dry-run"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "dry run: 1 valid report(s)" in result.stdout
    assert "skipped 4 (not carried by the exchange, or context): " in result.stdout
    assert "pattern:file 1" in result.stdout and "indicator:yara 1" in result.stdout
    summary = json.loads(_run([str(path), "--producer", "p", "--dry-run", "--json"], tmp_path).stdout)
    assert (summary["reports"], summary["rejected_total"], summary["skipped_total"]) == (1, 0, 4)
    assert summary["skipped_by_type"] == {
        "pattern:file": 1,
        "indicator:yara": 1,
        "ipv4-addr": 1,
        "malware": 1,
    }


def test_a_plain_list_with_type_and_country(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    stdin = b"# scam numbers\n081-234-5678\n02 123 4567\n"
    args = [
        "-",
        "--producer",
        "p",
        "--dry-run",
        "--type",
        "phone",
        "--country",
        "th",
        "--emit-stix",
        str(out),
    ]
    result = _run(args, tmp_path, stdin=stdin)
    assert result.exit_code == 0, result.output
    patterns = sorted(
        o["pattern"] for o in json.loads(out.read_text())["objects"] if o["type"] == "indicator"
    )
    assert patterns == ["[phone-number:value = '+6621234567']", "[phone-number:value = '+66812345678']"]


def test_a_plain_list_without_type_is_a_file_error_naming_the_missing_header(tmp_path: Path) -> None:
    result = _run(["-", "--producer", "p", "--dry-run"], tmp_path, stdin=b"paypa1-secure.com\n")
    assert result.exit_code == 2
    assert "no header line: the first line is 'paypa1-secure.com'" in result.stderr
    assert "--type KIND" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--type", "fax"], "unknown type 'fax'"), (["--country", "Thailand"], "ISO 3166-1 alpha-2")],
)
def test_bad_type_or_country_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = _run(["-", "--producer", "p", "--dry-run", *args], tmp_path, stdin=b"x\n")
    assert result.exit_code == 2
    assert message in result.output


def test_a_wallet_list_typed_by_chain_checks_each_address_belongs_to_it(tmp_path: Path) -> None:
    stdin = b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n0x52908400098527886e0f7030069857d2e4169ee7\n"
    result = _run(["-", "--producer", "p", "--dry-run", "--type", "btc", "--json"], tmp_path, stdin=stdin)
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["reports"] == 1
    assert "is an ethereum address, but the input says bitcoin" in summary["rejected"][0]["reason"]


def test_a_terminal_gets_a_progress_bar_of_entries_done() -> None:
    buffer = io.StringIO()
    obj = CliContext(err=Console(file=buffer, force_terminal=True, width=100))
    with _progress(True, obj, 2000, "validating") as update:
        for done in range(1, 2001):
            update(done)
    assert "validating" in buffer.getvalue()
    assert "2000/2000" in buffer.getvalue()
