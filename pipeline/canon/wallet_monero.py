"""Monero addresses: CryptoNote block Base58 with a Keccak-256 checksum, mainnet only.

Layout: network byte (a varint, one byte for every Monero network), public spend key (32 bytes), public
view key (32), an 8-byte payment id for integrated addresses, then the first 4 bytes of Keccak-256 of all
that. Mainnet network bytes: 18 standard (``4...``, 95 characters), 42 subaddress (``8...``, 95), 19
integrated (``4...``, 106). Testnet (53, 54, 63) and stagenet (24, 25, 36) are rejected by name; other
bytes belong to other CryptoNote coins, which are not supported.

Monero's Base58 is not Bitcoin's, though the alphabet is the same: the bytes are cut into 8-byte blocks,
each written as exactly 11 characters (leading ``1`` padding); a shorter last block of n bytes takes
``_ENCODED_SIZES[n]`` characters. Decoded as one big Bitcoin-style number, a Monero address gives about
70 bytes of nonsense, which is why it must be tried before the generic Base58 detectors.

Canonical form: as written (the encoding is case-sensitive).
"""

from __future__ import annotations

from typing import Final

import base58

from pipeline.canon.wallet_evm import keccak256
from pipeline.canon.wallet_types import Detection, Found

_ALPHABET: Final = base58.BITCOIN_ALPHABET.decode()
_INDEX: Final = {c: i for i, c in enumerate(_ALPHABET)}
_ENCODED_SIZES: Final = (0, 2, 3, 5, 6, 7, 9, 10, 11)  # characters for a block of 0..8 bytes
_BLOCK: Final = 8
_ENCODED_BLOCK: Final = 11
#: Network byte → (network, address type).
_NETWORK_BYTES: Final = {
    18: ("mainnet", "standard"),
    19: ("mainnet", "integrated"),
    42: ("mainnet", "subaddress"),
    53: ("testnet", "standard"),
    54: ("testnet", "integrated"),
    63: ("testnet", "subaddress"),
    24: ("stagenet", "standard"),
    25: ("stagenet", "integrated"),
    36: ("stagenet", "subaddress"),
}
#: Address type → decoded length (network byte + keys [+ payment id] + checksum).
_RAW_LENGTHS: Final = {"standard": 69, "subaddress": 69, "integrated": 77}
LENGTHS: Final = (95, 106)


def encode(raw: bytes) -> str:
    """Monero Base58 of ``raw`` (block-wise): for tests and examples."""
    out = []
    for off in range(0, len(raw), _BLOCK):
        block = raw[off : off + _BLOCK]
        size = _ENCODED_SIZES[len(block)]
        num, chars = int.from_bytes(block, "big"), []
        for _ in range(size):
            num, digit = divmod(num, 58)
            chars.append(_ALPHABET[digit])
        out.append("".join(reversed(chars)))
    return "".join(out)


def decode(text: str) -> bytes | None:
    """The bytes of a Monero Base58 string; ``None`` if a block is malformed or overflows."""
    out = bytearray()
    for off in range(0, len(text), _ENCODED_BLOCK):
        chunk = text[off : off + _ENCODED_BLOCK]
        if len(chunk) not in _ENCODED_SIZES or any(c not in _INDEX for c in chunk):
            return None
        size = _ENCODED_SIZES.index(len(chunk))
        num = 0
        for c in chunk:
            num = num * 58 + _INDEX[c]
        if num >> (8 * size):
            return None  # more than the block can hold: not a Monero encoding
        out += num.to_bytes(size, "big")
    return bytes(out)


def address(network_byte: int, spend: bytes, view: bytes, payment_id: bytes = b"") -> str:
    """The Monero address of these keys (with a payment id: integrated): for tests and examples."""
    body = bytes([network_byte]) + spend + view + payment_id
    return encode(body + keccak256(body)[:4])


def detect_monero(text: str) -> Detection:
    """A Monero address; ``None`` unless it has the length and alphabet of one and decodes block-wise."""
    if len(text) not in LENGTHS:
        return None
    raw = decode(text)
    if raw is None:
        if text[0] in "48" and all(c in _INDEX for c in text):
            return (
                "bad Monero checksum (Keccak-256) for a monero address: a block does not decode "
                "(a mistyped character?)"
            )
        return None
    if keccak256(raw[:-4])[:4] != raw[-4:]:
        if text[0] in "48":
            return "bad Monero checksum (Keccak-256) for a monero address (a mistyped character?)"
        return None
    network, kind = _NETWORK_BYTES.get(raw[0], ("", ""))
    if not network:
        return f"CryptoNote address with network byte {raw[0]}: not a monero mainnet address"
    if len(raw) != _RAW_LENGTHS[kind]:
        return f"a monero {kind} address has {_RAW_LENGTHS[kind]} bytes, this one {len(raw)}"
    if network != "mainnet":
        return f"monero {network} addresses are not accepted"
    return Found(text, "monero", kind)


__all__ = ["LENGTHS", "address", "decode", "detect_monero", "encode"]
