"""Wallet addresses built here from known bytes with the modules' own encoders, then canonicalised.

Each chain: a valid address of each type is accepted with its chain, asset and type, and is a fixed point;
testnet forms and wrong structures are refused with a reason; hypothesis checks random keys round-trip.
Also: the chain aliases, and that the formats cannot be confused with each other.
"""

from __future__ import annotations

import base58
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.canon import REGISTRY, Canonical, canonicalize
from pipeline.canon import wallet_monero as monero
from pipeline.canon.wallet import ASSETS, CHAIN_BY_ALIAS, CHAINS, DECLARATION
from pipeline.canon.wallet_bech32 import BECH32M, CHARSET, encode, to_5bit
from pipeline.canon.wallet_cardano import byron_address
from pipeline.canon.wallet_cashaddr import _polymod, _prefix_values
from pipeline.canon.wallet_cashaddr import encode as cashaddr
from pipeline.canon.wallet_stellar import ACCOUNT, MUXED, strkey
from pipeline.canon.wallet_substrate import chain_of, ss58_encode
from tests.unit.canon.helpers import bad, ok

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = bytes(range(32))
KEY2 = bytes(range(32, 64))
HASH20 = bytes(range(100, 120))
HASH28 = bytes(range(28))
KEYS = st.binary(min_size=32, max_size=32)


def accepted(raw: str, chain: str, address_type: str, value: str | None = None) -> Canonical:
    """``raw`` is accepted as ``chain``/``address_type``, as ``value`` (default ``raw``), idempotently."""
    c = ok("wallet", raw)
    assert c.value == (raw if value is None else value)
    assert c.facts["chain"] == c.props["chain"] == chain
    assert c.facts["address_type"] == address_type
    assert c.facts.get("asset") == c.props.get("asset") == ASSETS.get(chain)
    assert ok("wallet", c.value) == c
    return c


def b58check(version: int, payload: bytes = HASH20) -> str:
    return base58.b58encode_check(bytes([version]) + payload).decode()


# --- Monero -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("network_byte", "payment_id", "first", "length", "address_type"),
    [
        (18, b"", "4", 95, "standard"),
        (42, b"", "8", 95, "subaddress"),
        (19, bytes(8), "4", 106, "integrated"),
    ],
)
def test_monero_mainnet_types(
    network_byte: int, payment_id: bytes, first: str, length: int, address_type: str
) -> None:
    address = monero.address(network_byte, KEY, KEY2, payment_id)
    assert (address[0], len(address)) == (first, length)
    accepted(address, "monero", address_type)


@pytest.mark.parametrize(
    ("network_byte", "reason"),
    [(53, "monero testnet"), (63, "monero testnet"), (24, "monero stagenet"), (36, "monero stagenet")],
)
def test_monero_testnet_and_stagenet_are_rejected(network_byte: int, reason: str) -> None:
    assert reason in bad("wallet", monero.address(network_byte, KEY, KEY2)).reason


def test_monero_wrong_length_and_other_cryptonote_coins_are_rejected() -> None:
    # A standard network byte with a payment id: integrated length, wrong type.
    assert "standard address has 69 bytes" in bad("wallet", monero.address(18, KEY, KEY2, bytes(8))).reason
    assert "network byte 17" in bad("wallet", monero.address(17, KEY, KEY2)).reason


def test_monero_block_encoding_round_trips_and_is_not_bitcoin_base58() -> None:
    address = monero.address(18, KEY, KEY2)
    raw = monero.decode(address)
    assert raw is not None
    assert monero.encode(raw) == address
    # Read as one Bitcoin Base58 number it is another length: why it is detected first.
    assert len(base58.b58decode(address)) != len(raw)
    assert monero.decode("z" * 11) is None  # 58**11 - 1 overflows an 8-byte block


@FAST
@given(spend=KEYS, view=KEYS, subaddress=st.booleans())
def test_monero_random_keys(spend: bytes, view: bytes, subaddress: bool) -> None:
    accepted(
        monero.address(42 if subaddress else 18, spend, view),
        "monero",
        "subaddress" if subaddress else "standard",
    )


# --- Base58Check: Dogecoin, Dash, NEO ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "chain", "address_type", "first"),
    [
        (0x1E, "dogecoin", "p2pkh", "D"),
        (0x16, "dogecoin", "p2sh", "9A"),
        (0x4C, "dash", "p2pkh", "X"),
        (0x10, "dash", "p2sh", "7"),
        (0x17, "neo", "legacy", "A"),
        (0x35, "neo", "n3", "N"),
    ],
)
def test_base58check_chains(version: int, chain: str, address_type: str, first: str) -> None:
    for payload in (HASH20, bytes(20), b"\xff" * 20):
        address = b58check(version, payload)
        assert address[0] in first
        accepted(address, chain, address_type)


@pytest.mark.parametrize("version", [0x6F, 0xC4, 0x3A, 0x71, 0x8C, 0x13])
def test_base58check_testnets_are_rejected(version: int) -> None:
    assert "testnet" in bad("wallet", b58check(version)).reason


