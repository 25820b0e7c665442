"""Producer-side report records: one :class:`ReportInput` per line/object of an input file.

Readers (:mod:`pipeline.producers.readers`) turn the loosely typed fields of a file into a
:class:`ReportInput` with :func:`report_from_fields` (field validation: kind, confidence, TLP, first_seen,
scam types, country) or a :class:`Rejected` naming ``file:line`` and the reason. :func:`to_canonical_report`
then canonicalises the value. Everything here is pure: no Kafka, no clock, no file access.

>>> fields = {"type": "phone-number", "value": "0412 345 678", "country": "au"}
>>> r = report_from_fields(fields, source="a.csv:2")
>>> r.kind, r.country
('phone', 'AU')
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple

from pipeline.canon import KINDS, REGISTRY, Canonical, Invalid, canonicalize
from pipeline.canon.wallet import CHAIN_BY_ALIAS as WALLET_CHAINS
from pipeline.stix.ids import uuid5
from pipeline.stix.times import parse_timestamp
from pipeline.stix.tlp import TLP, parse_tlp
from pipeline.wire.fields import BIC_RE, COUNTRY_RE, FieldError, scam_types

#: Kind names accepted in input files besides :data:`pipeline.canon.KINDS` (matched after lower-casing
#: and turning ``_`` and spaces into ``-``), as each kind declares them: STIX SCO type names and MISP
#: attribute types are among them.
KIND_ALIASES: Final[Mapping[str, str]] = REGISTRY.aliases()
#: Wallet aliases that name a chain (``btc``, ``doge``, ``monero``, ...), as the wallet kind declares them:
#: the address must belong to it (checked when the canonicaliser reports the chain it recognised).
CHAIN_BY_ALIAS: Final[Mapping[str, str]] = WALLET_CHAINS

# The same rules the validate stage applies (pipeline.processors.validate), checked here so a producer
# hears about a bad field at once instead of finding its report in the DLQ.
MAX_DESCRIPTION: Final = 10_000
_SCAM_TYPE_SEPARATORS: Final = re.compile(r"[;|]")

#: Namespace of deterministic submission ids (uuid5 of this project's name under the URL namespace).
SUBMISSION_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://scamshare.example/submission-id")


@dataclass(frozen=True, slots=True)
class ReportInput:
    """One report as read from an input file, fields validated, value not yet canonicalised.

    ``source`` is ``file:location`` for messages (``reports.csv:12``, ``bundle.json:objects[3]``);
    ``location`` is the part after the file name, used for deterministic submission ids. ``tlp`` is
    ``None`` when the input did not say (the publisher applies its default). ``chain`` is the chain an
    alias such as ``btc`` declared; ``bic`` a BIC that travels with an IBAN.
    """

    kind: str
    value: str
    source: str
    location: str = ""
    country: str | None = None
    scam_types: tuple[str, ...] = ()
    confidence: int | None = None
    tlp: TLP | None = None
    first_seen: datetime | None = None
    description: str | None = None
    chain: str | None = None
    bic: str | None = None
    #: the producer withdraws its earlier report of this value (STIX ``revoked``); when every reporter has
    #: withdrawn, the pipeline revokes the indicator and tells every past recipient
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line or object that is not a valid report: where (``file:line``) and why."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input entry deliberately not published (e.g. a MISP attribute with ``to_ids: false``).

    Not an error: the exit code ignores it, but the summary counts it so nothing vanishes silently.
    ``category`` is what was skipped, for the per-type counts of the summary: the MISP attribute or object
    type (``ip-dst``, ``file``), the STIX object type or pattern type (``file``, ``indicator:yara``), or a
    reason class (``to_ids-false``, ``deleted``).
    """

    source: str
    reason: str
    category: str = "other"


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How readers interpret what a file leaves unsaid; built once from the CLI options.

    ``country`` is the country of national phone numbers and bank accounts when a record names none (a
    record's own ``country`` always wins). ``kind`` is the kind of every value of a plain list (one value per
    line, or a JSON array of strings), which has no ``type`` column. ``include_non_ids`` keeps MISP
    attributes marked ``to_ids: false`` (context by MISP's convention; skipped by default).
    """

    country: str | None = None
    kind: str | None = None
    include_non_ids: bool = False


#: The options of a reader told nothing (a module-level value: a default argument must not be a call).
DEFAULT_OPTIONS: Final = ReadOptions()


class Accepted(NamedTuple):
    """A report whose value canonicalised: unpacks as ``(canonical, report)``."""

    canonical: Canonical
    report: ReportInput


ReadItem = ReportInput | Rejected | Skipped


@functools.lru_cache(maxsize=1024)  # a file names a handful of kinds a million times
def normalise_kind(kind: str) -> str | None:
    """The canonical kind for a kind name or alias (``phone-number`` → ``phone``); ``None`` if unknown."""
    key = re.sub(r"[\s_]+", "-", kind.strip().lower())
    if key in KINDS:
        return key
    return KIND_ALIASES.get(key)


def parse_confidence(value: object) -> int | None:
    """Confidence 0-100 from an int or a decimal string; ``None`` for empty. Raises FieldError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise FieldError("confidence must be an integer 0-100, not a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,4}\s*", value):
        value = int(value)
    if not isinstance(value, int):
        raise FieldError(f"confidence must be an integer 0-100, got {value!r}")
    if not 0 <= value <= 100:
        raise FieldError(f"confidence must be between 0 and 100, got {value}")
    return value


def parse_tlp_field(value: object) -> TLP | None:
    """A TLP level from a name (``amber``, ``TLP:RED``) or marking id; ``None`` for empty.

    Raises FieldError.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    level = parse_tlp(value) if isinstance(value, str) else None
    if level is None:
        raise FieldError(f"unknown TLP {value!r}; expected clear, green, amber, amber+strict or red")
    return level


def parse_first_seen(value: object) -> datetime | None:
    """An aware UTC datetime from RFC 3339 or an ISO date (``2026-11-02``); ``None`` for empty.

    Raises FieldError. A timestamp without an offset is taken as UTC.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise FieldError(f"first_seen must be an RFC 3339 timestamp or ISO date, got {value!r}")
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        return parse_timestamp(text)
    except ValueError:
        raise FieldError(f"first_seen {value!r} is not an RFC 3339 timestamp or ISO date") from None


def parse_scam_types(value: object) -> tuple[str, ...]:
    """Scam types from a list or a string separated by ``;`` or ``|``; lower-cased, de-duplicated.

    Raises FieldError for a name the pipeline would reject (1-48 chars of a-z 0-9 -) or too many.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = list(_SCAM_TYPE_SEPARATORS.split(value))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise FieldError(f"scam types must be a string or a list of strings, got {value!r}")
    return scam_types(items)


def parse_country(value: object) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; ``None`` for empty. Raises FieldError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    code = value.strip().upper() if isinstance(value, str) else ""
    if not COUNTRY_RE.match(code):
        raise FieldError(f"country {value!r} must be an ISO 3166-1 alpha-2 code such as AU or GB")
    return code


def parse_bic(value: object) -> str | None:
    """A BIC (8 or 11 characters), upper-cased, spaces removed; ``None`` for empty. Raises FieldError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    code = re.sub(r"\s+", "", value).upper() if isinstance(value, str) else ""
    if not BIC_RE.match(code):
        raise FieldError(f"BIC {value!r} is not 8 or 11 letters/digits (e.g. COBADEFFXXX)")
    return code


def parse_revoked(value: object) -> bool:
    """``revoked``: true/false, yes/no, 1/0 (empty = false)."""
    if value is None or value is False or value == "":
        return False
    if value is True:
        return True
    text = str(value).strip().lower()
    if text in {"true", "yes", "1", "y"}:
        return True
    if text in {"false", "no", "0", "n"}:
        return False
    raise FieldError(f"'revoked' must be true or false, got {value!r}")


def parse_description(value: object) -> str | None:
    """Free text, stripped; ``None`` for empty. Raises FieldError when not a string or too long."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(f"description must be a string, got {value!r}")
    text = value.strip()
    if len(text) > MAX_DESCRIPTION:
        raise FieldError(f"description is {len(text)} characters; the limit is {MAX_DESCRIPTION}")
    return text or None


def report_from_fields(
    fields: Mapping[str, Any],
    *,
    source: str,
    location: str = "",
    tlp: TLP | None = None,
    country: str | None = None,
) -> ReportInput | Rejected:
    """Validate the fields of one input record into a :class:`ReportInput`, or say why not.

    Field names are those of the CSV header: ``type`` (or ``kind``), ``value``, ``country``,
    ``scam_type`` / ``scam_types``, ``confidence``, ``tlp``, ``first_seen``, ``description``, ``bic``
    for bank accounts, and ``revoked`` (true: withdraw an earlier report of this value). ``tlp`` is the
    level to use when the record names none (e.g. a MISP event's tag); ``country`` likewise (``--country``).
    """
    raw_kind = fields.get("type", fields.get("kind"))
    if raw_kind is None or (isinstance(raw_kind, str) and not raw_kind.strip()):
        return Rejected(source, "missing 'type'")
    if not isinstance(raw_kind, str):
        return Rejected(source, f"'type' must be a string, got {raw_kind!r}")
    kind = normalise_kind(raw_kind)
    if kind is None:
        return Rejected(source, f"unknown type {raw_kind.strip()!r}; expected one of {', '.join(KINDS)}")
    value = fields.get("value")
    if value is None or (isinstance(value, str) and not value.strip()):
        return Rejected(source, "missing 'value'")
    if not isinstance(value, str):
        return Rejected(source, f"'value' must be a string, got {value!r}")
    scam_raw = fields.get("scam_types", fields.get("scam_type"))
    try:
        record_tlp = parse_tlp_field(fields.get("tlp"))
        return ReportInput(
            kind=kind,
            value=value.strip(),
            source=source,
            location=location,
            country=parse_country(fields.get("country")) or country,
            scam_types=parse_scam_types(scam_raw),
            confidence=parse_confidence(fields.get("confidence")),
            tlp=record_tlp if record_tlp is not None else tlp,
            first_seen=parse_first_seen(fields.get("first_seen")),
            description=parse_description(fields.get("description")),
            chain=CHAIN_BY_ALIAS.get(raw_kind.strip().lower()),
            bic=parse_bic(fields.get("bic")) if kind == "bank-account" else None,
            revoked=parse_revoked(fields.get("revoked")),
        )
    except FieldError as exc:
        return Rejected(source, str(exc))


def to_canonical_report(report: ReportInput) -> Accepted | Rejected:
    """Canonicalise the report's value: ``Accepted(canonical, report)`` or ``Rejected(source, reason)``.

    A wallet declared as ``btc``/``eth``/``xmr`` must be an address of that chain; a BIC given in its own
    field is attached to the bank-account observable (it does not contribute to the id).
    """
    result = canonicalize(report.kind, report.value, country=report.country)
    if isinstance(result, Invalid):
        return Rejected(report.source, f"invalid {report.kind} {_shown(report.value)}: {result.reason}")
    if report.chain is not None:
        found = result.facts.get("chain") or result.props.get("chain")
        if found and found != report.chain:
            article = "an" if found[:1] in ("a", "e", "i", "o", "u") else "a"
            reason = f"{_shown(report.value)} is {article} {found} address, but the input says {report.chain}"
            return Rejected(report.source, reason)
    if report.bic is not None and result.kind == "bank-account":
        with_bic = _attach_bic(result, report.bic)
        if isinstance(with_bic, str):
            return Rejected(report.source, with_bic)
        result = with_bic
    return Accepted(result, report)


def _attach_bic(account: Canonical, bic: str) -> Canonical | str:
    """The bank account with ``bic`` as a property (via the bank canonicaliser, which checks the BIC and
    writes it with 11 characters), or a reason. The BIC does not contribute to the id."""
    with_bic = canonicalize("bank-account", f"{account.value.split(' ')[0]} {bic}")
    if isinstance(with_bic, Invalid):
        return f"BIC {bic}: {with_bic.reason}"
    existing = account.props.get("bic")
    if existing is not None and existing != with_bic.props.get("bic"):
        return f"the value carries BIC {existing} but the input also gives BIC {bic}"
    return with_bic


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


def bundle_options(report: ReportInput, *, default_tlp: TLP = TLP.GREEN) -> dict[str, Any]:
    """Keyword arguments for :func:`pipeline.stix.build.report_bundle` from a report."""
    return {
        "tlp": report.tlp if report.tlp is not None else default_tlp,
        "confidence": report.confidence,
        "scam_types": report.scam_types,
        "description": report.description,
        "valid_from": report.first_seen,
        "country_hint": report.country,
        "raw_value": report.value,
        "revoked": report.revoked,
    }


def file_submission_id(producer: str, content_sha256: str, location: str) -> str:
    """A deterministic submission id for the report at ``location`` of a file with this content hash.

    Re-publishing the same file (same bytes) by the same producer yields the same ids, so the pipeline's
    per-submission idempotency drops the repeat instead of counting each report twice. The file name is
    left out on purpose (renaming or re-reading from stdin keeps the ids); any edit to the file changes
    every id in it, so an edited file counts as new reports.
    """
    return uuid5(SUBMISSION_NAMESPACE, f"{producer}\x00{content_sha256}\x00{location}")


def split_rejected(items: Iterable[ReadItem]) -> tuple[list[ReportInput], list[Rejected], list[Skipped]]:
    """Partition reader output into reports, rejects and skipped entries (order kept)."""
    reports: list[ReportInput] = []
    rejected: list[Rejected] = []
    skipped: list[Skipped] = []
    for item in items:
        if isinstance(item, ReportInput):
            reports.append(item)
        elif isinstance(item, Rejected):
            rejected.append(item)
        else:
            skipped.append(item)
    return reports, rejected, skipped
