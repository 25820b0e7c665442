"""Bitcoin Cash CashAddr: ``bitcoincash:`` + base32 (the bech32 alphabet) with a 40-bit BCH checksum.

The prefix takes part in the checksum, so an address without it is checked as if ``bitcoincash:`` were
written (how wallets display them). The version byte holds the type (0 p2pkh ``q``, 1 p2sh ``p``; 2 and 3
are their CashTokens-aware forms, ``z`` and ``r``) and the hash size (160 to 512 bits).

Canonical form: lower case with the ``bitcoincash:`` prefix, the form the spec calls the full address.
Testnet and regtest prefixes (``bchtest:``, ``bchreg:``) are rejected by the dispatcher.

Legacy (Base58Check) BCH addresses are byte-for-byte Bitcoin addresses: alone they are reported as bitcoin.
Inside a ``bitcoincash:`` URI :func:`legacy_to_cashaddr` rewrites them to their CashAddr form.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from pipeline.canon.wallet_bech32 import CHARSET, CHARSET_INDEX, from_5bit, to_5bit
from pipeline.canon.wallet_types import Detection, Found

PREFIX: Final = "bitcoincash"
_GEN: Final = (0x98F2BC8E61, 0x79B76D99E2, 0xF33E5FB3C4, 0xAE2EABE2A8, 0x1E4F43E470)
_HASH_SIZES: Final = (20, 24, 28, 32, 40, 48, 56, 64)  # by the low 3 bits of the version byte
_TYPES: Final = {0: "p2pkh", 1: "p2sh", 2: "p2pkh_tokens", 3: "p2sh_tokens"}
_LEGACY_TYPES: Final = {"p2pkh": 0, "p2sh": 1}
#: The near-miss reason: the dispatcher also gives it for an unprefixed value of CashAddr shape.
CHECKSUM_REASON: Final = "bad CashAddr checksum (BCH code) for a bitcoin-cash address (a mistyped character?)"


def _polymod(values: Iterable[int]) -> int:
    c = 1
    for d in values:
        top = c >> 35
        c = ((c & 0x07FFFFFFFF) << 5) ^ d
        for i in range(5):
            if (top >> i) & 1:
                c ^= _GEN[i]
    return c ^ 1


def _prefix_values(prefix: str) -> list[int]:
    return [ord(ch) & 31 for ch in prefix] + [0]


def encode(type_code: int, hash_bytes: bytes, prefix: str = PREFIX) -> str:
    """The CashAddr of a hash (``type_code`` 0 p2pkh, 1 p2sh): for tests and legacy conversion."""
    size_code = _HASH_SIZES.index(len(hash_bytes))
    data = to_5bit(bytes([type_code << 3 | size_code]) + hash_bytes)
    checksum = _polymod(_prefix_values(prefix) + data + [0] * 8)
    data += [(checksum >> 5 * (7 - i)) & 31 for i in range(8)]
    return prefix + ":" + "".join(CHARSET[d] for d in data)


def looks_like_cashaddr(text: str) -> bool:
    """Unprefixed CashAddr shape, a typo aside: single-case letters and digits, starting like a version
    byte, as long as a 160- or 256-bit hash makes it."""
    lowered = text.lower()
    return (
        text in (lowered, text.upper())
        and len(text) in (42, 61)
        and lowered[0] in "qpzr"
        and lowered.isascii()
        and lowered.isalnum()
    )


def detect_cashaddr(text: str) -> Detection:
    """A CashAddr, with or without its prefix.

    With ``bitcoincash:`` any fault is a reason; without it a value that fails the checksum is not
    claimed (``None``), since other encodings may share its characters.
    """
    prefixed = ":" in text
    if text not in (text.lower(), text.upper()):
        return "CashAddr address mixes upper and lower case" if prefixed else None
    lowered = text.lower()
    prefix, _, payload = lowered.rpartition(":")
    if prefix not in ("", PREFIX) or len(payload) < 9:
        return "malformed bitcoin-cash CashAddr (prefix or length)" if prefixed else None
    if any(c not in CHARSET_INDEX for c in payload):
        return "bitcoin-cash CashAddr has a character outside its alphabet" if prefixed else None
    data = [CHARSET_INDEX[c] for c in payload]
    if _polymod(_prefix_values(PREFIX) + data) != 0:
        if not prefixed:
            return None
        return CHECKSUM_REASON
    raw = from_5bit(data[:-8])
    if raw is None or not raw:
        return "bitcoin-cash CashAddr has invalid padding"
    version, hash_bytes = raw[0], raw[1:]
    kind = _TYPES.get(version >> 3)
    if kind is None:
        return f"bitcoin-cash CashAddr type {version >> 3} is not an address type (p2pkh, p2sh)"
    if len(hash_bytes) != _HASH_SIZES[version & 7]:
        return "bitcoin-cash CashAddr hash length does not match its version byte"
    return Found(f"{PREFIX}:{payload}", "bitcoin-cash", kind)


def legacy_to_cashaddr(address_type: str, hash_bytes: bytes) -> Found | None:
    """The CashAddr of a legacy (Base58Check) p2pkh/p2sh hash; ``None`` for other types."""
    type_code = _LEGACY_TYPES.get(address_type)
    if type_code is None:
        return None
    return Found(encode(type_code, hash_bytes), "bitcoin-cash", address_type)


__all__ = [
    "CHECKSUM_REASON",
    "PREFIX",
    "detect_cashaddr",
    "encode",
    "legacy_to_cashaddr",
    "looks_like_cashaddr",
]
