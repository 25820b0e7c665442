"""Cardano addresses (CIP-19): Shelley bech32 and Byron Base58, mainnet only.

- Shelley: bech32 (not bech32m) without BIP 173's 90-character limit, human-readable part ``addr``
  (payment addresses, header types 0-7: ``base``, ``pointer``, ``enterprise``) or ``stake`` (reward
  addresses, types 14-15: ``stake``). The header's low nibble is the network: 1 mainnet; 0 (testnets) is
  rejected, as are the ``addr_test``/``stake_test`` prefixes. Canonical form: lower case.
- Byron (``Ae2...`` Icarus, ``DdzFF...`` Daedalus): Base58 of the CBOR ``[24(bytes payload), crc32]``; the
  CRC32 of the payload is verified, and the payload must be ``[28-byte root, attributes, type]``. Test
  networks put a protocol-magic attribute (key 2) in the attributes: such addresses are rejected.
  Canonical form: as written (Base58 is case-sensitive); address type ``byron``.

The CBOR reader below handles only what Byron addresses use (unsigned integers, byte strings, arrays,
maps, tags; definite lengths), so no CBOR package is needed.
"""

from __future__ import annotations

import zlib
from typing import Final, NamedTuple

from pipeline.canon.wallet_bech32 import BECH32, decode, from_5bit
from pipeline.canon.wallet_types import Detection, Found

_PAYMENT_TYPES: Final = {0: "base", 1: "base", 2: "base", 3: "base", 4: "pointer", 5: "pointer"}
_PAYMENT_TYPES_29: Final = {6: "enterprise", 7: "enterprise"}
_STAKE_TYPES: Final = {14: "stake", 15: "stake"}
_BYRON_HEADER: Final = b"\x82\xd8\x18"  # array(2), tag(24): every Byron address starts so
_MAX_DEPTH: Final = 6


def detect_shelley(address: str) -> Detection:
    """An ``addr1``/``stake1`` address (the caller has checked the prefix)."""
    decoded = decode(address, max_length=None)
    if isinstance(decoded, str):
        suffix = " (a mistyped character?)" if decoded.startswith("bad") else ""
        return f"{decoded} for a cardano address{suffix}"
    raw = from_5bit(decoded.data)
    if decoded.const != BECH32 or raw is None or not raw:
        return "a cardano address is bech32 (not bech32m) of a header byte and its credentials"
    header_type, network = raw[0] >> 4, raw[0] & 0x0F
    types = _STAKE_TYPES if decoded.hrp == "stake" else {**_PAYMENT_TYPES, **_PAYMENT_TYPES_29}
    if decoded.hrp not in ("addr", "stake") or header_type not in types:
        return f"cardano header type {header_type} is not a {decoded.hrp} address type (CIP-19)"
    if network != 1:
        return f"cardano testnet addresses are not accepted (network tag {network})"
    kind = types[header_type]
    if not _length_ok(kind, raw):
        return f"cardano {kind} address has the wrong length ({len(raw)} bytes)"
    return Found(address.lower(), "cardano", kind)


def _length_ok(kind: str, raw: bytes) -> bool:
    if kind == "base":
        return len(raw) == 57  # header + payment hash + stake hash (28 bytes each)
    if kind != "pointer":
        return len(raw) == 29
    # A pointer: header + payment hash + three variable-length integers (slot, tx index, cert index).
    pos = 29
    for _ in range(3):
        while pos < len(raw) and raw[pos] & 0x80:
            pos += 1
        if pos >= len(raw):
            return False
        pos += 1
    return pos == len(raw)


# --- Byron ------------------------------------------------------------------------------------------------
class _CborError(ValueError):
    """Not the CBOR subset a Byron address uses."""


class _Tag(NamedTuple):
    number: int
    value: object


