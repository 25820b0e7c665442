"""Identity on the broker: SCRAM users, ACLs, and provisioning an organisation (confluent-kafka AdminClient).

Each organisation logs in as a SCRAM-SHA-512 user named after its id and may do only what
:func:`pipeline.identity.acls.org_acls` allows (the broker denies the rest). ``admin`` must be a super user:
users and ACLs are cluster-level changes. Every call waits on its futures with a timeout and raises
:class:`~pipeline.errors.KafkaError` naming what failed. A change reaches each broker's authorizer and
credential cache a moment after the call returns.

:func:`current_acls` converts the broker's bindings to :class:`~pipeline.identity.acls.Acl` (ALLOW, host
``*``, a topic or group). A binding that cannot be written that way (a DENY, a host other than ``*``, a
cluster or transactional-id resource, an operation outside the table) is never dropped silently: it raises
:class:`UnmanagedAclError` listing them; :func:`describe_acls` returns both halves for callers that report.

    admin = build_admin(settings)                     # logged in as the super user
    password = provision_org(admin, settings, org, subscriptions)
    write_credentials(path, org.id, bootstrap, scram_options(org.id, password))  # identity.credentials
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from confluent_kafka import KafkaError as ClientError
from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # public names, re-exported without __all__
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from pipeline.config import Settings
from pipeline.errors import KafkaError
from pipeline.identity import acls as table
from pipeline.identity.acls import Acl, Operation, PatternKind, ResourceKind
from pipeline.identity.credentials import new_password
from pipeline.kafka.topics import ensure_topics, input_topic_spec
from pipeline.state.org import Organisation, own_topics
from pipeline.state.subscription import Subscription

logger = logging.getLogger(__name__)

#: PBKDF2 rounds of a stored credential: Kafka accepts 4096..16384 for SHA-512; a client pays them per login.
SCRAM_ITERATIONS: Final = 8192
TIMEOUT_S: Final = 15.0
_GRACE_S = 5.0  # waited on the futures beyond the request timeout librdkafka enforces itself
_RESOURCES: Final[dict[ResourceKind, Any]] = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERNS: Final[dict[PatternKind, Any]] = {"literal": ResourcePatternType.LITERAL,
                                            "prefixed": ResourcePatternType.PREFIXED}  # fmt: skip
_ANY_STR: Any = None  # a filter's "any name / principal / host" (the stubs type those arguments as str)
_OPERATIONS: Final[tuple[Operation, ...]] = ("ALL", "READ", "WRITE", "DESCRIBE", "CREATE")
#: Errors that mean "this client may not do that": say how to fix it.
_NOT_ALLOWED = {ClientError.CLUSTER_AUTHORIZATION_FAILED, ClientError.TOPIC_AUTHORIZATION_FAILED}
K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
#: What :func:`_wait` gives for a key whose error it was told to tolerate.
_ABSENT: Final = object()


class UnmanagedAclError(KafkaError):
    """The broker holds ACL bindings the exchange's table cannot express (listed in :attr:`bindings`)."""

    def __init__(self, bindings: list[str]) -> None:
        self.bindings = bindings
        head = f"{len(bindings)} ACL binding(s) are not ALLOW/host '*' on a topic or group"
        super().__init__(f"{head}, so the registry cannot vouch for them; review: {'; '.join(bindings)}")


@dataclass(frozen=True, slots=True)
class AclDrift:
    """How the broker's ACLs differ from the expected ones: ``missing`` (expected, absent) and ``extra``."""

    missing: list[Acl]
    extra: list[Acl]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra


def acl_drift(expected: Iterable[Acl], actual: Iterable[Acl]) -> AclDrift:
    """Compare two ACL sets (pure; duplicates ignored, results sorted).

    >>> a = Acl("User:bank", "topic", "scam.submissions.bank", "literal", "WRITE")
    >>> acl_drift([a], []).missing == [a], acl_drift([], [a]).extra == [a], acl_drift([a], [a]).ok
    (True, True, True)
    """
    want, have = set(expected), set(actual)
    return AclDrift(missing=sorted(want - have), extra=sorted(have - want))


# --- waiting on futures --------------------------------------------------------------------------------


def _error_text(exc: BaseException) -> tuple[str, int | None]:
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(err, ClientError):  # a forwarded request refused says Request(...) in 2,000 characters
        text = "not authorised" if err.code() in _NOT_ALLOWED else err.str()
        return f"{text[:200]} ({err.name()})", err.code()
    return str(exc) or type(exc).__name__, None


