"""`scamshare normalize`: table for people, JSON for machines, exit code 2 for invalid values."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipeline.cli.normalize import normalize


def run(*args: str) -> tuple[int, str, str]:
    # A wide terminal, so rich does not fold the pattern across lines.
    result = CliRunner().invoke(normalize, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_phone_json() -> None:
    code, out, _ = run("phone", "081 234 5678", "--country", "th", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["type"] == "phone"
    assert data["value"] == "+66812345678"
    assert data["id"].startswith("phone-number--")
    assert data["indicator_id"].startswith("indicator--")
    assert data["pattern"] == "[phone-number:value = '+66812345678']"
    assert data["country"] == "TH"
    assert data["line_type"] == "mobile"


def test_wallet_json_has_chain() -> None:
    code, out, _ = run("wallet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["chain"] == "bitcoin"
    assert data["asset"] == "BTC"
    assert data["address_type"] == "p2wpkh"


def test_url_and_email_json_have_domain() -> None:
    url = json.loads(run("url", "hxxps://login.evil[.]com/x", "--json")[1])
    assert url["value"] == "https://login.evil.com/x"
    assert url["domain"] == "login.evil.com"
    assert url["registrable_domain"] == "evil.com"
    email = json.loads(run("email", "Bob@EXAMPLE.com", "--json")[1])
    assert email["domain"] == "example.com"


def test_bank_account_json_matches_the_sco_id() -> None:
    data = json.loads(run("bank-account", "DE89 3704 0044 0532 0130 00", "--json")[1])
    assert data["value"] == "DE89370400440532013000"
    assert data["id"].startswith("bank-account--")
    assert data["bank_name"] == "Commerzbank"


def test_human_table() -> None:
    code, out, _ = run("social", "https://t.me/ScamBot")
    assert code == 0
    assert "telegram:scambot" in out
    assert "user-account--" in out
    assert "indicator--" in out
    assert "[user-account:account_login = 'scambot' AND user-account:account_type = 'telegram']" in out


def test_invalid_value_json() -> None:
    code, out, _ = run("bank-account", "DE89370400440532013001", "--json")
    assert code == 2
    assert "mod-97" in json.loads(out)["error"]


def test_invalid_value_human() -> None:
    code, out, err = run("phone", "0812345678")
    assert code == 2
    assert out == ""
    assert err.startswith("error: phone")
    assert "country hint" in err


def test_unknown_type_is_a_usage_error() -> None:
    code, _, err = run("fax", "123")
    assert code == 2
    assert "fax" in err
