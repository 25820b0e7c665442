"""Base58Check chains (version byte + 20-byte hash + double-SHA-256 checksum), XRP, and Solana.

Base58Check, 25 bytes decoded, by version byte:

====================  ===========  ==========================================================
chain                 version      first character, address type
====================  ===========  ==========================================================
bitcoin               0x00, 0x05   ``1`` p2pkh, ``3`` p2sh (Litecoin's and Bitcoin Cash's legacy
                                   forms use the same bytes and cannot be told apart: bitcoin)
litecoin              0x30, 0x32   ``L`` p2pkh, ``M`` p2sh
dogecoin              0x1e, 0x16   ``D`` p2pkh, ``9``/``A`` p2sh
dash                  0x4c, 0x10   ``X`` p2pkh, ``7`` p2sh
tron                  0x41         ``T`` account
neo                   0x17, 0x35   ``A`` legacy (NEO 2), ``N`` n3 (NEO N3)
====================  ===========  ==========================================================

Testnet version bytes (0x6f, 0xc4, 0x3a, 0x71, 0x8c, 0x13) are rejected as testnet; any other byte is
named in the reason. XRP Ledger accounts are Base58Check too (version 0x00) but in XRP's own alphabet
(``r...``). Solana accounts are 32 raw bytes (an ed25519 key or a program-derived address) with no
checksum at all, so any 32 bytes pass. Canonical form: as written (Base58 is case-sensitive).
"""

from __future__ import annotations

import hashlib
from typing import Final

import base58

from pipeline.canon.wallet_types import Detection, Found

#: Version byte → (chain, address type).
VERSIONS: Final = {
    0x00: ("bitcoin", "p2pkh"),
    0x05: ("bitcoin", "p2sh"),
    0x30: ("litecoin", "p2pkh"),
    0x32: ("litecoin", "p2sh"),
    0x1E: ("dogecoin", "p2pkh"),
    0x16: ("dogecoin", "p2sh"),
    0x4C: ("dash", "p2pkh"),
    0x10: ("dash", "p2sh"),
    0x41: ("tron", "account"),
    0x17: ("neo", "legacy"),
    0x35: ("neo", "n3"),
}
_TESTNET_VERSIONS: Final = frozenset({0x6F, 0xC4, 0x3A, 0x71, 0x8C, 0x13})
_SUPPORTED: Final = ", ".join(f"0x{v:02x} {chain}" for v, (chain, _) in VERSIONS.items())
BTC_ALPHABET: Final = frozenset(base58.BITCOIN_ALPHABET.decode())
_XRP_ALPHABET: Final = frozenset(base58.XRP_ALPHABET.decode())
_BTC_INDEX: Final = {c: i for i, c in enumerate(base58.BITCOIN_ALPHABET.decode())}
_XRP_INDEX: Final = {c: i for i, c in enumerate(base58.XRP_ALPHABET.decode())}
#: The near-miss reason for an ``r...`` value of XRP shape that fails the checksum.
XRP_CHECKSUM_REASON: Final = "bad Base58Check checksum for an XRP address (a mistyped character?)"


def b58decode(text: str, *, xrp: bool = False) -> bytes:
    """``base58.b58decode(text)`` (in XRP's alphabet with ``xrp``) for ``text`` made only of the alphabet's
    characters (KeyError otherwise): the same bytes, in about 40% of the time, because the number is turned
    into bytes with ``int.to_bytes`` rather than one ``divmod`` per byte.

    >>> b58decode("1112").hex()
    '000001'
    """
    index = _XRP_INDEX if xrp else _BTC_INDEX
    number = 0
    for char in text:
        number = number * 58 + index[char]
    # Each leading zero digit (the alphabet's first character) is a leading zero byte.
    zeros = len(text) - len(text.lstrip("r" if xrp else "1"))
    return bytes(zeros) + number.to_bytes((number.bit_length() + 7) // 8, "big")


def _checksum_ok(raw: bytes) -> bool:
    return hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4] == raw[-4:]


def looks_like_xrp(address: str) -> bool:
    """``r`` and the length of an XRP classic address (the checksum aside)."""
    return address.startswith("r") and 25 <= len(address) <= 35


def detect_xrp(address: str) -> Detection:
    """An XRP Ledger classic address; ``None`` otherwise (the dispatcher gives the near-miss reason)."""
    if not looks_like_xrp(address) or not set(address) <= _XRP_ALPHABET:
        return None
    raw = b58decode(address, xrp=True)
    if len(raw) == 25 and raw[0] == 0 and _checksum_ok(raw):
        return Found(address, "xrp", "account")
    return None


def detect_base58check(address: str, raw: bytes) -> Detection:
    """A 25-byte Base58Check address, from the decoded bytes; ``None`` for another length."""
    if len(raw) != 25:
        return None
    known = VERSIONS.get(raw[0])
    if not _checksum_ok(raw):
        named = f" for a {known[0]} address" if known else ""
        return f"bad Base58Check checksum (double SHA-256){named} (a mistyped character?)"
    if known is None:
        if raw[0] in _TESTNET_VERSIONS:
            return f"testnet addresses are not accepted (Base58Check version byte 0x{raw[0]:02x})"
        return f"Base58Check version byte 0x{raw[0]:02x} is not a supported chain (checked: {_SUPPORTED})"
    return Found(address, *known)


def hash_of(address: str) -> bytes:
    """The 20-byte hash inside a Base58Check address the detectors accepted."""
    return b58decode(address)[1:21]


def detect_solana(address: str, raw: bytes) -> Detection:
    """A Solana account: 32 bytes, written in 32-44 characters."""
    if len(raw) == 32 and 32 <= len(address) <= 44:
        return Found(address, "solana", "account")
    return None


__all__ = [
    "BTC_ALPHABET",
    "VERSIONS",
    "XRP_CHECKSUM_REASON",
    "b58decode",
    "detect_base58check",
    "detect_solana",
    "detect_xrp",
    "hash_of",
    "looks_like_xrp",
]