def _head(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(major type, argument, position after the head) of the CBOR item at ``pos``."""
    if pos >= len(buf):
        raise _CborError("truncated")
    major, info = buf[pos] >> 5, buf[pos] & 31
    if info < 24:
        return major, info, pos + 1
    if info > 27:
        raise _CborError("indefinite length or reserved")
    size = 1 << (info - 24)
    if pos + 1 + size > len(buf):
        raise _CborError("truncated")
    return major, int.from_bytes(buf[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def _item(buf: bytes, pos: int, depth: int = 0) -> tuple[object, int]:
    """The CBOR item at ``pos`` and the position after it."""
    if depth > _MAX_DEPTH:
        raise _CborError("nested too deeply")
    major, arg, pos = _head(buf, pos)
    if major == 0:
        return arg, pos
    if major == 2:
        if pos + arg > len(buf):
            raise _CborError("truncated")
        return buf[pos : pos + arg], pos + arg
    if major == 4:
        items = []
        for _ in range(arg):  # each item consumes at least one byte: bounded by the buffer
            item, pos = _item(buf, pos, depth + 1)
            items.append(item)
        return items, pos
    if major == 5:
        mapping: dict[object, object] = {}
        for _ in range(arg):
            key, pos = _item(buf, pos, depth + 1)
            if not isinstance(key, int | bytes):
                raise _CborError("unsupported map key")
            mapping[key], pos = _item(buf, pos, depth + 1)
        return mapping, pos
    if major == 6:
        value, pos = _item(buf, pos, depth + 1)
        return _Tag(arg, value), pos
    raise _CborError(f"major type {major} is not used in Byron addresses")


def _whole(buf: bytes) -> object:
    item, end = _item(buf, 0)
    if end != len(buf):
        raise _CborError("trailing bytes")
    return item


def byron_address(root: bytes, attributes: bytes = b"\xa0", address_type: int = 0) -> bytes:
    """The raw bytes (before Base58) of a Byron address with these parts: for tests and examples.

    ``attributes`` is the CBOR map, already encoded (empty by default, as in Icarus addresses).
    """
    payload = b"\x83\x58\x1c" + root + attributes + bytes([address_type])
    crc = zlib.crc32(payload)
    return _BYRON_HEADER + b"\x58" + bytes([len(payload)]) + payload + b"\x1a" + crc.to_bytes(4, "big")


def detect_byron(address: str, raw: bytes) -> Detection:
    """A Byron address, from the Base58-decoded bytes; ``None`` if they do not start like one."""
    if not raw.startswith(_BYRON_HEADER):
        return None
    try:
        outer = _whole(raw)
    except _CborError:
        # Base58 spreads a typo over the bytes below it, so it usually garbles the CRC's CBOR too.
        return (
            "bad CRC32 checksum for a cardano Byron address: its envelope does not parse "
            "(a mistyped character?)"
        )
    if not (
        isinstance(outer, list)
        and len(outer) == 2
        and isinstance(outer[0], _Tag)
        and isinstance(outer[0].value, bytes)
        and isinstance(outer[1], int)
    ):
        return "bad CRC32 checksum for a cardano Byron address: expected [24(payload), crc32]"
    payload: bytes = outer[0].value
    if zlib.crc32(payload) != outer[1]:
        return "bad CRC32 checksum for a cardano Byron address (a mistyped character?)"
    try:
        inner = _whole(payload)
    except _CborError:
        return "malformed cardano Byron address payload (CBOR)"
    if not (
        isinstance(inner, list)
        and len(inner) == 3
        and isinstance(inner[0], bytes)
        and len(inner[0]) == 28
        and isinstance(inner[1], dict)
        and inner[2] in (0, 1, 2)
    ):
        return "malformed cardano Byron address payload (expected [root, attributes, type])"
    if 2 in inner[1]:
        return "cardano Byron address of a test network (it carries a protocol magic): not accepted"
    return Found(address, "cardano", "byron")


__all__ = ["byron_address", "detect_byron", "detect_shelley"]
