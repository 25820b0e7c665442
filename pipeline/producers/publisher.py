"""The producer SDK: publish reports to the organisation's ``scam.submissions.<org>`` with confluent-kafka.

One report (one Indicator) per message, wrapped in the submission envelope (:mod:`pipeline.wire.envelope`),
keyed by the report's deterministic indicator id so every report of one indicator lands on one partition::

    from pipeline.canon import canonicalize
    from pipeline.producers import Publisher

    with Publisher(settings, producer_id="telco-au") as pub:         # flushes on exit
        pub.publish(canonicalize("phone", "0412 345 678", country="AU"), tlp=TLP.AMBER,
                    scam_types=["investment"])
    # raises DeliveryError here if the broker did not acknowledge every message

The producer is idempotent with ``acks=all`` (:func:`pipeline.kafka.clients.build_producer`): a retry never
duplicates a message. Across runs, the ``submission_id`` is the idempotency key the pipeline dedups on:
pass the same one when re-sending the same report (the CLI derives it from the file content). Sends are
asynchronous; delivery reports are counted in :attr:`Publisher.report` and passed to ``on_delivery``.
Not thread-safe: use one Publisher per thread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pipeline.canon import Canonical
from pipeline.config import Settings
from pipeline.errors import ConfigError, DeliveryError
from pipeline.identity.channel import speaking_for
from pipeline.kafka.clients import (
    DeliveryFailure,
    DeliveryTracker,
    build_producer,
    decode_key,
    describe_error,
    produce,
)
from pipeline.producers.records import ReportInput, bundle_options
from pipeline.stix.build import dumps, report_bundle
from pipeline.stix.times import epoch_ms
from pipeline.stix.tlp import TLP
from pipeline.wire.envelope import SUBMISSION_CONTENT_TYPE, make_submission
from pipeline.wire.fields import PRODUCER_ID_RE, PRODUCER_ID_RULE
from pipeline.wire.headers import HEADER_CONTENT_TYPE, HEADER_PRODUCER, HEADER_SCHEMA, HEADER_SUBMITTED_MS

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = b"1"
#: Failure descriptions kept in a DeliveryReport; the counts are always exact.
MAX_FAILURES_KEPT: Final = 1000

Headers = Sequence[tuple[str, bytes]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _failure_line(failure: DeliveryFailure) -> str:
    return f"key={failure.key} submission={failure.label}: {failure.error}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one message: where it landed, or why it failed (``error`` set)."""

    key: str | None
    submission_id: str | None
    topic: str
    partition: int | None
    offset: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class DeliveryReport:
    """Counts of acknowledged and failed messages, and why each failure happened (up to 1,000 kept).

    ``pending`` is what was still unacknowledged when :meth:`Publisher.flush` gave up waiting.
    """

    delivered: int = 0
    failed: int = 0
    pending: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when everything sent so far was acknowledged."""
        return self.failed == 0 and self.pending == 0

    def problems(self) -> list[str]:
        """Failure descriptions plus a line for messages still pending (for :class:`DeliveryError`)."""
        out = list(self.failures)
        if self.failed > len(self.failures):
            out.append(f"... and {self.failed - len(self.failures)} more failure(s)")
        if self.pending:
            out.append(f"{self.pending} message(s) not acknowledged in time (is the broker reachable?)")
        return out


@dataclass(frozen=True, slots=True)
class Submission:
    """One ready-to-send submission message: key, value (envelope JSON), headers, and its bundle."""

    key: str
    value: bytes
    headers: list[tuple[str, bytes]]
    submission_id: str
    bundle: dict[str, Any]


def build_submission(
    canonical: Canonical,
    *,
    producer: str,
    now: datetime,
    submission_id: str | None = None,
    report: ReportInput | None = None,
    default_tlp: TLP = TLP.GREEN,
    **bundle_kwargs: Any,
) -> Submission:
    """The message for one report (pure apart from a fresh uuid4 when no ``submission_id`` is given).

    Bundle fields come from ``report`` (see :func:`pipeline.producers.records.bundle_options`) and are
    overridden by ``bundle_kwargs`` (``tlp``, ``confidence``, ``scam_types``, ``description``,
    ``valid_from``, ``country_hint``, ``raw_value``, ``revoked``) of
    :func:`pipeline.stix.build.report_bundle`.
    """
    options: dict[str, Any] = bundle_options(report, default_tlp=default_tlp) if report is not None else {}
    options.update(bundle_kwargs)
    options.setdefault("tlp", default_tlp)
    bundle = report_bundle(canonical, producer=producer, now=now, **options)
    sid = submission_id or str(uuid.uuid4())
    envelope = make_submission(bundle, producer=producer, submission_id=sid, submitted_at=now)
    headers = [
        (HEADER_PRODUCER, producer.encode()),
        (HEADER_CONTENT_TYPE, SUBMISSION_CONTENT_TYPE.encode()),
        (HEADER_SCHEMA, SCHEMA_VERSION),
        (HEADER_SUBMITTED_MS, str(epoch_ms(now)).encode()),
    ]
    return Submission(canonical.indicator_id, dumps(envelope), headers, sid, bundle)


def check_producer_id(producer_id: str) -> str:
    """The producer id if the pipeline will accept it (1-64 of a-z 0-9 . _ -); ConfigError otherwise."""
    if not PRODUCER_ID_RE.match(producer_id):
        raise ConfigError(f"producer id {producer_id!r} is invalid: use {PRODUCER_ID_RULE}")
    return producer_id


class Publisher:
    """Publishes reports to the organisation's own submissions topic; see the module docstring for an example.

    ``producer`` replaces the client built from ``settings`` (e.g. one shared by several publishers);
    ``kafka_overrides`` are librdkafka options for :func:`pipeline.kafka.clients.build_producer`
    (``{"message.timeout.ms": 30000}``). Constructing a Publisher performs no network I/O.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        producer_id: str | None = None,
        now: Callable[[], datetime] = _utc_now,
        on_delivery: Callable[[Delivery], None] | None = None,
        default_tlp: TLP = TLP.GREEN,
        producer: Producer | None = None,
        flush_timeout: float = 30.0,
        kafka_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.producer_id = check_producer_id(speaking_for(settings, producer_id))
        # The organisation's own topic: on Apache Kafka only its user may write it, and the pipeline takes
        # the reporter from the topic, never from the message.
        self.topic = settings.topics.submissions_of(self.producer_id)
        self._tracker = DeliveryTracker(keep=MAX_FAILURES_KEPT)
        self._pending = 0
        self._now = now
        self._on_delivery = on_delivery
        self._default_tlp = default_tlp
        self._flush_timeout = flush_timeout
        self._producer = (
            producer if producer is not None else build_producer(settings, **dict(kafka_overrides or {}))
        )

    # --- sending ------------------------------------------------------------------------------------

    def publish(
        self,
        canonical: Canonical,
        report: ReportInput | None = None,
        *,
        submission_id: str | None = None,
        **bundle_kwargs: Any,
    ) -> Submission:
        """Send one report of ``canonical`` (asynchronously; see :meth:`flush`); returns the message sent.

        Report fields come from ``report`` and/or keyword arguments of
        :func:`pipeline.stix.build.report_bundle` (``tlp=TLP.AMBER, confidence=80, scam_types=[...]``).
        ``submission_id`` defaults to a fresh uuid4; re-sending a report should reuse its id.
        """
        message = build_submission(
            canonical,
            producer=self.producer_id,
            now=self._now(),
            submission_id=submission_id,
            report=report,
            default_tlp=self._default_tlp,
            **bundle_kwargs,
        )
        self.send(message)
        return message

    def send(self, submission: Submission) -> None:
        """Send a message made by :func:`build_submission` (asynchronously; see :meth:`flush`)."""
        self._send(submission.key.encode(), submission.value, submission.headers, submission.submission_id)

    def publish_raw(
        self, key: bytes | str | None, value: bytes | None, headers: Headers | None = None
    ) -> None:
        """Send arbitrary bytes to the submissions topic (tests, fuzzing the validate stage)."""
        raw_key = key.encode() if isinstance(key, str) else key
        self._send(raw_key, value, list(headers or []), None)

    def _send(
        self, key: bytes | None, value: bytes | None, headers: Headers, submission_id: str | None
    ) -> None:
        try:
            produce(
                self._producer,
                self.topic,
                key,
                value,
                headers=headers,
                on_delivery=self._callback(submission_id),
                wait_s=0.1,
            )
        except KafkaException as exc:
            # Refused before it left (e.g. larger than message.max.bytes): a failed delivery, not a crash.
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            reason = describe_error(err) if err is not None else str(exc)
            self._failed(self._tracker.fail(self.topic, key, reason, label=submission_id))

    def _callback(self, submission_id: str | None) -> Callable[[KafkaError | None, Message[Any, Any]], None]:
        def on_delivery(err: KafkaError | None, msg: Message[Any, Any]) -> None:
            failure = self._tracker.record(err, msg, label=submission_id)
            if failure is not None:
                self._failed(failure)
            elif self._on_delivery is not None:
                key = decode_key(msg.key())
                topic = msg.topic() or self.topic
                self._on_delivery(Delivery(key, submission_id, topic, msg.partition(), msg.offset(), None))

        return on_delivery

    def _failed(self, failure: DeliveryFailure) -> None:
        logger.warning("delivery failed topic=%s key=%s error=%s", self.topic, failure.key, failure.error)
        if self._on_delivery is not None:
            self._on_delivery(Delivery(failure.key, failure.label, self.topic, None, None, failure.error))

    # --- delivery -----------------------------------------------------------------------------------

    @property
    def report(self) -> DeliveryReport:
        """The counts so far (a snapshot): acknowledged, failed, and pending at the last :meth:`flush`."""
        return DeliveryReport(
            delivered=self._tracker.delivered,
            failed=self._tracker.failed,
            pending=self._pending,
            failures=[_failure_line(f) for f in self._tracker.failures],
        )

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports that have arrived; returns how many callbacks ran."""
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float | None = None) -> DeliveryReport:
        """Wait up to ``timeout`` seconds (default: the constructor's ``flush_timeout``) for every message
        to be acknowledged or fail, and return the counts so far. Does not raise."""
        self._pending = int(self._producer.flush(self._flush_timeout if timeout is None else timeout))
        return self.report

    def raise_for_failures(self) -> None:
        """Raise DeliveryError if any message failed or is still unacknowledged."""
        report = self.report
        if not report.ok:
            raise DeliveryError(report.problems())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.flush()
        if exc_type is None:
            self.raise_for_failures()