def _wait(
    futures: Mapping[K, concurrent.futures.Future[Any]],
    doing: str,
    name: Callable[[K], str],
    timeout: float,
    *,
    tolerate: Callable[[int | None], bool] = lambda _code: False,
) -> dict[K, Any]:
    """Results by key; raises KafkaError naming each failure (errors ``tolerate`` accepts give _ABSENT)."""
    concurrent.futures.wait(futures.values(), timeout=timeout + _GRACE_S)
    results: dict[K, Any] = {}
    problems: list[str] = []
    codes: set[int | None] = set()
    for key, future in futures.items():
        if not future.done():
            problems.append(f"{name(key)}: no answer from the broker within {timeout:g}s")
            continue
        exc = future.exception()
        if exc is None:
            results[key] = future.result()
            continue
        text, code = _error_text(exc)
        if tolerate(code):
            results[key] = _ABSENT
        else:
            problems.append(f"{name(key)}: {text}")
            codes.add(code)
    if problems:
        hint = " (log in as a super user, e.g. the broker's admin)" if codes & _NOT_ALLOWED else ""
        raise KafkaError(f"could not {doing}{hint}: {'; '.join(problems)}")
    return results


def _call(what: str, request: Callable[[], T]) -> T:
    try:
        return request()
    except KafkaException as exc:
        raise KafkaError(f"could not {what}: {_error_text(exc)[0]}") from exc


# --- SCRAM users ---------------------------------------------------------------------------------------


def create_scram_user(
    admin: AdminClient, user: str, password: str | None = None, *, timeout: float = TIMEOUT_S
) -> str:
    """Create or reset ``user``'s SCRAM-SHA-512 credential (a strong random password if None); returns it."""
    if not user or password == "":
        raise ValueError(f"SCRAM user {user!r}: a name and a non-empty password are needed (None: generate)")
    secret = new_password() if password is None else password
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upsert = UserScramCredentialUpsertion(user, info, secret.encode())
    what = f"create SCRAM user {user}"
    futures = _call(what, lambda: admin.alter_user_scram_credentials([upsert], request_timeout=timeout))
    _wait(futures, what, str, timeout)
    logger.info("scram user=%s created or updated", user)
    return secret


def delete_scram_user(admin: AdminClient, user: str, *, timeout: float = TIMEOUT_S) -> bool:
    """Delete ``user``'s SCRAM-SHA-512 credential; False when it had none (idempotent).

    Connections already logged in stay open until they reconnect (Kafka checks a password only at login);
    removing the user's ACLs is what stops them at once.
    """
    deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
    what = f"delete SCRAM user {user}"
    futures = _call(what, lambda: admin.alter_user_scram_credentials([deletion], request_timeout=timeout))
    results = _wait(futures, what, str, timeout, tolerate=lambda code: code == ClientError.RESOURCE_NOT_FOUND)
    existed = results[user] is not _ABSENT
    logger.info("scram user=%s %s", user, "deleted" if existed else "had no credential")
    return existed


def scram_users(admin: AdminClient, *, timeout: float = TIMEOUT_S) -> set[str]:
    """Every user with a SCRAM credential (of any mechanism) on the broker."""
    what = "describe SCRAM users"
    future = _call(what, lambda: admin.describe_user_scram_credentials(request_timeout=timeout))
    result = _wait({"users": cast("concurrent.futures.Future[Any]", future)}, what, str, timeout)["users"]
    return set(cast("dict[str, Any]", result))


# --- ACLs ----------------------------------------------------------------------------------------------


def _fields(acl: Acl) -> tuple[Any, ...]:
    return (_RESOURCES[acl.resource], acl.name, _PATTERNS[acl.pattern], acl.principal, "*",
            AclOperation[acl.operation], AclPermissionType.ALLOW)  # fmt: skip


def to_binding(acl: Acl) -> AclBinding:
    """The confluent-kafka ALLOW binding (host ``*``) for ``acl``."""
    return AclBinding(*_fields(acl))


def _principal_filter(who: str | None) -> AclBindingFilter:
    """Every binding of ``who`` (of anyone when None)."""
    return AclBindingFilter(ResourceType.ANY, _ANY_STR, ResourcePatternType.ANY, who or _ANY_STR, _ANY_STR,
                            AclOperation.ANY, AclPermissionType.ANY)  # fmt: skip


