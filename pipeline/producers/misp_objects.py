"""MISP objects mapped once: an object yields at most one report, the indicator the object describes.

An object's attributes describe one thing together. Read one by one by type, a social-account object gives
two indicators (its handle and its id), an e-mail's recipients (``to``, victims) become "scam addresses" and
a victim's unix login a "scam account". So each template the exchange understands names the attribute that
is the report; the others are context (a BIC, a country, a chain symbol travel with the report).

=================================  ======================================  ===================================
template                           reported (the first present)            context that travels with it
=================================  ======================================  ===================================
``phone-number``                   ``phone-number`` → phone                ``country-code`` → country
``phone`` (a handset)              ``msisdn`` → phone, else ``imei``
``instant-message``                ``from-number`` → phone                 (``to-number`` is the victim)
``bank-account``                   ``iban``, else ``account``              ``swift`` → bic; ``country`` when
                                   → bank-account                          given (MISP's template has none),
                                                                           else the BIC's, else US for an
                                                                           ``aba-rtn``
``coin-address``, ``btc-wallet``   ``address``, ``address-xmr``,           ``symbol`` names the chain as a
                                   ``address-crypto``,                     wallet alias (btc, eth, xmr...);
                                   ``wallet-address`` → wallet             any other symbol: plain wallet
``url``, ``phishing``              ``url`` → url                           domain, host, redirects
``domain-ip`` (``domain|ip``)      ``domain``, else ``hostname``           ips, ports
``whois``                          ``domain`` → domain                     registrant, nameservers
``email``                          ``reply-to``, else ``from``, else       ``to``, ``cc``, ``bcc``: victims,
                                   ``return-path`` → email                 never reported
``twitter-account``                ``x:<name>``, else ``x:id:<id>``
``facebook-``, ``instagram-``,     ``<platform>:<account-name>``, else
``reddit-``, ``parler-account``    ``<platform>:id:<account-id>``
``telegram-``, ``tiktok-account``  ``<platform>:<username>``, else
``github-``, ``gitlab-user``       ``<platform>:id:<id>``
``user-account``                   ``<account-type>:<username>``, else     a system ``account-type`` (unix,
                                   ``<account-type>:id:<user-id>``         windows-local, windows-domain,
                                                                           ldap, nis, radius, tacacs): skipped
                                                                           as ``user-account:<type>``
=================================  ======================================  ===================================

Why ``reply-to`` first for e-mail: ``From`` is trivially forged (a scam mail "from" a real bank would report
the bank), while ``Reply-To`` is the address the scammer reads; ``return-path`` is often a bulk sender's
bounce box. A social account with neither handle nor numeric id is read from its ``link`` (a profile URL).

Every other template is skipped whole as ``object:<name>`` (file, pe, elf, x509, ip-port, yara, sigma,
suricata, network-connection, person, victim, geolocation, credential, youtube-channel...): none describes an
indicator the exchange carries, and reading their attributes by type is how a victim's details would leak
into the exchange (a ``person`` object's phone, a ``victim`` object's e-mail). Only an object without a
``name`` (hand-written JSON, no template) is read attribute by attribute (:mod:`.misp_input`).

The reported attribute's ``to_ids: false`` skips the object (``to_ids-false``), except for ``text``, ``link``
and ``github-username`` attributes: MISP sets their flag false whatever they hold, and the social and handset
templates carry their identifiers in them. A context attribute flagged ``to_ids: true`` is not reported but
counted as skipped (see :func:`context_skip`), so nothing MISP marks for detection vanishes silently.

A template whose required attribute is missing (a url object without its url, a bank-account with neither
iban nor account) is malformed: rejected. One that is valid MISP but names nothing reportable (an email with
only a subject, a domain-ip with only IPs) is skipped as ``object:<name>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from pipeline.canon import REGISTRY
from pipeline.producers.records import KIND_ALIASES

#: MISP attribute type → the type name given to ``report_from_fields`` (kind or alias).
MISP_TYPES: Final[Mapping[str, str]] = REGISTRY.misp_types()
#: Relations that name a recipient: in MISP's templates, the victim of the message.
RECIPIENT_RELATIONS: Final = frozenset(
    {"to", "cc", "bcc", "to-display-name", "to-number", "to-user", "to-name"}
)
#: ``account-type`` values of a ``user-account`` that are system logins, not accounts on a platform.
SYSTEM_ACCOUNT_TYPES: Final = frozenset(
    {"unix", "windows-local", "windows-domain", "ldap", "nis", "radius", "tacacs"}
)
#: Types whose ``to_ids`` says nothing: MISP sets it false for them whatever they hold, and the social and
#: handset templates carry their identifiers in exactly these types.
SELF_DESCRIBED_TYPES: Final = frozenset({"text", "link", "github-username"})

_FALSE: Final = (False, 0, "0", "false", "False", "no")
_BIC_SHAPE: Final = re.compile(r"[A-Za-z]{6}[A-Za-z0-9]{2}(?:[A-Za-z0-9]{3})?")


class Rel(NamedTuple):
    """One live attribute of an object: its JSON path, relation (``object_relation``, else its type), type."""

    location: str
    relation: str
    type: str
    value: Any
    attr: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Pick:
    """The object's report: the attribute reported, the fields for ``report_from_fields``, the attributes
    consumed as its properties (``used``) and attribute-level problems to reject (a second, different BIC)."""

    rel: Rel
    fields: dict[str, Any]
    used: tuple[Rel, ...] = ()
    problems: tuple[tuple[Rel, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Omit:
    """The object is valid MISP but not a report: skipped, counted under ``category``."""

    category: str
    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    """The object is malformed: rejected at ``rel`` (or at the object when ``None``)."""

    reason: str
    rel: Rel | None = None


Mapper = Callable[[str, Sequence[Rel]], Pick | Omit | Fail]


def is_true(value: object) -> bool:
    """MISP booleans: ``true``, ``"1"``, ``1``...; absent, ``false``, ``"0"``, ``"FALSE"``, ``""``: false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "n")
    return value not in (None, *_FALSE)


