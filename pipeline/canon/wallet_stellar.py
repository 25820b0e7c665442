"""Stellar StrKey (SEP-23): account ``G...`` (56 characters) and muxed account ``M...`` (69).

RFC 4648 base32, upper case, no padding, of: version byte (6 << 3 account, 12 << 3 muxed; the low 3 bits
name the key algorithm, 0 ed25519), the 32-byte ed25519 key, for a muxed account an 8-byte id, then the
CRC16-XModem of all that, little-endian. A strkey is valid only if it re-encodes to the same string (the
unused bits of the last character are zero), as SEP-23 requires.

A secret seed (``S...``) is refused with its own reason: whoever reported it exposed a private key.
Other strkey types (contracts, pool ids, signers) are not account addresses and are refused too.

Canonical form: upper case (base32 is case-insensitive; Stellar writes it upper case).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from pipeline.canon.wallet_types import Detection, Found

ACCOUNT: Final = 6 << 3
MUXED: Final = 12 << 3
_SEED: Final = 18 << 3
_KINDS: Final = {ACCOUNT: ("account", 32), MUXED: ("muxed", 40)}
_SHAPE: Final = re.compile(r"[GMS][A-Z2-7]{40,79}")
_LENGTHS: Final = (56, 69)


def crc16_xmodem(data: bytes) -> int:
    """CRC16-XModem (polynomial 0x1021, initial 0), the StrKey checksum."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def strkey(version: int, payload: bytes) -> str:
    """The strkey of ``payload`` under ``version`` (:data:`ACCOUNT`, :data:`MUXED`): for tests."""
    body = bytes([version]) + payload
    return base64.b32encode(body + crc16_xmodem(body).to_bytes(2, "little")).decode().rstrip("=")


def detect_stellar(address: str) -> Detection:
    """A Stellar account or muxed account; ``None`` unless single-case base32 starting G, M or S."""
    upper = address.upper()
    if address not in (upper, address.lower()) or not _SHAPE.fullmatch(upper):
        return None
    if len(upper) not in _LENGTHS:
        return f"a stellar address has 56 (account) or 69 (muxed) characters, this one {len(upper)}"
    try:
        raw = base64.b32decode(upper + "=" * (-len(upper) % 8))
    except binascii.Error:
        return "malformed stellar StrKey (base32)"
    if base64.b32encode(raw).decode().rstrip("=") != upper:
        return "malformed stellar StrKey (unused trailing bits must be zero)"
    body, checksum = raw[:-2], raw[-2:]
    if crc16_xmodem(body).to_bytes(2, "little") != checksum:
        return "bad StrKey checksum (CRC16-XModem) for a stellar address (a mistyped character?)"
    if body[0] == _SEED:
        return "this is a stellar secret seed (S...), not an address: the key is exposed and must be rotated"
    kind, size = _KINDS.get(body[0], ("", 0))
    if not kind or len(body) - 1 != size:
        return f"stellar StrKey version byte 0x{body[0]:02x} is not an ed25519 account or muxed account"
    return Found(upper, "stellar", kind)


__all__ = ["ACCOUNT", "MUXED", "crc16_xmodem", "detect_stellar", "strkey"]
