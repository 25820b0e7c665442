"""What every wallet-address detector returns, so that :mod:`pipeline.canon.wallet` can chain them.

A detector looks at one encoding family and answers one of three things:

- a :class:`Found` (canonical address, chain, address type): the value is an address of that chain;
- a reason (``str``): the value has the chain's shape but is wrong (bad checksum, testnet, ...), so no
  other detector should claim it and the person gets a reason that names the chain;
- ``None``: not this family's shape at all; the dispatcher tries the next detector.
"""

from __future__ import annotations

from typing import NamedTuple


class Found(NamedTuple):
    """A recognised address: ``address`` is its canonical form."""

    address: str
    chain: str
    address_type: str


#: A detector's answer (see the module docstring).
Detection = Found | str | None

__all__ = ["Detection", "Found"]