def rel_of(location: str, attr: Mapping[str, Any]) -> Rel:
    """The :class:`Rel` of an attribute (a dict); hand-written objects often leave out ``object_relation``."""
    raw_type, raw_relation = attr.get("type"), attr.get("object_relation")
    misp_type = raw_type if isinstance(raw_type, str) else ""
    relation = raw_relation if isinstance(raw_relation, str) and raw_relation else misp_type
    return Rel(location, relation, misp_type, attr.get("value"), attr)


def _first(rels: Sequence[Rel], *relations: str) -> Rel | None:
    """The first attribute with one of ``relations``, in the order given (the preference)."""
    for relation in relations:
        for rel in rels:
            if rel.relation == relation:
                return rel
    return None


def _text(rel: Rel | None) -> str | None:
    """The attribute's value as stripped text (ids may come as JSON numbers); ``None`` when empty."""
    if rel is None or isinstance(rel.value, bool):
        return None
    if isinstance(rel.value, int):
        return str(rel.value)
    if isinstance(rel.value, str):
        return rel.value.strip() or None
    return None


def one_bic(bics: Sequence[Rel]) -> tuple[str | None, list[tuple[Rel, str]]]:
    """The BIC attached to an account (the first string one) and the problems of the others."""
    bic: str | None = None
    problems: list[tuple[Rel, str]] = []
    for rel in bics:
        if not isinstance(rel.value, str):
            problems.append((rel, "BIC value must be a string"))
        elif bic is None:
            bic = rel.value
        elif rel.value.strip().upper() != bic.strip().upper():
            problems.append((rel, f"second BIC {rel.value!r} in one object; attached only {bic!r}"))
    return bic, problems


def _one(kind: str, *relations: str, missing: str | None = None) -> Mapper:
    """A template reported by its first present attribute among ``relations``, read as ``kind``.

    ``missing`` is the reason to reject an object without any (the template requires one); without it such an
    object is skipped.
    """

    def pick(template: str, rels: Sequence[Rel]) -> Pick | Omit | Fail:
        rel = _first(rels, *relations)
        if rel is not None:
            return Pick(rel, {"type": kind, "value": rel.value})
        if missing is not None:
            return Fail(missing)
        return Omit(
            f"object:{template}", f"a {template} object without {' or '.join(relations)}: nothing to report"
        )

    return pick


