"""Client quotas on the broker: each organisation's producer byte rate, as a quota of its user ``user=<org>``.

confluent-kafka 2.16 (librdkafka 2.16) has no client-quota Admin API (KIP-546; confluent-kafka-python#2321
and librdkafka#5560 are still open), so this module sends the two Kafka requests itself, DescribeClientQuotas
(API key 48) and AlterClientQuotas (49), through aiokafka's client: faust's own Kafka driver, already
installed, pure Python (no Java on an operator's machine), logging in with the same librdkafka options
(SASL PLAIN/SCRAM, TLS). aiokafka's request builder is its documented extension point; it ships the
DescribeClientQuotas structures, and the AlterClientQuotas v0 ones are declared below. A KRaft broker forwards
AlterClientQuotas to the controller itself, so any broker will do.

A broker that does not advertise those requests (the embedded tansu 0.6) raises
:class:`QuotasUnsupportedError` before anything is sent: callers report :data:`UNSUPPORTED` and carry on, as
they do for a broker without ACLs.

    expected = producer_quota(org)                       # pure: what the registry implies
    sync_user_quota(settings, org.id, expected)          # "set" | "removed" | "unchanged"
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from aiokafka import errors as kafka_errors
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.admin import DescribeClientQuotasRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Float64, Int16, Int32, Schema, String

from pipeline.config import Settings
from pipeline.errors import KafkaError
from pipeline.kafka.clients import admin_config
from pipeline.state.org import Organisation

logger = logging.getLogger(__name__)

#: The one quota the exchange manages on the broker (the others a user may have are the operator's).
QUOTA_KEY: Final = "producer_byte_rate"
ENTITY_USER: Final = "user"
UNSUPPORTED: Final = "broker does not support client quotas; skipped"
TIMEOUT_S: Final = 15.0
_MATCH_EXACT, _MATCH_ANY = 0, 2  # DescribeClientQuotas match types (1 is the default entity)
_NOT_ALLOWED: Final = {kafka_errors.ClusterAuthorizationFailedError.errno}
Outcome = Literal["set", "removed", "unchanged"]


class QuotasUnsupportedError(KafkaError):
    """The broker does not implement client quotas (it does not advertise DescribeClientQuotas or
    AlterClientQuotas): the embedded broker."""


# --- pure: what the registry implies --------------------------------------------------------------------


def producer_quota(org: Organisation) -> float | None:
    """The ``producer_byte_rate`` the broker should hold for ``org``'s user; None = no quota (unlimited).

    Kafka keeps quota values as doubles, so this is the float the broker describes back.

    >>> producer_quota(Organisation(id="bank", name="B", sector="bank", roles=["producer"]))
    1048576.0
    """
    rate = org.quotas.producer_byte_rate
    return None if rate is None else float(rate)


def registry_quotas(orgs: Iterable[Organisation]) -> dict[str, float | None]:
    """User name → expected ``producer_byte_rate`` for every registered organisation (None = none)."""
    return {org.id: producer_quota(org) for org in orgs}


def quota_entity(user: str) -> list[tuple[str, str | None]]:
    """The quota entity of a user, as the protocol carries it: ``[("user", "bank")]``."""
    return [(ENTITY_USER, user)]


def quota_op(rate: float | None) -> tuple[str, float, bool]:
    """The AlterClientQuotas op that makes the quota ``rate``: (key, value, remove); None removes it."""
    return (QUOTA_KEY, 0.0 if rate is None else float(rate), rate is None)


def quota_outcome(expected: float | None, actual: float | None) -> Outcome:
    """What making ``actual`` into ``expected`` does (pure)."""
    if expected == actual:
        return "unchanged"
    return "removed" if expected is None else "set"


@dataclass(frozen=True, slots=True, order=True)
class QuotaMismatch:
    """A registered user whose broker quota is not the registry's (None = no quota)."""

    user: str
    expected: float | None
    actual: float | None

    def __str__(self) -> str:
        def show(v: float | None) -> str:
            return "none" if v is None else f"{v:.0f}"

        return f"user={self.user} {QUOTA_KEY}: registry {show(self.expected)}, broker {show(self.actual)}"


