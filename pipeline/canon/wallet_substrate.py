"""Polkadot, Kusama and other Substrate chains: SS58 addresses of 32-byte accounts.

SS58 is Bitcoin-alphabet Base58 of: network prefix (1 byte for 0-63; 2 bytes, first in 64-127, for
64-16383), the 32-byte account id, and a 2-byte checksum, the first two bytes of
blake2b-512(``b"SS58PRE"`` + prefix + account). So an address decodes to 35 or 36 bytes, which no other
supported Base58 format does (Base58Check 25, Solana 32; Monero and Byron are told apart before).

The prefix is reported as the chain: 0 ``polkadot`` (DOT), 2 ``kusama`` (KSM), 42 ``substrate`` (the
generic prefix every Substrate chain accepts; no asset is reported, since it names none). Any other
registered prefix is kept as chain ``ss58-<prefix>`` with no asset: the checksum is verified, the address is
real, and rejecting it would drop a scam wallet on a parachain we have no table entry for. The reserved
prefixes 46 and 47 are rejected. Short account-index addresses and 33-byte keys are not accounts: rejected.

Canonical form: as written (Base58 is case-sensitive). Re-encoding with another prefix would give a
different string for the same account; we keep the network the reporter saw.
"""

from __future__ import annotations

import hashlib
from typing import Final

import base58

from pipeline.canon.wallet_types import Detection, Found

#: Prefix → chain name. Other prefixes report as ``ss58-<prefix>``.
NETWORKS: Final = {0: "polkadot", 2: "kusama", 42: "substrate"}
_RESERVED: Final = frozenset({46, 47})


def _checksum(body: bytes) -> bytes:
    return hashlib.blake2b(b"SS58PRE" + body, digest_size=64).digest()[:2]


def _prefix_bytes(prefix: int) -> bytes:
    if prefix < 64:
        return bytes([prefix])
    # Substrate's layout: 01aaaaaa bbcccccc for the 14-bit prefix ccccccaaaaaabb.
    return bytes([((prefix & 0xFC) >> 2) | 0x40, (prefix >> 8) | ((prefix & 0x03) << 6)])


def ss58_encode(prefix: int, account: bytes) -> str:
    """The SS58 address of a 32-byte account under ``prefix``: for tests and examples.

    >>> ss58_encode(0, bytes(32))[:6]
    '111111'
    """
    body = _prefix_bytes(prefix) + account
    return base58.b58encode(body + _checksum(body)).decode()


def chain_of(prefix: int) -> str:
    """The chain name reported for an SS58 prefix."""
    return NETWORKS.get(prefix, f"ss58-{prefix}")


def detect_ss58(address: str, raw: bytes) -> Detection:
    """An SS58 account address, from the Base58-decoded bytes; ``None`` unless 35 or 36 bytes of it."""
    if len(raw) == 35 and raw[0] < 64:
        prefix = raw[0]
    elif len(raw) == 36 and 64 <= raw[0] < 128:
        prefix = ((raw[0] << 2) & 0xFF) | (raw[1] >> 6) | ((raw[1] & 0x3F) << 8)
    else:
        return None
    chain = chain_of(prefix)
    if _checksum(raw[:-2]) != raw[-2:]:
        return f"bad SS58 checksum (blake2b) for a {chain} address (a mistyped character?)"
    if prefix in _RESERVED or (len(raw) == 36 and prefix < 64):
        return f"SS58 prefix {prefix} is reserved or not written canonically"
    return Found(address, chain, "account")


__all__ = ["NETWORKS", "chain_of", "detect_ss58", "ss58_encode"]
