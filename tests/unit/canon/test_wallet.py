"""Wallet addresses: chain detection, checksums (Base58Check, bech32/bech32m, EIP-55), rejects.

The chains added later (Monero, Dogecoin, Dash, Bitcoin Cash, Cardano, SS58, Stellar, BNB Beacon, NEO) are
tested in test_wallet_vectors.py (published vectors) and test_wallet_roundtrip.py (encoders, properties).
"""

from __future__ import annotations

import hashlib

import base58
import pytest

from pipeline.canon.wallet import eip55, keccak256
from tests.unit.canon.helpers import bad, ok


def b58check(version: int, payload: bytes = bytes(range(20))) -> str:
    """A valid Base58Check address with the given version byte."""
    return base58.b58encode_check(bytes([version]) + payload).decode()


LTC_P2SH = b58check(0x32)
SOL_WRAPPED = "So11111111111111111111111111111111111111112"  # the wrapped-SOL mint
SOL_USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"  # the USDC mint
SOL_BC1 = "bc1" + "Z" * 40  # decodes to 32 bytes: a Solana key that starts like a bech32 address
TRON = b58check(0x41, bytes(20))

ACCEPTED = [
    # (raw, canonical, chain, asset, address_type)
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bitcoin", "BTC", "p2pkh"),
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "bitcoin", "BTC", "p2sh"),
    (
        "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "bitcoin",
        "BTC",
        "p2wpkh",
    ),
    (
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        "bitcoin",
        "BTC",
        "p2wsh",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "bitcoin",
        "BTC",
        "p2tr",
    ),
    ("BC1SW50QGDZ25J", "bc1sw50qgdz25j", "bitcoin", "BTC", "witness_v16"),
    (
        "bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=0.1&label=x",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "bitcoin",
        "BTC",
        "p2pkh",
    ),
    (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "ethereum",
        "ETH",
        "account",
    ),
    (
        "0X52908400098527886E0F7030069857D2E4169EE7",
        "0x52908400098527886e0f7030069857d2e4169ee7",
        "ethereum",
        "ETH",
        "account",
    ),
    (
        "ethereum:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359@1/transfer?value=1",
        "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359",
        "ethereum",
        "ETH",
        "account",
    ),
    ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "tron", "TRX", "account"),
    (TRON, TRON, "tron", "TRX", "account"),
    ("LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz", "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz", "litecoin", "LTC", "p2pkh"),
    (LTC_P2SH, LTC_P2SH, "litecoin", "LTC", "p2sh"),
    (
        "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea",
        "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea",
        "litecoin",
        "LTC",
        "p2wpkh",
    ),
    (SOL_WRAPPED, SOL_WRAPPED, "solana", "SOL", "account"),
    (SOL_USDC, SOL_USDC, "solana", "SOL", "account"),
    ("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", "xrp", "XRP", "account"),
    # Base58 addresses that begin like bech32 prefixes ('tb1', 'bc1') but are mixed case.
    ("TB1W6nqCHBAUb47fhQZ5fQY2VPvy2LGm8C", "TB1W6nqCHBAUb47fhQZ5fQY2VPvy2LGm8C", "tron", "TRX", "account"),
    (SOL_BC1, SOL_BC1, "solana", "SOL", "account"),
    # Version byte 0x1e was rejected before Dogecoin was supported.
    ("DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L", "dogecoin", "DOGE", "p2pkh"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "value", "chain", "asset", "address_type"), ACCEPTED)
def test_accepted(raw: str, value: str, chain: str, asset: str, address_type: str) -> None:
    c = ok("wallet", raw)
    assert c.value == value
    assert c.sco_type == "cryptocurrency-wallet"
    assert dict(c.props) == {"value": value, "chain": chain, "asset": asset}
    assert dict(c.id_props) == {"value": value}
    assert dict(c.facts) == {"chain": chain, "asset": asset, "address_type": address_type}


REJECTED = [
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "bad Base58Check checksum"),
    ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "EIP-55 checksum mismatch"),
    ("0x123", "40 hex digits"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "bad bech32 checksum"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3T4", "mixes upper and lower case"),
    # BIP 350 invalid vectors: v0 written with bech32m, v1 written with bech32.
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "wrong bech32 variant"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpqzk5jj0", "bad bech32 checksum"),
    ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet"),
    (b58check(0x99), "version byte 0x99 is not a supported chain"),
    (b58check(0x6F), "testnet"),
    ("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTx", "checksum for an XRP address"),
    ("bitcoin:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "bitcoin: URI"),
    ("hello world", "no spaces"),
    ("hello", "not an address of any supported chain (checked: bitcoin, litecoin"),
    ("1111111111", "decodes to"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_rejected(raw: str, reason: str) -> None:
    assert reason in bad("wallet", raw).reason


def test_keccak_vectors() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


def test_keccak_is_not_sha3() -> None:
    # Ethereum's Keccak pads with 0x01, SHA3-256 with 0x06: the digests differ for every input.
    assert keccak256(b"abc") != hashlib.sha3_256(b"abc").digest()


@pytest.mark.parametrize(
    "address",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ],
)
def test_eip55_vectors(address: str) -> None:
    assert eip55(address[2:].lower()) == address


def test_solana_and_xrp_are_not_confused() -> None:
    # A 32-byte key can start with 'r'; it is Solana, not XRP (XRP classic addresses decode to 25 bytes).
    r_index = base58.BITCOIN_ALPHABET.index(b"r")
    key = base58.b58encode((r_index * 58**42 + 12345).to_bytes(32, "big")).decode()
    assert key.startswith("r")
    assert len(key) == 43
    assert ok("wallet", key).facts["chain"] == "solana"
