"""The registration list: every indicator kind scamshare exchanges, each declared next to its canonicaliser.

A new kind is one module in ``pipeline/canon/`` with a ``DECLARATION`` (:class:`pipeline.canon.registry.Kind`)
plus one line here. The order is the CLI's and the documentation's.
"""

from __future__ import annotations

from typing import Final

from pipeline.canon import bank, domain, email, imei, phone, social, url, wallet
from pipeline.canon.registry import Registry, build_registry

REGISTRY: Final[Registry] = build_registry(
    [
        phone.DECLARATION,
        domain.DECLARATION,
        url.DECLARATION,
        email.DECLARATION,
        wallet.DECLARATION,
        bank.DECLARATION,
        social.DECLARATION,
        imei.DECLARATION,
    ]
)

__all__ = ["REGISTRY"]