# --- Bitcoin Cash -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("type_code", "hash_bytes", "address_type"),
    [
        (0, HASH20, "p2pkh"),
        (1, HASH20, "p2sh"),
        (1, KEY, "p2sh"),
        (2, HASH20, "p2pkh_tokens"),
        (3, KEY, "p2sh_tokens"),
    ],
)
def test_cashaddr_types(type_code: int, hash_bytes: bytes, address_type: str) -> None:
    address = cashaddr(type_code, hash_bytes)
    accepted(address, "bitcoin-cash", address_type)
    accepted(address.split(":")[1], "bitcoin-cash", address_type, value=address)


def test_legacy_address_in_a_bitcoincash_uri_becomes_its_cashaddr() -> None:
    assert ok("wallet", "bitcoincash:" + b58check(0x00)).value == cashaddr(0, HASH20)
    assert ok("wallet", "bitcoincash:" + b58check(0x05)).value == cashaddr(1, HASH20)
    assert ok("wallet", b58check(0x00)).facts["chain"] == "bitcoin"  # alone, a legacy address is bitcoin
    assert "bitcoincash: URI holds a litecoin" in bad("wallet", "bitcoincash:" + b58check(0x30)).reason


def test_cashaddr_structure_is_checked() -> None:
    assert "type 4" in bad("wallet", cashaddr(4, HASH20)).reason
    # A 20-byte hash under the version byte of a 24-byte one, with a valid checksum.
    data = to_5bit(bytes([0x01]) + HASH20)
    polymod = _polymod(_prefix_values("bitcoincash") + data + [0] * 8)
    data += [(polymod >> 5 * (7 - i)) & 31 for i in range(8)]
    wrong_size = "bitcoincash:" + "".join(CHARSET[d] for d in data)
    assert "hash length does not match" in bad("wallet", wrong_size).reason
    mixed = cashaddr(0, HASH20)
    mixed = mixed[:-1] + mixed[-1].upper()
    assert "mixes upper and lower case" in bad("wallet", mixed).reason


@FAST
@given(hash_bytes=st.binary(min_size=20, max_size=20), p2sh=st.booleans())
def test_cashaddr_random_hashes(hash_bytes: bytes, p2sh: bool) -> None:
    address = cashaddr(int(p2sh), hash_bytes)
    accepted(address.upper(), "bitcoin-cash", "p2sh" if p2sh else "p2pkh", value=address)


# --- Cardano ----------------------------------------------------------------------------------------------
def shelley(header: int, body: bytes, hrp: str = "addr", const: int = 1) -> str:
    return encode(hrp, to_5bit(bytes([header]) + body), const)


@pytest.mark.parametrize(
    ("header", "body", "hrp", "address_type"),
    [
        (0x01, HASH28 + HASH28, "addr", "base"),
        (0x31, HASH28 + HASH28, "addr", "base"),
        (0x41, HASH28 + b"\x81\x00\x05\x02", "addr", "pointer"),
        (0x61, HASH28, "addr", "enterprise"),
        (0x71, HASH28, "addr", "enterprise"),
        (0xE1, HASH28, "stake", "stake"),
        (0xF1, HASH28, "stake", "stake"),
    ],
)
def test_cardano_shelley_types(header: int, body: bytes, hrp: str, address_type: str) -> None:
    accepted(shelley(header, body, hrp), "cardano", address_type)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (shelley(0x60, HASH28), "testnet"),
        (shelley(0xE0, HASH28, "stake"), "testnet"),
        (shelley(0x60, HASH28, "addr_test"), "testnet"),
        (shelley(0x61, HASH28 + b"\x00"), "wrong length"),
        (shelley(0x41, HASH28 + b"\x81\x00\x05\x82"), "wrong length"),  # the last varint never ends
        (shelley(0x81, HASH28), "header type 8"),  # Byron in bech32: against convention
        (shelley(0x61, HASH28, "stake"), "not a stake address type"),
        (shelley(0x61, HASH28, const=BECH32M), "not bech32m"),
    ],
)
def test_cardano_shelley_rejects(address: str, reason: str) -> None:
    assert reason in bad("wallet", address).reason


def test_cardano_byron_built_from_its_parts() -> None:
    icarus = base58.b58encode(byron_address(HASH28)).decode()
    assert icarus.startswith("Ae2")
    accepted(icarus, "cardano", "byron")
    # With an (encrypted) derivation path attribute, as Daedalus writes them.
    daedalus = base58.b58encode(byron_address(HASH28, b"\xa1\x01\x58\x1c" + bytes(28))).decode()
    accepted(daedalus, "cardano", "byron")
    # A protocol magic attribute (key 2, CBOR uint 1097911063 in a byte string): a test network.
    testnet = base58.b58encode(byron_address(HASH28, b"\xa1\x02\x45\x1a\x41\x70\xcb\x17")).decode()
    assert "test network" in bad("wallet", testnet).reason
    assert (
        "expected [root, attributes, type]"
        in bad("wallet", base58.b58encode(byron_address(HASH28, address_type=7)).decode()).reason
    )