def _phone_number(template: str, rels: Sequence[Rel]) -> Pick | Omit | Fail:
    number = _first(rels, "phone-number")
    if number is None:
        return Fail("a phone-number object needs its phone-number attribute")
    country = _first(rels, "country-code")
    used = (country,) if country is not None else ()
    return Pick(number, {"type": "phone", "value": number.value, "country": _text(country)}, used)


def _handset(template: str, rels: Sequence[Rel]) -> Pick | Omit | Fail:
    number = _first(rels, "msisdn")
    if number is not None:
        return Pick(number, {"type": "phone", "value": number.value})
    imei = _first(rels, "imei")
    if imei is not None:
        return Pick(imei, {"type": "imei", "value": imei.value})
    return Omit(f"object:{template}", "a phone object without msisdn or imei names no number or handset")


def _bank_account(template: str, rels: Sequence[Rel]) -> Pick | Omit | Fail:
    bics = [r for r in rels if r.relation == "swift" or r.type == "bic"]
    iban = _first(rels, "iban")
    account = iban or _first(rels, "account", "bank-account-nr")
    if account is None:
        if bics:
            return Fail("a BIC alone is not a report, and this object holds no IBAN to attach it", bics[0])
        return Fail("a bank-account object needs an iban or an account number")
    bic, problems = one_bic(bics)
    country_rel = _first(rels, "country")
    country = _text(country_rel)
    if country is None and iban is None:
        # A national account number needs its country: the BIC names it (letters 5-6); an ABA routing
        # number exists only in the US.
        if bic is not None and _BIC_SHAPE.fullmatch(bic.strip()):
            country = bic.strip()[4:6].upper()
        elif _first(rels, "aba-rtn") is not None:
            country = "US"
    used = tuple(bics) + ((country_rel,) if country_rel is not None else ())
    fields = {"type": "bank-account", "value": account.value, "bic": bic, "country": country}
    return Pick(account, fields, used, tuple(problems))


def _wallet_alias(name: str | None) -> str | None:
    """``name`` when it is a wallet alias naming a chain (``btc``, ``eth``, ``xmr``...), else ``None``."""
    key = (name or "").strip().lower()
    return key if key and KIND_ALIASES.get(key) == "wallet" else None


def _wallet(template: str, rels: Sequence[Rel]) -> Pick | Omit | Fail:
    address = _first(rels, "address", "address-xmr", "address-crypto", "wallet-address")
    if address is None:
        return Fail(f"a {template} object needs an address")
    symbol = _first(rels, "symbol")
    if symbol is not None:
        # The symbol is the producer's claim; the address relation's MISP type (btc) is only the template's.
        kind = _wallet_alias(_text(symbol)) or "wallet"
    else:
        kind = _wallet_alias(MISP_TYPES.get(address.type)) or "wallet"
    used = (symbol,) if symbol is not None else ()
    return Pick(address, {"type": kind, "value": address.value}, used)


def _account(
    template: str,
    rels: Sequence[Rel],
    platform: str,
    handles: tuple[str, ...],
    ids: tuple[str, ...],
    *,
    used: tuple[Rel, ...] = (),
) -> Pick | Omit | Fail:
    """A social report: ``platform:handle``, else ``platform:id:NUMBER``, else the profile ``link``."""
    handle = _first(rels, *handles)
    if handle is not None:
        text = _text(handle)
        if text is None:
            return Fail(f"{handle.relation} must be a non-empty string", handle)
        return Pick(handle, {"type": "social", "value": f"{platform}:{text}"}, used)
    ident = _first(rels, *ids)
    if ident is not None:
        text = _text(ident)
        if text is None or not text.isdigit():
            reason = (
                f"{ident.relation} {ident.value!r} is not a numeric id and the object has no {handles[0]}"
            )
            return Fail(f"{reason}: add the {handles[0]}", ident)
        return Pick(ident, {"type": "social", "value": f"{platform}:id:{text}"}, used)
    link = _first(rels, "link")
    profile = _text(link)
    if link is not None and profile is not None:
        return Pick(link, {"type": "social", "value": profile}, used)
    wanted = " or ".join((*handles, *ids, "link"))
    return Omit(f"object:{template}", f"a {template} object without {wanted} names no account")


