"""The producer SDK and ``scamshare publish`` against a real broker: what was sent is what is read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from pipeline.canon import Canonical, canonicalize
from pipeline.cli.context import CliContext
from pipeline.cli.publish import publish
from pipeline.config import Settings
from pipeline.dev.proc import free_port
from pipeline.errors import DeliveryError
from pipeline.kafka.clients import build_admin
from pipeline.kafka.read import Record, read_to_end
from pipeline.kafka.topics import ensure_topics, input_topic_spec
from pipeline.processors.validate import validate_submission
from pipeline.producers import Delivery, Publisher, file_submission_id, report_from_fields
from pipeline.producers.readers import load_source
from pipeline.producers.records import ReportInput
from pipeline.stix.times import epoch_ms
from pipeline.stix.tlp import TLP
from pipeline.wire.envelope import SUBMISSION_CONTENT_TYPE
from pipeline.wire.headers import HEADER_CONTENT_TYPE, HEADER_PRODUCER, HEADER_SCHEMA, HEADER_SUBMITTED_MS
from pipeline.wire.limits import Limits

DATA = Path(__file__).parents[1] / "unit" / "producers" / "data"
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class StepClock:
    """A deterministic clock: each call is one second later than the previous one."""

    def __init__(self, start: datetime) -> None:
        self.next = start
        self.calls: list[datetime] = []

    def __call__(self) -> datetime:
        now, self.next = self.next, self.next + timedelta(seconds=1)
        self.calls.append(now)
        return now


def _canonical(kind: str, value: str, country: str | None = None) -> Canonical:
    c = canonicalize(kind, value, country=country)
    assert isinstance(c, Canonical), c
    return c


@pytest.fixture
def submissions(settings: Settings) -> str:
    """The producers' own submissions topics, created explicitly with the settings' partition count."""
    names = [settings.topics.submissions_of(org) for org in ("telco-au", "fuzzer")]
    ensure_topics(build_admin(settings), [input_topic_spec(settings, n) for n in names])
    return names[0]


def _read(settings: Settings, count: int, timeout: float = 20.0, org: str = "telco-au") -> list[Record]:
    records = read_to_end(settings, settings.topics.submissions_of(org), timeout_s=timeout)
    assert len(records) == count, f"read {len(records)} of {count} messages"
    return records


@pytest.mark.integration
def test_publish_and_read_back(settings: Settings, submissions: str) -> None:
    clock = StepClock(START)
    deliveries: list[Delivery] = []
    phone = _canonical("phone", "0412 345 678", "AU")
    domain = _canonical("domain", "paypa1-secure.com")
    report = report_from_fields(
        {
            "type": "phone",
            "value": "0412 345 678",
            "country": "AU",
            "tlp": "amber",
            "scam_type": "investment",
        },
        source="t:1",
    )
    assert isinstance(report, ReportInput)
    sent = {
        "11111111-1111-4111-8111-111111111111": phone,
        "22222222-2222-4222-8222-222222222222": domain,
        "33333333-3333-4333-8333-333333333333": phone,  # a second report of the same indicator
    }
    sids = list(sent)
    with Publisher(settings, producer_id="telco-au", now=clock, on_delivery=deliveries.append) as pub:
        pub.publish(phone, report, submission_id=sids[0])
        pub.publish(domain, submission_id=sids[1], tlp=TLP.RED, confidence=90, scam_types=["phishing"])
        pub.publish(phone, report, submission_id=sids[2])
    assert (pub.report.delivered, pub.report.failed, pub.report.pending) == (3, 0, 0)
    assert sorted(d.submission_id or "" for d in deliveries) == sids
    # Each organisation writes its own topic (on Apache Kafka the only one its user may write).
    assert all(d.ok and d.topic == submissions and d.offset is not None for d in deliveries)

    messages = _read(settings, 3)
    by_sid: dict[str, Record] = {}
    for msg in messages:
        headers = msg.header_map()
        assert headers[HEADER_PRODUCER] == b"telco-au"
        assert headers[HEADER_CONTENT_TYPE] == SUBMISSION_CONTENT_TYPE.encode()
        assert headers[HEADER_SCHEMA] == b"1"
        value = msg.value
        assert isinstance(value, bytes)
        envelope = orjson.loads(value)
        by_sid[envelope["submission_id"]] = msg
        assert int(headers[HEADER_SUBMITTED_MS]) in {epoch_ms(t) for t in clock.calls}
        reports = validate_submission(value, Limits(), header_producer="telco-au")
        assert isinstance(reports, list), reports
        (accepted,) = reports
        assert msg.key == accepted.indicator_id.encode()
        assert accepted.canonical == sent[envelope["submission_id"]]
    assert set(by_sid) == set(sids)
    # One indicator, one partition: both reports of the phone number landed together.
    assert by_sid[sids[0]].partition == by_sid[sids[2]].partition
    domain_report = validate_submission(by_sid[sids[1]].value or b"", Limits())
    assert isinstance(domain_report, list)
    assert (domain_report[0].tlp, domain_report[0].confidence) == (TLP.RED, 90)


@pytest.mark.integration
def test_publish_raw_sends_the_bytes_as_given(settings: Settings, submissions: str) -> None:
    with Publisher(settings, producer_id="fuzzer") as pub:
        pub.publish_raw("k", b"\x00not json", [(HEADER_PRODUCER, b"fuzzer")])
        pub.publish_raw(None, None)
    assert pub.report.delivered == 2
    messages = sorted(_read(settings, 2, org="fuzzer"), key=lambda m: m.key or b"")
    assert [(m.key, m.value) for m in messages] == [(None, None), (b"k", b"\x00not json")]
    assert messages[1].headers == ((HEADER_PRODUCER, b"fuzzer"),)


@pytest.mark.integration
def test_cli_publish_uses_deterministic_submission_ids(
    settings: Settings, submissions: str, tmp_path: Path
) -> None:
    path = str(DATA / "reports.csv")
    obj = CliContext(Settings(state_dir=tmp_path, topic_prefix=settings.topic_prefix))
    args = [path, "--producer", "telco-au", "--bootstrap", settings.bootstrap or "", "--json"]
    for _ in range(2):  # publishing the same file twice sends the same submission ids
        result = CliRunner().invoke(publish, args, obj=obj)
        assert result.exit_code == 0, result.output
        summary = orjson.loads(result.stdout)
        assert (summary["published"], summary["failed"], summary["topic"]) == (
            7,
            0,
            submissions,
        )

    sha = load_source(path).sha256
    expected = [file_submission_id("telco-au", sha, str(line)) for line in range(2, 9)]
    seen = [orjson.loads(m.value or b"")["submission_id"] for m in _read(settings, 14)]
    assert sorted(seen) == sorted(expected * 2)


def test_undeliverable_messages_are_reported_and_raise() -> None:
    # A closed port: librdkafka retries until message.timeout.ms, then reports the failure.
    settings = Settings(bootstrap=f"127.0.0.1:{free_port()}", topic_prefix="nowhere.")
    deliveries: list[Delivery] = []
    pub = Publisher(
        settings,
        producer_id="telco-au",
        on_delivery=deliveries.append,
        kafka_overrides={"message.timeout.ms": 1000, "message.max.bytes": 10_000},
        flush_timeout=10,
    )

    def send_two() -> None:
        with pub:  # flushes on exit and raises when anything failed
            pub.publish(
                _canonical("domain", "example.com"), submission_id="44444444-4444-4444-8444-444444444444"
            )
            pub.publish_raw("big", b"x" * 20_000)  # refused locally: larger than message.max.bytes

    with pytest.raises(DeliveryError) as err:
        send_two()
    assert (pub.report.delivered, pub.report.failed, pub.report.pending) == (0, 2, 0)
    assert len(err.value.failures) == 2
    assert any(
        "submission=44444444-4444-4444-8444-444444444444" in f and "timed out" in f
        for f in err.value.failures
    )
    assert any("key=big" in f and "MSG_SIZE_TOO_LARGE" in f for f in err.value.failures)
    assert sorted(d.error is not None for d in deliveries) == [True, True]