def quota_drift(expected: Mapping[str, float | None], actual: Mapping[str, float]) -> list[QuotaMismatch]:
    """Registered users whose broker quota differs from the registry's, sorted.

    Only the users in ``expected`` are compared: quotas of other users (the service users, the operator's
    own, other tenants of a shared cluster) are not the registry's to vouch for.

    >>> quota_drift({"bank": 1024.0, "telco": None}, {"bank": 1024.0, "telco": 5.0, "admin": 1.0})
    [QuotaMismatch(user='telco', expected=None, actual=5.0)]
    """
    return sorted(
        QuotaMismatch(user, rate, actual.get(user))
        for user, rate in expected.items()
        if actual.get(user) != rate
    )


def user_rates(entries: Iterable[Any], users: Iterable[str] | None = None) -> dict[str, float]:
    """User → ``producer_byte_rate`` from DescribeClientQuotas entries ``(entity, values)``; only entities
    that are one named user (of ``users`` when given), so no default entity and no (user, client-id) pair.

    >>> user_rates([([("user", "bank")], [("producer_byte_rate", 1024.0), ("consumer_byte_rate", 9.0)]),
    ...             ([("user", None)], [("producer_byte_rate", 1.0)])])
    {'bank': 1024.0}
    """
    wanted = None if users is None else set(users)
    rates: dict[str, float] = {}
    for entity, values in entries:
        names = dict(entity)
        user = names.get(ENTITY_USER)
        if len(names) != 1 or user is None or (wanted is not None and user not in wanted):
            continue
        for key, value in values:
            if key == QUOTA_KEY:
                rates[user] = float(value)
    return rates


def aiokafka_options(conf: Mapping[str, Any]) -> dict[str, Any]:
    """aiokafka client keyword arguments for a librdkafka configuration (bootstrap, SASL, TLS).

    Raises KafkaError for a login aiokafka cannot make from those options (GSSAPI, OAUTHBEARER).
    """
    protocol = str(conf.get("security.protocol", "PLAINTEXT")).upper()
    out: dict[str, Any] = {
        "bootstrap_servers": str(conf.get("bootstrap.servers", "")),
        "security_protocol": protocol,
    }
    if protocol.startswith("SASL"):
        mechanism = str(conf.get("sasl.mechanism", conf.get("sasl.mechanisms", "GSSAPI"))).upper()
        if mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise KafkaError(
                f"client quotas: logging in with sasl.mechanism {mechanism} is not supported here; set the "
                f"quota with Kafka's kafka-configs.sh --entity-type users --add-config {QUOTA_KEY}=N"
            )
        out |= {"sasl_mechanism": mechanism, "sasl_plain_username": conf.get("sasl.username"),
                "sasl_plain_password": conf.get("sasl.password")}  # fmt: skip
    if protocol in ("SSL", "SASL_SSL"):
        out["ssl_context"] = _ssl_context(conf)
    return out


