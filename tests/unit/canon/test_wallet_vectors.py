"""Wallet addresses of the newer chains against vectors published by the chains themselves.

Sources: the Monero donation addresses on getmonero.org (Moneropedia "address"); the CashAddr spec's
legacy-to-CashAddr table (upgradespecs.bitcoincashnode.org/cashaddr); CIP-19's test vectors and the
cardano-wallet Byron address-format page; the SS58 example of the Substrate docs (subkey inspect) and the
well-known development key //Alice; SEP-23's valid and invalid strkeys; the BNB Beacon Chain node's peg
account (bnb-chain/node); the NEO RPC docs' validateaddress example. A mistyped character must fail with a
checksum reason that names the chain.
"""

from __future__ import annotations

import base58
import pytest

from pipeline.canon.wallet import CHAINS
from tests.unit.canon.helpers import bad, ok

MONERO_GENERAL_FUND_OLD = (
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
)
MONERO_GENERAL_FUND = (
    "888tNkZrPN6JsEgekjMnABU4TBzc2Dt29EPAvkRxbANsAnjyPbb3iQ1YBRk1UXcdRsiKc9dhwMVgN5S9cQUiyoogDavup3H"
)
# CIP-19 mainnet vectors (types 0-7, 14, 15) with the address type we report.
CIP19_MAINNET = {
    "addr1qx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzer3n0d3vllmyqwsx5wktcd8cc3sq835lu7drv2xwl2wywfgse35a3x": "base",  # noqa: E501
    "addr1z8phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gten0d3vllmyqwsx5wktcd8cc3sq835lu7drv2xwl2wywfgs9yc0hh": "base",  # noqa: E501
    "addr1yx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzerkr0vd4msrxnuwnccdxlhdjar77j6lg0wypcc9uar5d2shs2z78ve": "base",  # noqa: E501
    "addr1x8phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gt7r0vd4msrxnuwnccdxlhdjar77j6lg0wypcc9uar5d2shskhj42g": "base",  # noqa: E501
    "addr1gx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzer5pnz75xxcrzqf96k": "pointer",
    "addr128phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gtupnz75xxcrtw79hu": "pointer",
    "addr1vx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzers66hrl8": "enterprise",
    "addr1w8phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gtcyjy7wx": "enterprise",
    "stake1uyehkck0lajq8gr28t9uxnuvgcqrc6070x3k9r8048z8y5gh6ffgw": "stake",
    "stake178phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gtcccycj5": "stake",
}
CIP19_BASE = next(iter(CIP19_MAINNET))
CIP19_TESTNET = [
    "addr_test1qz2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzer3n0d3vllmyqwsx5wktcd8cc3sq835lu7drv2xwl2wywfgs68faae",
    "addr_test1vz2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzerspjrlsz",
    "stake_test1uqehkck0lajq8gr28t9uxnuvgcqrc6070x3k9r8048z8y5gssrtvn",
]  # fmt: skip
BYRON_ICARUS = "Ae2tdPwUPEZFRbyhz3cpfC2CumGzNkFBN2L42rcUc2yjQpEkxDbkPodpMAi"
BYRON_DAEDALUS = (
    "DdzFFzCqrhsrcTVhLygT24QwTnNqQqQ8mZrq5jykUzMveU26sxaH529kMpo7VhPrt5pwW3dXeB2k3EEvKcNBRmzCfcQ7dTkyGzTs658C"
)
# CIP-19's Byron example carries a protocol magic: a test-network address.
BYRON_TESTNET = "37btjrVyb4KDXBNC4haBVPCrro8AQPHwvCMp3RFhhSVWwfFmZ6wwzSK6JK1hY6wHNmtrpTf1kdbva8TCneM2YsiXT7mrzT21EacHnPpz5YyUdj64na"  # noqa: E501
ALICE = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
SEP23_ACCOUNT = "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ"
SEP23_MUXED = [
    "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUAAAAAAAAAAAACJUQ",
    "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVAAAAAAAAAAAAAJLK",
]

DOGE = "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"
DASH = "XpESxaUmonkq8RaLLp46Brx2K39ggQe226"
NEO_LEGACY = "AQVh2pG732YvtNaxEGkQUei3YA4cvo7d2i"
NEO_N3 = "NfKA6zAixybBHHpmaPYPDywoqDaKzfMPf9"
BNB = "bnb1v8vkkymvhe2sf7gd2092ujc6hweta38xadu2pj"
DOT = "12bzRJfh7arnnfPPUZHeJUaE62QLEwhK48QnH9LXeK2m1iZU"
CASHADDR = "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"
ASSET = {
    "monero": "XMR", "dogecoin": "DOGE", "dash": "DASH", "neo": "NEO", "bnb-beacon": "BNB",
    "polkadot": "DOT", "stellar": "XLM", "cardano": "ADA",
}  # fmt: skip