def _social(platform: str, handles: tuple[str, ...], ids: tuple[str, ...]) -> Mapper:
    def pick(template: str, rels: Sequence[Rel]) -> Pick | Omit | Fail:
        return _account(template, rels, platform, handles, ids)

    return pick


def _user_account(template: str, rels: Sequence[Rel]) -> Pick | Omit | Fail:
    type_rel = _first(rels, "account-type")
    account_type = (_text(type_rel) or "").lower()
    if not account_type or type_rel is None:
        reason = "a user-account without account-type names no platform: set it (telegram, facebook, ...)"
        return Omit("user-account:untyped", reason)
    if account_type in SYSTEM_ACCOUNT_TYPES:
        reason = f"a system login ({account_type}) is a credential, typically a victim's, not a scam account"
        return Omit(f"user-account:{account_type}", reason)
    return _account(template, rels, account_type, ("username",), ("user-id",), used=(type_rel,))


#: Template name → how its one report is picked. Every other template is skipped as ``object:<name>``.
TEMPLATES: Final[Mapping[str, Mapper]] = {
    "phone-number": _phone_number,
    "phone": _handset,
    "instant-message": _one("phone", "from-number"),
    "bank-account": _bank_account,
    "coin-address": _wallet,
    "btc-wallet": _wallet,
    "url": _one("url", "url", missing="a url object needs its url attribute"),
    "phishing": _one("url", "url", missing="a phishing object needs its url attribute"),
    "domain-ip": _one("domain", "domain", "hostname"),
    "domain|ip": _one("domain", "domain", "hostname"),
    "whois": _one("domain", "domain"),
    "email": _one("email", "reply-to", "from", "return-path"),
    "twitter-account": _social("x", ("name", "username"), ("id",)),
    "facebook-account": _social("facebook", ("account-name",), ("account-id",)),
    "instagram-account": _social("instagram", ("account-name",), ("account-id",)),
    "reddit-account": _social("reddit", ("account-name",), ("account-id",)),
    "parler-account": _social("parler", ("account-name",), ("account-id",)),
    "telegram-account": _social("telegram", ("username",), ("id",)),
    "tiktok-account": _social("tiktok", ("username", "account-name"), ("id", "account-id")),
    "github-user": _social("github", ("username",), ("id",)),
    "gitlab-user": _social("gitlab", ("username",), ("id",)),
    "user-account": _user_account,
}


def context_skip(template: str, rel: Rel, pick: Pick) -> tuple[str, str] | None:
    """``(category, reason)`` for a context attribute MISP flags for detection (``to_ids``), or ``None``.

    Such an attribute is not reported (the object reports one thing) but is counted, so nothing flagged for
    detection vanishes silently: under its MISP type when the exchange does not carry it (``ip-dst``), as
    ``recipient`` for a victim, and as ``<template>:<relation>`` otherwise. A part the reported value already
    contains (the domain of a url object) is silent: MISP derives it from the value.
    """
    reported = pick.fields.get("value")
    if rel.relation in RECIPIENT_RELATIONS:
        return (
            "recipient",
            f"{rel.relation} of the {template} object is a recipient: a victim, never reported",
        )
    if rel.type not in MISP_TYPES:
        category = rel.type or "untyped"
        return category, f"MISP type {rel.type!r} ({rel.relation} of the {template} object) is not carried"
    if (
        isinstance(rel.value, str)
        and isinstance(reported, str)
        and rel.value.strip().lower() in reported.lower()
    ):
        return None
    reason = (
        f"{rel.relation} {rel.value!r} is context of the {template} object, which reports its "
        f"{pick.rel.relation}; publish it as an attribute of its own to report it"
    )
    return f"{template}:{rel.relation}", reason


__all__ = [
    "MISP_TYPES",
    "RECIPIENT_RELATIONS",
    "SELF_DESCRIBED_TYPES",
    "SYSTEM_ACCOUNT_TYPES",
    "TEMPLATES",
    "Fail",
    "Omit",
    "Pick",
    "Rel",
    "context_skip",
    "is_true",
    "one_bic",
    "rel_of",
]
