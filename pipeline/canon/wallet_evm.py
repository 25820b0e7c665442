"""EVM addresses (``0x`` + 40 hex digits) and the Keccak-256 they and Monero checksum with.

One address is valid on every EVM chain (Ethereum, BNB Smart Chain, Polygon, ...), and nothing in it says
which, so they are all reported as chain ``ethereum``, asset ETH. Mixed case must pass the EIP-55 checksum;
the canonical form is lower case (the checksum is a property of the writing, not of the address).

Keccak-256 comes from pycryptodome: Ethereum's Keccak pads with 0x01, so :func:`hashlib.sha3_256` (which
pads with 0x06) gives different digests and cannot be used.
"""

from __future__ import annotations

import re
from typing import Final

from Crypto.Hash import keccak

from pipeline.canon.wallet_types import Detection, Found

_EVM: Final = re.compile(r"0[xX]([0-9a-fA-F]{40})")


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum and Monero use it (original Keccak padding, not SHA3-256's).

    >>> keccak256(b"").hex()[:16]
    'c5d2460186f7233c'
    """
    return keccak.new(data=data, digest_bits=256).digest()


def eip55(hex40: str) -> str:
    """EIP-55 mixed-case checksum form of 40 hex digits (without ``0x``).

    >>> eip55("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'
    """
    lower = hex40.lower()
    digest = keccak256(lower.encode("ascii")).hex()
    # A hex digit of 8 or more is one of "89abcdef", which are exactly the lower-case hex digits >= "8".
    return "0x" + "".join(ch.upper() if h >= "8" else ch for ch, h in zip(lower, digest[:40], strict=True))


def detect_evm(address: str) -> Detection:
    """An ``0x`` address: Found, the EIP-55 or length reason, or ``None`` without the ``0x`` prefix."""
    evm = _EVM.fullmatch(address)
    if evm:
        hex40 = evm.group(1)
        if hex40 not in (hex40.lower(), hex40.upper()) and eip55(hex40) != "0x" + hex40:
            return "EIP-55 checksum mismatch (Keccak-256): the mixed-case ethereum address has a typo"
        return Found("0x" + hex40.lower(), "ethereum", "account")
    if address[:2] in ("0x", "0X"):
        return "an 0x address must have exactly 40 hex digits"
    return None


__all__ = ["detect_evm", "eip55", "keccak256"]