ACCEPTED = [
    # (raw, canonical, chain, address_type)
    (MONERO_GENERAL_FUND_OLD, MONERO_GENERAL_FUND_OLD, "monero", "standard"),
    (MONERO_GENERAL_FUND, MONERO_GENERAL_FUND, "monero", "subaddress"),
    (f"monero:{MONERO_GENERAL_FUND}?tx_amount=1", MONERO_GENERAL_FUND, "monero", "subaddress"),
    (DOGE, DOGE, "dogecoin", "p2pkh"),
    (f"dogecoin:{DOGE}?amount=100", DOGE, "dogecoin", "p2pkh"),
    (DASH, DASH, "dash", "p2pkh"),
    (NEO_LEGACY, NEO_LEGACY, "neo", "legacy"),
    (NEO_N3, NEO_N3, "neo", "n3"),
    (f"neo:{NEO_LEGACY}", NEO_LEGACY, "neo", "legacy"),
    (BNB, BNB, "bnb-beacon", "account"),
    (BNB.upper(), BNB, "bnb-beacon", "account"),
    (DOT, DOT, "polkadot", "account"),
    (SEP23_ACCOUNT, SEP23_ACCOUNT, "stellar", "account"),
    (SEP23_ACCOUNT.lower(), SEP23_ACCOUNT, "stellar", "account"),
    *[(m, m, "stellar", "muxed") for m in SEP23_MUXED],
    (BYRON_ICARUS, BYRON_ICARUS, "cardano", "byron"),
    (BYRON_DAEDALUS, BYRON_DAEDALUS, "cardano", "byron"),
    *[(a, a, "cardano", kind) for a, kind in CIP19_MAINNET.items()],
    (CIP19_BASE.upper(), CIP19_BASE, "cardano", "base"),
    (f"web+cardano:{CIP19_BASE}", CIP19_BASE, "cardano", "base"),
]


@pytest.mark.parametrize(("raw", "value", "chain", "address_type"), ACCEPTED)
def test_published_vectors_are_accepted(raw: str, value: str, chain: str, address_type: str) -> None:
    asset = ASSET[chain]
    c = ok("wallet", raw)
    assert c.value == value
    assert dict(c.props) == {"value": value, "chain": chain, "asset": asset}
    assert dict(c.facts) == {"chain": chain, "asset": asset, "address_type": address_type}
    assert chain in CHAINS
    assert ok("wallet", c.value) == c  # idempotent


# --- Bitcoin Cash: the CashAddr spec's table ------------------------------------------------------------
CASHADDR_SPEC = [
    ("1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu", "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a", "p2pkh"),
    ("1KXrWXciRDZUpQwQmuM1DbwsKDLYAYsVLR", "bitcoincash:qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy", "p2pkh"),
    ("16w1D5WRVKJuZUsSRzdLp9w3YGcgoxDXb", "bitcoincash:qqq3728yw0y47sqn6l2na30mcw6zm78dzqre909m2r", "p2pkh"),
    ("3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC", "bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq", "p2sh"),
    ("3LDsS579y7sruadqu11beEJoTjdFiFCdX4", "bitcoincash:pr95sy3j9xwd2ap32xkykttr4cvcu7as4yc93ky28e", "p2sh"),
    ("31nwvkZwyPdgzjBJZXfDmSWsC4ZLKpYyUw", "bitcoincash:pqq3728yw0y47sqn6l2na30mcw6zm78dzq5ucqzc37", "p2sh"),
]


@pytest.mark.parametrize(("legacy", "cashaddr", "address_type"), CASHADDR_SPEC)
def test_cashaddr_spec_vectors(legacy: str, cashaddr: str, address_type: str) -> None:
    facts = {"chain": "bitcoin-cash", "asset": "BCH", "address_type": address_type}
    for written in (cashaddr, cashaddr.upper(), cashaddr.split(":")[1], f"{cashaddr}?amount=0.1"):
        c = ok("wallet", written)
        assert (c.value, dict(c.facts)) == (cashaddr, facts), written
    # A legacy address alone is byte-identical to Bitcoin's: reported as bitcoin.
    assert ok("wallet", legacy).facts["chain"] == "bitcoin"
    # Inside a bitcoincash: URI it is Bitcoin Cash, written canonically as its CashAddr.
    assert ok("wallet", f"bitcoincash:{legacy}").value == cashaddr


# --- SS58: one account, three networks ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "chain", "asset"),
    [
        ("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "substrate", None),
        ("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5", "polkadot", "DOT"),
        ("HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F", "kusama", "KSM"),
    ],
)
def test_alice_on_each_network(address: str, chain: str, asset: str | None) -> None:
    c = ok("wallet", address)
    assert c.value == address
    assert c.facts["chain"] == chain
    assert c.props.get("asset") == asset
    assert c.facts.get("asset") == asset
    raw = base58.b58decode(address)
    assert raw[1:33].hex() == ALICE


def test_substrate_docs_example_decodes_to_its_public_key() -> None:
    raw = base58.b58decode("12bzRJfh7arnnfPPUZHeJUaE62QLEwhK48QnH9LXeK2m1iZU")
    assert raw[1:33].hex() == "46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a"


def test_neo_n3_vector_holds_its_script_hash() -> None:
    raw = base58.b58decode_check("NfKA6zAixybBHHpmaPYPDywoqDaKzfMPf9")
    assert raw[1:][::-1].hex() == "e4b0b6fa65a399d7233827502b178ece1912cdd4"