# --- SS58 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prefix", "chain"),
    [
        (0, "polkadot"),
        (2, "kusama"),
        (42, "substrate"),
        (5, "ss58-5"),
        (63, "ss58-63"),
        (64, "ss58-64"),
        (1284, "ss58-1284"),
        (16383, "ss58-16383"),
    ],
)
def test_ss58_prefixes(prefix: int, chain: str) -> None:
    address = ss58_encode(prefix, KEY)
    assert len(base58.b58decode(address)) == (35 if prefix < 64 else 36)
    accepted(address, chain, "account")


def test_ss58_reserved_and_non_accounts_are_rejected() -> None:
    assert "reserved" in bad("wallet", ss58_encode(46, KEY)).reason
    # A 33-byte (ECDSA) key under a one-byte prefix also decodes to 36 bytes: not an account.
    assert "decodes to 36 bytes" in bad("wallet", ss58_encode(0, KEY + b"\x02")).reason


@FAST
@given(prefix=st.integers(0, 16383).filter(lambda p: p not in (46, 47)), account=KEYS)
def test_ss58_random_prefixes_and_accounts(prefix: int, account: bytes) -> None:
    accepted(ss58_encode(prefix, account), chain_of(prefix), "account")


# --- Stellar ----------------------------------------------------------------------------------------------
def test_stellar_account_and_muxed() -> None:
    account = strkey(ACCOUNT, KEY)
    assert (account[0], len(account)) == ("G", 56)
    accepted(account, "stellar", "account")
    muxed = strkey(MUXED, KEY + (1234).to_bytes(8, "big"))
    assert (muxed[0], len(muxed)) == ("M", 69)
    accepted(muxed.lower(), "stellar", "muxed", value=muxed)


def test_stellar_secret_seed_is_refused_with_a_warning() -> None:
    seed = strkey(18 << 3, KEY)
    assert seed.startswith("S")
    assert "secret seed" in bad("wallet", seed).reason


@FAST
@given(key=KEYS)
def test_stellar_random_keys(key: bytes) -> None:
    accepted(strkey(ACCOUNT, key), "stellar", "account")


# --- BNB Beacon Chain -------------------------------------------------------------------------------------
def test_bnb_beacon() -> None:
    address = encode("bnb", to_5bit(HASH20))
    accepted(address, "bnb-beacon", "account")
    assert "20-byte account" in bad("wallet", encode("bnb", to_5bit(KEY))).reason
    assert "20-byte account" in bad("wallet", encode("bnb", to_5bit(HASH20), BECH32M)).reason


# --- the formats are kept apart ---------------------------------------------------------------------------
def test_solana_32_bytes_and_ss58_35_bytes_are_not_confused() -> None:
    assert ok("wallet", base58.b58encode(KEY).decode()).facts["chain"] == "solana"
    assert ok("wallet", ss58_encode(0, KEY)).facts["chain"] == "polkadot"


def test_unknown_values_list_the_chains_checked() -> None:
    reason = bad("wallet", "not-an-address").reason
    assert reason.startswith("not an address of any supported chain (checked: ")
    assert all(chain in reason for chain in CHAINS)
    assert "checked: bitcoin" in bad("wallet", base58.b58encode(bytes(70)).decode()).reason


@FAST
@given(
    text=st.text(
        alphabet=base58.BITCOIN_ALPHABET.decode() + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567:", max_size=120
    )
)
def test_encoded_looking_text_never_raises_and_accepted_values_are_fixed_points(text: str) -> None:
    result = canonicalize("wallet", text)
    if isinstance(result, Canonical):
        assert canonicalize("wallet", result.value) == result
        assert result.facts["chain"] in CHAINS or result.facts["chain"].startswith("ss58-")
    else:
        assert result.reason


# --- aliases ----------------------------------------------------------------------------------------------
def test_chain_aliases_are_kind_aliases_and_name_reported_chains() -> None:
    assert set(CHAIN_BY_ALIAS) <= set(DECLARATION.aliases)
    assert set(CHAIN_BY_ALIAS.values()) <= set(CHAINS)
    assert set(CHAINS) <= set(CHAIN_BY_ALIAS)  # a STIX chain property reads back as an alias
    aliases = REGISTRY.aliases()
    assert all(aliases[alias] == "wallet" for alias in DECLARATION.aliases)
    named = {"btc": "bitcoin", "eth": "ethereum", "xmr": "monero", "doge": "dogecoin", "bch": "bitcoin-cash"}
    named |= {"ada": "cardano", "dot": "polkadot", "ksm": "kusama", "xlm": "stellar", "bsc": "ethereum"}
    assert {alias: CHAIN_BY_ALIAS[alias] for alias in named} == named
    assert "bnb" in DECLARATION.aliases
    assert "bnb" not in CHAIN_BY_ALIAS  # Beacon Chain or Smart Chain: the alias cannot say
    assert dict(DECLARATION.misp_types) == {"btc": "btc", "xmr": "xmr", "dash": "dash"}
