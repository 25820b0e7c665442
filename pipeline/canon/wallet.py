"""Cryptocurrency wallet addresses: chain detection and checksum verification, all offline.

Every accepted address has had its checksum verified (except Solana's, which has none) and is reported
with its ``chain`` and ``asset`` (in the SCO and in the facts) and ``address_type`` (facts). Detection order
(each step only when the previous ones do not apply; the encodings are kept apart by prefix, alphabet and
decoded length, so the order mostly decides which reason a malformed value gets):

1. URI wrappers are removed: ``bitcoin:``, ``litecoin:``, ``dogecoin:``, ``dash:``, ``bitcoincash:``,
   ``ethereum:`` (EIP-681 ``@chain``/``/fn`` too), ``tron:``, ``solana:``, ``xrp:``/``ripple:``,
   ``monero:``, ``web+cardano:``, ``neo:``, with any ``?query``. The scheme must match the chain found.
   ``bitcoincash:`` is also CashAddr's own prefix; a legacy address inside it is rewritten to CashAddr.
2. ``0x`` + 40 hex digits: EVM (chain ``ethereum`` for every EVM chain, BNB Smart Chain included;
   :mod:`~pipeline.canon.wallet_evm`).
3. Single-case prefixes: testnets (``tb1``, ``bcrt1``, ``tltc1``, ``tbnb1``, ``addr_test1``,
   ``stake_test1``, ``bchtest:``, ``bchreg:``) are rejected; bech32 ``bc1``/``ltc1`` segwit and ``bnb1``
   BNB Beacon Chain (:mod:`~pipeline.canon.wallet_bech32`), ``addr1``/``stake1`` Cardano Shelley
   (:mod:`~pipeline.canon.wallet_cardano`), ``bitcoincash:`` CashAddr
   (:mod:`~pipeline.canon.wallet_cashaddr`). A mixed-case value made only of Base58 characters is not
   bech32 (BIP 173 forbids mixed case): it is a Base58 address that happens to start so (``TB1...``).
4. Single-case base32 ``G``/``M`` of 56/69 characters: Stellar (:mod:`~pipeline.canon.wallet_stellar`);
   an ``S...`` secret seed is refused with a warning.
5. CashAddr without its prefix (42 or 61 characters of the bech32 alphabet, ``q``/``p``...): claimed only
   if the ``bitcoincash`` checksum holds.
6. ``r`` + XRP-alphabet Base58Check: XRP Ledger account (:mod:`~pipeline.canon.wallet_base58`).
7. 95 or 106 Base58 characters that decode block-wise with a Keccak checksum: Monero
   (:mod:`~pipeline.canon.wallet_monero`). Its block encoding is not Bitcoin's Base58, so this comes
   before the generic decoding below.
8. Bitcoin-alphabet Base58, by decoded length: 25 bytes Base58Check (bitcoin, litecoin, dogecoin, dash,
   tron, neo by version byte), 32 Solana, 35/36 SS58 (polkadot, kusama, substrate, ``ss58-<n>``;
   :mod:`~pipeline.canon.wallet_substrate`), CBOR ``82 d8 18...`` Cardano Byron.

Why no value is read two ways: ``0x``, bech32 (a known prefix and ``1`` separator, single case) and
CashAddr (``bitcoincash:``, or its checksum) are claimed first; Stellar needs a single-case base32 string of
exactly 56/69 characters (Base58 addresses are mixed case) with a valid CRC16; Monero needs 95/106
characters whose 11-character blocks decode and pass Keccak; the Bitcoin-alphabet rest is told apart by
decoded length (Base58Check 25, Solana 32, SS58 35-36, Byron's CBOR header), Base58Check by version byte.
What remains is a checksum passing by chance under another format's rules (1 in 65,536 for the 16-bit
SS58 and StrKey checksums, far less for the others).

Legacy Bitcoin Cash (and Litecoin ``3...``) addresses are byte-identical to Bitcoin's and are reported as
bitcoin: nothing in them says otherwise. Canonical forms: Base58 and Monero as written (case matters),
bech32 and EVM lower case, CashAddr lower case with ``bitcoincash:``, Stellar upper case.

>>> canonicalize("bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=1", None).facts["address_type"]
'p2pkh'
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from pipeline.canon.core import Canonical, Invalid, simple
from pipeline.canon.registry import Kind, NewSco, value_input
from pipeline.canon.wallet_base58 import (
    BTC_ALPHABET,
    XRP_CHECKSUM_REASON,
    b58decode,
    detect_base58check,
    detect_solana,
    detect_xrp,
    hash_of,
    looks_like_xrp,
)
from pipeline.canon.wallet_bech32 import detect_bnb, detect_segwit
from pipeline.canon.wallet_cardano import detect_byron, detect_shelley
from pipeline.canon.wallet_cashaddr import (
    CHECKSUM_REASON,
    PREFIX,
    detect_cashaddr,
    legacy_to_cashaddr,
    looks_like_cashaddr,
)
from pipeline.canon.wallet_evm import detect_evm, eip55, keccak256
from pipeline.canon.wallet_monero import detect_monero
from pipeline.canon.wallet_stellar import detect_stellar
from pipeline.canon.wallet_substrate import detect_ss58
from pipeline.canon.wallet_types import Detection, Found
from pipeline.stix.ids import extension_definition_id
from pipeline.stix.schemas import sco_schema

logger = logging.getLogger(__name__)

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
#: About 1.5 KB per entry, so 8,192 entries cost about 12 MB per kind at most.
CACHE_SIZE = 8192

KIND = "wallet"
SCO_TYPE: Final = "cryptocurrency-wallet"
EXTENSION_ID: Final = extension_definition_id(SCO_TYPE)
ID_PROPERTIES: Final = (("value",),)
#: The schema's limit on ``value``; it also bounds the work of decoding Base58 (quadratic in length).
MAX_LENGTH: Final = 256

#: Chain → asset. ``substrate`` (SS58 prefix 42) and ``ss58-<n>`` name no asset, so none is reported.
ASSETS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "bitcoin": "BTC",
        "litecoin": "LTC",
        "dogecoin": "DOGE",
        "dash": "DASH",
        "bitcoin-cash": "BCH",
        "ethereum": "ETH",
        "tron": "TRX",
        "solana": "SOL",
        "xrp": "XRP",
        "monero": "XMR",
        "cardano": "ADA",
        "polkadot": "DOT",
        "kusama": "KSM",
        "stellar": "XLM",
        "bnb-beacon": "BNB",
        "neo": "NEO",
    }
)
#: Every chain the canonicaliser reports (besides ``ss58-<n>`` for other SS58 networks).
CHAINS: Final = (*ASSETS, "substrate")
#: Input alias (a file's type column, a MISP type) → the chain it names, as the canonicaliser reports it:
#: an address declared with the alias must be of that chain. Every chain name is its own alias, so a
#: STIX ``chain`` property reads back. Not here: ``bnb``, which names both the BNB Beacon Chain (``bnb1``)
#: and BNB Smart Chain (``0x``, reported as ethereum); ``bch`` for a legacy address, which is reported as
#: bitcoin unless written as ``bitcoincash:<address>``.
CHAIN_BY_ALIAS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{chain: chain for chain in CHAINS},
        "btc": "bitcoin",
        "ltc": "litecoin",
        "doge": "dogecoin",
        "bch": "bitcoin-cash",
        "bitcoincash": "bitcoin-cash",
        "eth": "ethereum",
        "bsc": "ethereum",  # BNB Smart Chain: EVM addresses, reported as ethereum
        "trx": "tron",
        "sol": "solana",
        "ripple": "xrp",
        "xmr": "monero",
        "ada": "cardano",
        "dot": "polkadot",
        "ksm": "kusama",
        "xlm": "stellar",
    }
)
_URI_SCHEMES: Final = {
    "bitcoin": "bitcoin",
    "litecoin": "litecoin",
    "dogecoin": "dogecoin",
    "dash": "dash",
    "bitcoincash": "bitcoin-cash",
    "ethereum": "ethereum",
    "tron": "tron",
    "solana": "solana",
    "xrp": "xrp",
    "ripple": "xrp",
    "monero": "monero",
    "web+cardano": "cardano",
    "neo": "neo",
}
_URI: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(?://)?")
_URI_END: Final = re.compile(r"[?@/]")  # where the address in a payment URI ends
_SPACE: Final = re.compile(r"\s")  # what str.isspace() calls white space, found without a Python loop
_TESTNET_PREFIXES: Final = (
    "tb1", "bcrt1", "tltc1", "rltc1", "tbnb1", "addr_test1", "stake_test1", "bchtest:", "bchreg:",
)  # fmt: skip
_BECH32_PREFIXES: Final[Mapping[str, Callable[[str], Detection]]] = {
    "bc1": detect_segwit,
    "ltc1": detect_segwit,
    "bnb1": detect_bnb,
    "addr1": detect_shelley,
    "stake1": detect_shelley,
}
_BASE58_DETECTORS: Final[tuple[Callable[[str, bytes], Detection], ...]] = (
    detect_base58check,
    detect_solana,
    detect_ss58,
    detect_byron,
)
# A CashAddr payload starts with its version byte's type (q, p, z, r); a legacy address with 1 or 3.
_CASHADDR_FIRST: Final = frozenset("qpzr")
_CHECKED: Final = f"checked: {', '.join(CHAINS)} and other SS58 networks"


def _unprefixed_cashaddr(address: str) -> Detection:
    return None if ":" in address else detect_cashaddr(address)


def _detect(address: str) -> Found | str:
    """The address's canonical form, chain and type, or the reason it is not one (see the module doc)."""
    found = detect_evm(address)
    if found is not None:
        return found
    lowered = address.lower()
    single_case = address in (lowered, address.upper())
    if single_case and lowered.startswith(_TESTNET_PREFIXES):
        return "testnet addresses are not accepted"
    if single_case or not set(address) <= BTC_ALPHABET:
        for prefix, detector in _BECH32_PREFIXES.items():
            if lowered.startswith(prefix):
                return detector(address) or "not a bech32 address"
    if lowered.startswith(PREFIX + ":"):
        return detect_cashaddr(address) or "malformed bitcoin-cash CashAddr"
    for detector in (detect_stellar, _unprefixed_cashaddr, detect_xrp, detect_monero):
        found = detector(address)
        if found is not None:
            return found
    raw = b58decode(address) if set(address) <= BTC_ALPHABET else None
    if raw is not None:
        for base58_detector in _BASE58_DETECTORS:
            found = base58_detector(address, raw)
            if isinstance(found, str) and looks_like_xrp(address):
                return XRP_CHECKSUM_REASON  # an XRP typo decodes, in Bitcoin's alphabet, to nonsense
            if found is not None:
                return found
    if looks_like_xrp(address):
        return XRP_CHECKSUM_REASON
    if looks_like_cashaddr(address):
        return CHECKSUM_REASON
    if raw is not None:
        return (
            f"Base58 value decodes to {len(raw)} bytes, which no supported chain uses (Base58Check 25, "
            f"Solana 32, SS58 35-36; {_CHECKED})"
        )
    return f"not an address of any supported chain ({_CHECKED})"