def _ssl_context(conf: Mapping[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=conf.get("ssl.ca.location"))
    if "ssl.certificate.location" in conf:
        context.load_cert_chain(
            conf["ssl.certificate.location"], conf.get("ssl.key.location"), conf.get("ssl.key.password")
        )
    if str(conf.get("ssl.endpoint.identification.algorithm", "https")).lower() == "none":
        context.check_hostname = False
    return context


# --- AlterClientQuotas v0 (aiokafka ships DescribeClientQuotas only) --------------------------------------

_ENTITY = Array(("entity_type", String("utf-8")), ("entity_name", String("utf-8")))


class AlterClientQuotasResponseV0(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 49
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("entries", Array(("error_code", Int16), ("error_message", String("utf-8")), ("entity", _ENTITY))),
    )


class AlterClientQuotasRequestV0(RequestStruct):  # type: ignore[misc]
    API_KEY = 49
    API_VERSION = 0
    RESPONSE_TYPE = AlterClientQuotasResponseV0
    SCHEMA = Schema(
        (
            "entries",
            Array(
                ("entity", _ENTITY),
                ("ops", Array(("key", String("utf-8")), ("value", Float64), ("remove", Boolean))),
            ),
        ),
        ("validate_only", Boolean),
    )


class AlterClientQuotasRequest(Request[AlterClientQuotasRequestV0]):  # type: ignore[misc]
    """Set or remove quotas: ``entries`` are (entity, ops), as :func:`quota_entity` and :func:`quota_op`
    give them."""

    API_KEY = 49

    def __init__(self, entries: list[tuple[list[Any], list[Any]]], validate_only: bool = False) -> None:
        self._entries = entries
        self._validate_only = validate_only

    def build(self, request_struct_class: type[AlterClientQuotasRequestV0]) -> AlterClientQuotasRequestV0:
        return request_struct_class(self._entries, self._validate_only)


# --- talking to the broker ------------------------------------------------------------------------------


def _problem(code: int, message: str | None) -> str:
    name = kafka_errors.for_code(code).__name__
    if code in _NOT_ALLOWED:
        return f"not authorised ({name}): log in as a super user, e.g. the broker's admin"
    return f"{message or 'error'} ({name})"


async def _exchange(settings: Settings, request: Any, doing: str, timeout: float) -> Any:
    """Send one request to any broker and return its response; KafkaError naming ``doing`` on failure."""
    client = AIOKafkaClient(
        **aiokafka_options(admin_config(settings)), request_timeout_ms=int(timeout * 1000)
    )
    try:
        async with asyncio.timeout(timeout + 5):
            await client.bootstrap()
            node = client.get_random_node()
            if node is None:
                raise KafkaError(f"could not {doing}: the broker named no brokers in its metadata")
            return await client.send(node, request)
    except kafka_errors.IncompatibleBrokerVersion as exc:  # the broker does not advertise the request
        raise QuotasUnsupportedError(f"{UNSUPPORTED} ({exc})") from exc
    except NotImplementedError as exc:  # it does, but only in versions newer than these structures
        raise KafkaError(f"could not {doing}: {exc}; set it with kafka-configs.sh") from exc
    except (kafka_errors.KafkaError, OSError, TimeoutError) as exc:
        raise KafkaError(f"could not {doing}: {str(exc) or type(exc).__name__}") from exc
    finally:
        await client.close()


async def _describe(settings: Settings, users: list[str] | None, timeout: float) -> dict[str, float]:
    if users is not None and len(users) == 1:
        components: list[tuple[str, int, Any]] = [(ENTITY_USER, _MATCH_EXACT, users[0])]
    else:
        components = [(ENTITY_USER, _MATCH_ANY, None)]  # the match of "any" is null on the wire
    request = DescribeClientQuotasRequest(components, True)  # strict: user entities alone, not (user, client)
    response = await _exchange(settings, request, "describe client quotas", timeout)
    if response.error_code:
        raise KafkaError(
            f"could not describe client quotas: {_problem(response.error_code, response.error_message)}"
        )
    return user_rates(response.entries, users)


def describe_user_quotas(
    settings: Settings, users: Iterable[str] | None = None, *, timeout: float = TIMEOUT_S
) -> dict[str, float]:
    """User → ``producer_byte_rate`` on the broker (of ``users`` when given; users without one are absent).

    Raises :class:`QuotasUnsupportedError` on a broker without client quotas.
    """
    return asyncio.run(_describe(settings, None if users is None else sorted(set(users)), timeout))


def alter_user_quotas(
    settings: Settings, rates: Mapping[str, float | None], *, timeout: float = TIMEOUT_S
) -> None:
    """Set each user's ``producer_byte_rate`` (None removes it) in one request; KafkaError names each
    failure."""
    if not rates:
        return
    entries = [(quota_entity(user), [quota_op(rate)]) for user, rate in sorted(rates.items())]
    response = asyncio.run(
        _exchange(settings, AlterClientQuotasRequest(entries), "alter client quotas", timeout)
    )
    problems = [
        f"user={dict(entity).get(ENTITY_USER)}: {_problem(code, message)}"
        for code, message, entity in response.entries
        if code
    ]
    if problems:
        raise KafkaError(f"could not alter client quotas: {'; '.join(problems)}")
    logger.info(
        "client quotas altered %s", " ".join(f"user={u} {QUOTA_KEY}={r}" for u, r in sorted(rates.items()))
    )


def sync_user_quota(
    settings: Settings, user: str, expected: float | None, *, timeout: float = TIMEOUT_S
) -> Outcome:
    """Make ``user``'s ``producer_byte_rate`` on the broker ``expected`` (None: no quota); what it did.

    Raises :class:`QuotasUnsupportedError` on a broker without client quotas.
    """
    actual = describe_user_quotas(settings, [user], timeout=timeout).get(user)
    outcome = quota_outcome(expected, actual)
    if outcome != "unchanged":
        alter_user_quotas(settings, {user: expected}, timeout=timeout)
    return outcome
