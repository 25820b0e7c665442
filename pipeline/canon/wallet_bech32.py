"""Bech32 / bech32m (BIP 173, BIP 350): the codec, and the chains that use it plainly.

- Segwit (``bc1`` Bitcoin, ``ltc1`` Litecoin): witness v0 with a 20-byte (p2wpkh) or 32-byte (p2wsh)
  program in bech32, v1 32-byte (p2tr) and v2-16 (``witness_vN``) in bech32m; at most 90 characters.
- BNB Beacon Chain (``bnb1``): a 20-byte account in bech32, no witness version (Cosmos style).

Cardano's bech32 (no length limit) is in :mod:`pipeline.canon.wallet_cardano`; CashAddr, which shares the
alphabet but not the checksum, in :mod:`pipeline.canon.wallet_cashaddr`. Canonical form: lower case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from pipeline.canon.wallet_types import Detection, Found

CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
CHARSET_INDEX: Final = {c: i for i, c in enumerate(CHARSET)}
BECH32: Final = 1
BECH32M: Final = 0x2BC830A3
_GEN: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_SEGWIT_HRPS: Final = {"bc": "bitcoin", "ltc": "litecoin"}


class Bech32(NamedTuple):
    """A decoded bech32 string: its human-readable part, 5-bit data (checksum removed), constant."""

    hrp: str
    data: list[int]
    const: int


def _polymod(values: Iterable[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def decode(text: str, *, max_length: int | None = 90) -> Bech32 | str:
    """Split and checksum-verify a bech32 or bech32m string; a reason if it is malformed.

    ``max_length`` is BIP 173's 90 characters; Cardano lifts it (``None``).
    """
    if text.lower() != text and text.upper() != text:
        return "bech32 address mixes upper and lower case"
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text) or (max_length is not None and len(text) > max_length):
        return "malformed bech32 address (separator or length)"
    hrp, data_part = text[:pos], text[pos + 1 :]
    if any(c not in CHARSET_INDEX for c in data_part):
        return "bech32 address has a character outside the bech32 alphabet"
    data = [CHARSET_INDEX[c] for c in data_part]
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (BECH32, BECH32M):
        return "bad bech32 checksum"
    return Bech32(hrp, data[:-6], const)


def encode(hrp: str, data: Sequence[int], const: int = BECH32) -> str:
    """The bech32 (or, with ``const=BECH32M``, bech32m) string of 5-bit ``data``."""
    values = _hrp_expand(hrp) + list(data)
    polymod = _polymod([*values, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in [*data, *checksum])


def to_5bit(data: bytes) -> list[int]:
    """8-bit bytes regrouped as 5-bit values, zero-padded at the end."""
    acc, bits, out = 0, 0, []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def from_5bit(values: Sequence[int]) -> bytes | None:
    """5-bit values regrouped as bytes; ``None`` if the padding is longer than 4 bits or not zero."""
    acc, bits, out = 0, 0, bytearray()
    for v in values:
        acc, bits = (acc << 5) | v, bits + 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc << (8 - bits)) & 0xFF:
        return None
    return bytes(out)


def segwit_address(hrp: str, version: int, program: bytes) -> str:
    """The segwit address of a witness program (bech32 for v0, bech32m after): for tests and examples."""
    return encode(hrp, [version, *to_5bit(program)], BECH32 if version == 0 else BECH32M)


def detect_segwit(address: str) -> Detection:
    """A ``bc1``/``ltc1`` segwit address (the caller has checked the prefix)."""
    decoded = decode(address)
    if isinstance(decoded, str):
        named = _SEGWIT_HRPS.get(address.lower().split("1", 1)[0], "segwit")
        return f"{decoded} for a {named} segwit address" + (
            " (a mistyped character?)" if decoded.startswith("bad") else ""
        )
    chain = _SEGWIT_HRPS.get(decoded.hrp)
    if chain is None or not decoded.data:
        return "malformed segwit address (human-readable part or witness version)"
    version, program = decoded.data[0], from_5bit(decoded.data[1:])
    if program is None:
        return "bech32 address has invalid padding"
    if version > 16 or not 2 <= len(program) <= 40:
        return "invalid segwit witness version or program length"
    if (version == 0) != (decoded.const == BECH32):
        return "wrong bech32 variant for the witness version (v0 uses bech32, v1+ bech32m)"
    canonical = address.lower()
    if version == 0:
        kinds = {20: "p2wpkh", 32: "p2wsh"}
        if len(program) not in kinds:
            return "segwit v0 program must be 20 or 32 bytes"
        return Found(canonical, chain, kinds[len(program)])
    if version == 1 and len(program) == 32:
        return Found(canonical, chain, "p2tr")
    return Found(canonical, chain, f"witness_v{version}")


def detect_bnb(address: str) -> Detection:
    """A BNB Beacon Chain ``bnb1`` account (the caller has checked the prefix)."""
    decoded = decode(address)
    if isinstance(decoded, str):
        suffix = " (a mistyped character?)" if decoded.startswith("bad") else ""
        return f"{decoded} for a bnb-beacon address{suffix}"
    account = from_5bit(decoded.data)
    if decoded.hrp != "bnb" or decoded.const != BECH32 or account is None or len(account) != 20:
        return "a bnb-beacon address is bech32 (not bech32m) of a 20-byte account"
    return Found(address.lower(), "bnb-beacon", "account")


__all__ = [
    "BECH32",
    "BECH32M",
    "CHARSET",
    "CHARSET_INDEX",
    "Bech32",
    "decode",
    "detect_bnb",
    "detect_segwit",
    "encode",
    "from_5bit",
    "segwit_address",
    "to_5bit",
]