def from_binding(binding: AclBinding) -> Acl | None:
    """The :class:`Acl` a broker binding is, or None when the table cannot express it."""
    kind = next((k for k, v in _RESOURCES.items() if v == binding.restype), None)
    pattern = next((k for k, v in _PATTERNS.items() if v == binding.resource_pattern_type), None)
    operation = _name(binding.operation)
    allow = binding.permission_type == AclPermissionType.ALLOW and binding.host == "*"
    if not allow or kind is None or pattern is None or operation not in _OPERATIONS:
        return None
    return Acl(binding.principal, kind, binding.name, pattern, operation)


def _name(value: Any) -> str:
    return str(getattr(value, "name", value))  # the stubs allow str | int; the client returns enums


def describe_binding(binding: AclBinding) -> str:
    """``User:x DENY WRITE TOPIC:name (LITERAL) host=10.0.0.1``: a broker binding in one line."""
    b = binding
    return (f"{b.principal} {_name(b.permission_type)} {_name(b.operation)} {_name(b.restype)}:{b.name} "
            f"({_name(b.resource_pattern_type)}) host={b.host}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class AclListing:
    """The broker's bindings: those the table can express, and the others described in one line each."""

    acls: set[Acl]
    unmanaged: list[str]


def describe_acls(
    admin: AdminClient, principals: Iterable[str] | None = None, *, timeout: float = TIMEOUT_S
) -> AclListing:
    """Every binding on the broker (of ``principals``, e.g. ``User:bank``, when given), split in two."""
    wanted = None if principals is None else set(principals)
    _require_describe(admin, timeout)
    filt = _principal_filter(next(iter(wanted)) if wanted is not None and len(wanted) == 1 else None)
    future = _call("describe ACLs", lambda: admin.describe_acls(filt, request_timeout=timeout))
    bindings = cast("list[AclBinding]", _wait({"acls": future}, "describe ACLs", str, timeout)["acls"])
    acls: set[Acl] = set()
    unmanaged: list[str] = []
    for binding in bindings:
        if wanted is not None and binding.principal not in wanted:
            continue
        acl = from_binding(binding)
        if acl is None:
            unmanaged.append(describe_binding(binding))
        else:
            acls.add(acl)
    return AclListing(acls, sorted(unmanaged))


def _require_describe(admin: AdminClient, timeout: float) -> None:
    """Refuse to list ACLs for a client that may not: it gets an empty list, not an error (Kafka 4.4 with
    confluent-kafka 2.16), which would read as "every ACL is missing"."""
    what = "describe the cluster"
    ask = functools.partial(
        admin.describe_cluster, include_authorized_operations=True, request_timeout=timeout
    )
    ops = _wait({what: _call(what, ask)}, what, str, timeout)[what].authorized_operations or []
    if not {AclOperation.DESCRIBE, AclOperation.ALL} & set(ops):
        raise KafkaError("this client may not describe the cluster's ACLs: log in as a super user (admin)")


def current_acls(
    admin: AdminClient, principals: Iterable[str] | None = None, *, timeout: float = TIMEOUT_S
) -> set[Acl]:
    """The broker's ACLs (of ``principals`` when given) as :class:`Acl`.

    Raises :class:`UnmanagedAclError` when any binding is not an ALLOW with host ``*`` on a topic or group
    (compare :func:`describe_acls`, which returns them instead).
    """
    listing = describe_acls(admin, principals, timeout=timeout)
    if listing.unmanaged:
        raise UnmanagedAclError(listing.unmanaged)
    return listing.acls


def create_acls(admin: AdminClient, acls: Iterable[Acl], *, timeout: float = TIMEOUT_S) -> None:
    """Create ``acls`` (idempotent: an existing binding is left as it is)."""
    wanted = {to_binding(acl): acl for acl in sorted(set(acls))}
    if not wanted:
        return
    futures = _call("create ACLs", lambda: admin.create_acls(list(wanted), request_timeout=timeout))
    _wait(futures, "create ACLs", lambda b: str(wanted[b]), timeout)
    logger.info("acls created count=%d", len(wanted))


def delete_acls(admin: AdminClient, acls: Iterable[Acl], *, timeout: float = TIMEOUT_S) -> list[Acl]:
    """Delete exactly these bindings; returns those that existed (deleting an absent one is no error)."""
    wanted = {_exact_filter(acl): acl for acl in sorted(set(acls))}
    if not wanted:
        return []
    futures = _call("delete ACLs", lambda: admin.delete_acls(list(wanted), request_timeout=timeout))
    results = _wait(futures, "delete ACLs", lambda f: str(wanted[f]), timeout)
    deleted = sorted(wanted[f] for f, matched in results.items() if matched)
    logger.info("acls deleted count=%d of %d", len(deleted), len(wanted))
    return deleted


def _exact_filter(acl: Acl) -> AclBindingFilter:
    return AclBindingFilter(*_fields(acl))


def _delete_principal(admin: AdminClient, who: str, timeout: float) -> list[str]:
    """Delete every binding of ``who`` (any resource, operation or permission); returns them described."""
    filt = _principal_filter(who)
    what = f"delete the ACLs of {who}"
    futures = _call(what, lambda: admin.delete_acls([filt], request_timeout=timeout))
    matched = _wait(futures, what, lambda _f: who, timeout)[filt]
    return sorted(describe_binding(b) for b in matched or [])


# --- organisations and service users --------------------------------------------------------------------


def provision_org(
    admin: AdminClient,
    settings: Settings,
    org: Organisation,
    subscriptions: Iterable[Subscription],
    password: str | None = None,
    *,
    timeout: float = TIMEOUT_S,
) -> str | None:
    """Give ``org`` its input topics, its SCRAM user and its ACLs; returns its password (None for mTLS).

    Topics: ``scam.submissions.<org>`` for a producer, ``scam.sightings.<org>`` for a subscriber, with the
    partitions and retention of the shared topic (existing ones are kept). Feed topics are the pipeline's
    to create. Idempotent, except that each call sets a new password unless ``password`` is given.
    """
    if org.auth != "scram" and password is not None:
        raise ValueError(f"{org.id} authenticates with {org.auth}: it has no SCRAM password")
    topics = settings.topics
    names = own_topics(org, topics)
    ensure_topics(admin, [input_topic_spec(settings, name) for name in names], timeout=timeout)
    secret = create_scram_user(admin, org.id, password, timeout=timeout) if org.auth == "scram" else None
    create_acls(admin, table.org_acls(org, subscriptions, topics), timeout=timeout)
    logger.info("org=%s provisioned topics=%s auth=%s", org.id, ",".join(names), org.auth)
    return secret


def deprovision_org(
    admin: AdminClient, settings: Settings, org_id: str, acls: Iterable[Acl], *, timeout: float = TIMEOUT_S
) -> list[str]:
    """Take ``org_id``'s access away: delete ``acls`` (its table), any other binding of ``User:<org>`` and
    its SCRAM user. Its topics are kept (their data may still be processed). Returns what was deleted."""
    if org_id in (settings.pipeline_user, settings.exporter_user, settings.gateway_user):
        raise ValueError(f"{org_id!r} is a service user of the exchange, not an organisation")
    who = table.principal(org_id)
    own = list(acls)
    foreign = sorted(str(acl) for acl in own if acl.principal != who)
    if foreign:
        raise ValueError(f"ACLs of another principal given to deprovision {org_id}: {'; '.join(foreign)}")
    deleted = [str(acl) for acl in delete_acls(admin, own, timeout=timeout)]
    deleted += _delete_principal(admin, who, timeout)  # what drifted in besides the table
    if delete_scram_user(admin, org_id, timeout=timeout):
        deleted.append(f"SCRAM user {org_id}")
    logger.info("org=%s deprovisioned deleted=%d", org_id, len(deleted))
    return deleted


def provision_service_users(
    admin: AdminClient, settings: Settings, *, timeout: float = TIMEOUT_S
) -> dict[str, str]:
    """Create the pipeline's, the exporter's and the gateway's SCRAM users and ACLs; ``{user: password}``."""
    topics = settings.topics
    users = {
        settings.pipeline_user: table.pipeline_acls(settings.pipeline_user, topics, settings.app_id),
        settings.exporter_user: table.exporter_acls(settings.exporter_user, topics),
        settings.gateway_user: table.gateway_acls(settings.gateway_user, topics),
    }
    passwords = {user: create_scram_user(admin, user, timeout=timeout) for user in users}
    create_acls(admin, [acl for acls in users.values() for acl in acls], timeout=timeout)
    return passwords
