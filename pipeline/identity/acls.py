"""The Kafka ACLs the exchange runs on: what each principal may do, computed from the registry. Pure.

Deny by default (``allow.everyone.if.no.acl.found=false``); everything below is an ALLOW. A topic that
carries an organisation's name is matched LITERALLY (a PREFIXED ACL on ``scam.submissions.bank`` would also
match ``scam.submissions.bank-sg``). Group prefixes end in ``.`` and organisation ids contain none
(:mod:`pipeline.state.org`), so ``bank.`` cannot match another organisation's groups.

=====================  ==================================================  =================================
principal              resource (pattern)                                  operations
=====================  ==================================================  =================================
``User:<org>``         topic ``scam.submissions.<org>`` (literal)          WRITE, DESCRIBE  (producer role)
``User:<org>``         topic ``scam.sightings.<org>`` (literal)            WRITE, DESCRIBE  (subscriber)
``User:<org>``         topic ``<feed of each of its subscriptions>`` (lit.) READ, DESCRIBE  (subscriber)
``User:<org>``         group ``<org>.`` (prefixed)                          READ            (subscriber)
pipeline               topic ``scam.submissions`` (prefixed)               READ, DESCRIBE
pipeline               topic ``scam.sightings`` (prefixed)                 READ, DESCRIBE
pipeline               topic ``scam.indicators`` (literal)                 READ, WRITE, DESCRIBE
pipeline               topic ``scam.dlq`` (literal)                        WRITE, DESCRIBE
pipeline               topic ``scam.feed.`` (prefixed)                     WRITE, DESCRIBE, CREATE
pipeline               topic ``<app_id>-`` (prefixed; faust's own topics)  ALL
pipeline               group ``<app_id>`` (literal; the processors' group) READ
exporter               topic ``scam.`` (prefixed)                          DESCRIBE
exporter               topic ``scam.feed.`` (prefixed)                     READ (time lag from timestamps)
exporter               group ``*`` (literal wildcard)                      DESCRIBE
exporter               topic ``scam.submissions.scamshare-canary`` (lit.)  WRITE, CREATE (the canary)
exporter               topic ``scam.feed.scamshare-canary`` (literal)      CREATE        (the canary)
exporter               group ``scamshare-canary.`` (prefixed)              READ          (the canary)
gateway                topic ``scam.submissions.`` (prefixed)              WRITE, DESCRIBE
gateway                topic ``scam.sightings.`` (prefixed)                WRITE, DESCRIBE
=====================  ==================================================  =================================

The gateway writes on behalf of whichever organisation a request authenticated as (its API key or client
certificate), to that organisation's own topics, so it holds WRITE on every one of them; it reads no topic
and uses no group. Its prefixes end in ``.``, so they match the per-organisation topics but not the shared
``scam.submissions`` / ``scam.sightings``. Its producer is idempotent; since Kafka 2.8 (KIP-679) that needs
only WRITE on the topic, no IdempotentWrite on the cluster (as for the organisations' producers).

No organisation may create topics, read ``scam.submissions*``, ``scam.indicators`` (which holds RED values
and who reported them) or another's feed, or write ``scam.indicators``, a feed or the DLQ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pipeline.config import Topics
from pipeline.state.org import Organisation
from pipeline.state.subscription import Subscription

ResourceKind = Literal["topic", "group"]
PatternKind = Literal["literal", "prefixed"]
Operation = Literal["ALL", "READ", "WRITE", "DESCRIBE", "CREATE"]


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """One ALLOW binding: principal may do operation on the resource (any host)."""

    principal: str
    resource: ResourceKind
    name: str
    pattern: PatternKind
    operation: Operation

    def __str__(self) -> str:
        return f"{self.principal} {self.operation} {self.resource}:{self.name} ({self.pattern})"


def principal(user: str) -> str:
    return f"User:{user}"


def group_prefix(org_id: str) -> str:
    """The consumer-group prefix an organisation may use: ``<org>.``."""
    return f"{org_id}."


def reader_group(org_id: str, subscription_id: str) -> str:
    """The consumer group a subscription's reader uses by default: ``<org>.sub.<subscription>``."""
    return f"{group_prefix(org_id)}sub.{subscription_id}"