# --- rejects ----------------------------------------------------------------------------------------------
SEP23_INVALID = [
    "GAAAAAAAACGC6",
    "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUAAAAAAAAAAAACJUR",
    "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZA",
    "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUACUSI",
    "G47QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVP2I",
    "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVAAAAAAAAAAAAAJLKA",
    "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVAAAAAAAAAAAAAAV75I",
    "M47QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUAAAAAAAAAAAACJUQ",
    "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUAAAAAAAAAAAACJUK===",
    "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUAAAAAAAAAAAACJUO",
    # Valid strkeys that are not accounts: a contract and a liquidity pool.
    "CA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUWDA",
    "LA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUPJN",
]


@pytest.mark.parametrize("strkey", SEP23_INVALID)
def test_sep23_invalid_strkeys_are_rejected(strkey: str) -> None:
    assert bad("wallet", strkey).reason


def test_sep23_bad_checksum_names_stellar() -> None:
    reason = bad("wallet", "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUAAAAAAAAAAAACJUO").reason
    assert "bad StrKey checksum (CRC16-XModem) for a stellar address" in reason


SEGWIT = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        *[(a, "testnet") for a in CIP19_TESTNET],
        # CIP-19's introductory table uses mainnet prefixes with network tag 0.
        ("addr1vpu5vlrf4xkxv2qpwngf6cjhtw542ayty80v8dyr49rf5eg0yu80w", "testnet"),
        (BYRON_TESTNET, "test network"),
        ("tbnb1v8vkkymvhe2sf7gd2092ujc6hweta38xnc4wpr", "testnet"),
        ("bchtest:qpf29h80q4kzprl84jmwhf9du3jsu2tvw509nqz5cy", "testnet"),
        (f"bitcoincash:{SEGWIT}", "the bitcoincash: URI holds a bitcoin address"),
        (f"bitcoin:{CASHADDR}", "the bitcoin: URI holds a bitcoin-cash address"),
        (f"bitcoin:{CASHADDR.split(':')[1]}", "the bitcoin: URI holds a bitcoin-cash address"),
        (f"monero:{DOGE}", "the monero: URI holds a dogecoin address"),
    ],
)  # fmt: skip
def test_testnets_and_mismatched_uris_are_rejected(raw: str, reason: str) -> None:
    assert reason in bad("wallet", raw).reason


def _typo(address: str, index: int, alphabet: str) -> str:
    """``address`` with the character at ``index`` replaced by the next one of ``alphabet``."""
    ch = address[index]
    return address[:index] + alphabet[(alphabet.index(ch) + 1) % len(alphabet)] + address[index + 1 :]


B58 = base58.BITCOIN_ALPHABET.decode()
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B58CHECK, SS58, STRKEY = "Base58Check checksum (double SHA-256)", "SS58 checksum (blake2b)", "StrKey checksum"
TYPOS = [
    # (address, its alphabet, the checksum named, the chain named)
    (MONERO_GENERAL_FUND_OLD, B58, "Monero checksum (Keccak-256)", "monero"),
    (MONERO_GENERAL_FUND, B58, "Monero checksum (Keccak-256)", "monero"),
    (DOGE, B58, B58CHECK, "dogecoin"),
    (DASH, B58, B58CHECK, "dash"),
    (NEO_LEGACY, B58, B58CHECK, "neo"),
    (NEO_N3, B58, B58CHECK, "neo"),
    (CASHADDR, BECH32, "CashAddr checksum (BCH code)", "bitcoin-cash"),
    (CASHADDR.split(":")[1], BECH32, "CashAddr checksum (BCH code)", "bitcoin-cash"),
    (CIP19_BASE, BECH32, "bech32 checksum", "cardano"),
    ("stake1uyehkck0lajq8gr28t9uxnuvgcqrc6070x3k9r8048z8y5gh6ffgw", BECH32, "bech32 checksum", "cardano"),
    (BYRON_ICARUS, B58, "CRC32 checksum", "cardano Byron"),
    (BYRON_DAEDALUS, B58, "CRC32 checksum", "cardano Byron"),
    (DOT, B58, SS58, "polkadot"),
    ("HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F", B58, SS58, "kusama"),
    ("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", B58, SS58, "substrate"),
    (SEP23_ACCOUNT, B32, STRKEY, "stellar"),
    (SEP23_MUXED[0], B32, STRKEY, "stellar"),
    (BNB, BECH32, "bech32 checksum", "bnb-beacon"),
]


@pytest.mark.parametrize(("address", "alphabet", "checksum", "chain"), TYPOS)
@pytest.mark.parametrize("where", [0.3, 0.5, 0.8])
def test_a_mistyped_character_fails_the_checksum_and_names_the_chain(
    address: str, alphabet: str, checksum: str, chain: str, where: float
) -> None:
    start = address.index(":") + 1 if ":" in address else 0
    index = start + int((len(address) - start) * where)
    mistyped = _typo(address, index, alphabet)
    reason = bad("wallet", mistyped).reason
    assert reason.startswith(f"bad {checksum}"), reason
    assert f"for a {chain} address" in reason, reason