def _unwrap(text: str) -> tuple[str, str | None]:
    """(address, URI scheme) with a known URI scheme and its query removed."""
    uri = _URI.match(text)
    if not uri or uri.group(1).lower() not in _URI_SCHEMES:
        return text, None
    scheme = uri.group(1).lower()
    address = _URI_END.split(text[uri.end() :], maxsplit=1)[0]
    if scheme == PREFIX and address[:1].lower() in _CASHADDR_FIRST:
        # The scheme is the CashAddr prefix, checked as such (URI schemes are case-insensitive).
        address = f"{PREFIX.upper() if address.isupper() else PREFIX}:{address}"
    return address, scheme


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``cryptocurrency-wallet`` (see the module docstring). ``country`` is ignored."""
    text, scheme = _unwrap(value.strip())
    if not text or _SPACE.search(text):
        return Invalid(KIND, value, "a wallet address is one word with no spaces")
    if len(text) > MAX_LENGTH:
        return Invalid(KIND, value, f"longer than {MAX_LENGTH} characters: not a wallet address")
    found = _detect(text)
    if isinstance(found, str):
        return Invalid(KIND, value, found)
    scheme_chain = _URI_SCHEMES.get(scheme or "")
    if scheme_chain == "bitcoin-cash" and found.chain == "bitcoin" and found.address[0] in "13":
        found = legacy_to_cashaddr(found.address_type, hash_of(found.address)) or found
    if scheme_chain is not None and scheme_chain != found.chain:
        return Invalid(KIND, value, f"the {scheme}: URI holds a {found.chain} address")
    facts = {"chain": found.chain, "address_type": found.address_type}
    props = {"chain": found.chain}
    asset = ASSETS.get(found.chain)
    if asset is not None:
        facts["asset"] = props["asset"] = asset
    return simple(KIND, found.address, facts, **props)


def cryptocurrency_wallet_schema() -> dict[str, Any]:
    """``cryptocurrency-wallet``: an address that receives scam payments."""
    return sco_schema(
        SCO_TYPE,
        extension_id=EXTENSION_ID,
        description=(
            "A cryptocurrency address that received scam payments. `value` is the address as the chain "
            "writes it (case preserved where the encoding is case-sensitive; EVM addresses lower-cased), "
            "`chain` the network and `asset` the token, when known. ID contributing properties: value."
        ),
        id_contributing=[list(p) for p in ID_PROPERTIES],
        properties={
            "value": {
                "type": "string",
                "minLength": 1,
                "maxLength": 256,
                "pattern": "^[^\\s]+$",
                "description": "The address, e.g. bc1q... or 0x....",
            },
            "chain": {
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9-]{0,63}$",
                "description": "The network, lower case: bitcoin, ethereum, tron, solana, ...",
            },
            "asset": {
                "type": "string",
                "minLength": 1,
                "maxLength": 32,
                "description": "The asset or token symbol, e.g. BTC, ETH, USDT.",
            },
        },
        required=["value"],
    )


DECLARATION: Final = Kind(
    name=KIND,
    sco_type=SCO_TYPE,
    canonicalize=canonicalize,
    id_properties=ID_PROPERTIES,
    pattern_properties=ID_PROPERTIES,
    half_life_days=365,
    enrichers=("facts",),
    stix_input=value_input(SCO_TYPE),
    example="1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    # The chain aliases also name the chain: the producers check the address belongs to it. ``bnb`` names
    # two chains (see CHAIN_BY_ALIAS), so it only says "a wallet".
    aliases=(SCO_TYPE, "crypto-wallet", *CHAIN_BY_ALIAS, "bnb"),
    misp_types={"btc": "btc", "xmr": "xmr", "dash": "dash"},
    new_sco=NewSco(
        EXTENSION_ID,
        "New SCO type cryptocurrency-wallet: an address that received scam payments (value), with its "
        "network (chain) and asset when known. ID contributing properties: value.",
        cryptocurrency_wallet_schema,
    ),
)

__all__ = [
    "ASSETS",
    "CHAINS",
    "CHAIN_BY_ALIAS",
    "DECLARATION",
    "canonicalize",
    "cryptocurrency_wallet_schema",
    "eip55",
    "keccak256",
]