def _many(who: str, resource: ResourceKind, name: str, pattern: PatternKind, *ops: Operation) -> list[Acl]:
    return [Acl(who, resource, name, pattern, op) for op in ops]


def org_acls(org: Organisation, subscriptions: Iterable[Subscription], topics: Topics) -> list[Acl]:
    """What one organisation's user may do: write its own input topics, read its own feeds."""
    who = principal(org.id)
    out: list[Acl] = []
    if org.produces:
        out += _many(who, "topic", topics.submissions_of(org.id), "literal", "WRITE", "DESCRIBE")
    if org.subscribes:
        out += _many(who, "topic", topics.sightings_of(org.id), "literal", "WRITE", "DESCRIBE")
        for sub in subscriptions:
            if sub.organisation == org.id:
                out += _many(who, "topic", sub.topic(topics.prefix), "literal", "READ", "DESCRIBE")
        out += _many(who, "group", group_prefix(org.id), "prefixed", "READ")
    return sorted(set(out))


def pipeline_acls(user: str, topics: Topics, app_id: str) -> list[Acl]:
    """What the worker's own user may do (the only writer of scam.indicators, the feeds and the DLQ)."""
    who = principal(user)
    out = [
        *_many(who, "topic", topics.submissions, "prefixed", "READ", "DESCRIBE"),
        *_many(who, "topic", topics.sightings, "prefixed", "READ", "DESCRIBE"),
        *_many(who, "topic", topics.indicators, "literal", "READ", "WRITE", "DESCRIBE"),
        *_many(who, "topic", topics.dlq, "literal", "WRITE", "DESCRIBE"),
        *_many(who, "topic", topics.feed(""), "prefixed", "WRITE", "DESCRIBE", "CREATE"),
        # faust's own topics (the leader-election topic <app_id>-__assignor-__leader) and its group.
        *_many(who, "topic", f"{app_id}-", "prefixed", "ALL"),
        *_many(who, "group", app_id, "literal", "READ"),
    ]
    return sorted(set(out))


#: The organisation the exporter's end-to-end canary speaks for (pipeline/ops/canary.py).
CANARY_ORG = "scamshare-canary"


def exporter_acls(user: str, topics: Topics, canary_org: str = CANARY_ORG) -> list[Acl]:
    """What the lag exporter's user may do: describe topics and groups, read feed timestamps, and run the
    canary (write the canary organisation's submissions topic, read its feed in its group prefix)."""
    who = principal(user)
    canary_in, canary_feed = topics.submissions_of(canary_org), topics.feed(canary_org)
    out = [
        *_many(who, "topic", topics.prefix, "prefixed", "DESCRIBE"),
        *_many(who, "topic", topics.feed(""), "prefixed", "READ"),
        *_many(who, "group", "*", "literal", "DESCRIBE"),
        *_many(who, "topic", canary_in, "literal", "WRITE", "CREATE"),
        *_many(who, "topic", canary_feed, "literal", "CREATE"),
        *_many(who, "group", group_prefix(canary_org), "prefixed", "READ"),
    ]
    return sorted(set(out))


def gateway_acls(user: str, topics: Topics) -> list[Acl]:
    """What the HTTP gateway's user may do: write (only) every organisation's own input topics,
    ``scam.submissions.<org>`` and ``scam.sightings.<org>``; it never consumes."""
    who = principal(user)
    out = [
        *_many(who, "topic", topics.submissions_of(""), "prefixed", "WRITE", "DESCRIBE"),
        *_many(who, "topic", topics.sightings_of(""), "prefixed", "WRITE", "DESCRIBE"),
    ]
    return sorted(set(out))


def registry_acls(
    orgs: Iterable[Organisation],
    subscriptions: Iterable[Subscription],
    topics: Topics,
    *,
    app_id: str,
    pipeline_user: str,
    exporter_user: str,
    gateway_user: str,
) -> list[Acl]:
    """Every ACL the exchange needs for this registry, sorted (what `orgs check` compares with the broker)."""
    subs = list(subscriptions)
    out = set(pipeline_acls(pipeline_user, topics, app_id)) | set(exporter_acls(exporter_user, topics))
    out |= set(gateway_acls(gateway_user, topics))
    for org in orgs:
        if org.id != CANARY_ORG:  # the canary speaks through the exporter's user (exporter_acls)
            out |= set(org_acls(org, subs, topics))
    return sorted(out)
