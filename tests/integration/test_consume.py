"""``scamshare consume``, the consumer SDK (commit after the handler, revocations, resume after a restart)
and ``scamshare sighting report``, against a real broker. Feed messages are written directly (no worker)."""

from __future__ import annotations

import json

import orjson
import pytest
from click.testing import CliRunner

from pipeline.cli.consume import consume
from pipeline.cli.context import CliContext
from pipeline.cli.sighting import sighting
from pipeline.config import Settings
from pipeline.kafka.clients import build_admin
from pipeline.kafka.read import read_to_end
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.subscribers.consumer import FeedConsumer, FeedItem
from pipeline.wire.sighting import ParsedSighting, parse_sighting

from .helpers import canon, enrol, produce_feed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PHONES = [canon("phone", f"+66 81 234 56{n:02d}") for n in range(5)]


def fill(settings: Settings, sub_id: str = "telco") -> None:
    items = [(c, 1, False) for c in PHONES] + [(PHONES[0], 2, True)]
    # One partition keeps the order of the assertions below simple.
    produce_feed(settings.model_copy(update={"partitions": 1}), settings.topics.feed(sub_id), items)


def test_consume_cli_json_and_text(settings: Settings) -> None:
    fill(settings)
    runner = CliRunner()
    args = ["--subscriber", "telco", "--from-beginning", "--max-messages", "6", "--no-commit"]
    result = runner.invoke(consume, [*args, "--json"], obj=CliContext(settings))
    assert result.exit_code == 0, result.output
    bundles = [json.loads(line) for line in result.stdout.splitlines()]
    assert [b["type"] for b in bundles] == ["bundle"] * 6
    indicators = [next(o for o in b["objects"] if o["type"] == "indicator") for b in bundles]
    assert [i["id"] for i in indicators] == [c.indicator_id for c in PHONES] + [PHONES[0].indicator_id]
    assert [i.get("revoked", False) for i in indicators] == [False] * 5 + [True]

    text = runner.invoke(consume, args, obj=CliContext(settings))
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert len(lines) == 6
    assert "REVOKED" in lines[5] and "+66812345600" in lines[5]
    assert "6 message(s)" in text.stderr


def test_consume_cli_commits_so_the_next_run_shows_only_new(settings: Settings) -> None:
    fill(settings)
    obj = CliContext(settings)
    first = CliRunner().invoke(consume, ["--subscriber", "telco", "--max-messages", "6", "--json"], obj=obj)
    assert len(first.stdout.splitlines()) == 6
    produce_feed(settings.model_copy(update={"partitions": 1}), settings.topics.feed("telco"),
                 [(PHONES[1], 2, True)])  # fmt: skip
    second = CliRunner().invoke(consume, ["--subscriber", "telco", "--max-messages", "1", "--json"], obj=obj)
    [line] = second.stdout.splitlines()
    assert PHONES[1].indicator_id.encode() in line.encode()


class HandlerFailedError(RuntimeError):
    pass


def test_sdk_commits_after_handler_and_resumes(settings: Settings) -> None:
    fill(settings)
    seen: list[tuple[str, int]] = []
    revoked: list[str] = []

    def failing_on_third(item: FeedItem) -> None:
        if len(seen) == 2:
            raise HandlerFailedError("the bank's database is down")
        seen.append((item.observable_value, item.version))

    with FeedConsumer(settings, "telco") as feed, pytest.raises(HandlerFailedError):
        feed.run(failing_on_third, idle_timeout_s=5)
    assert seen == [("+66812345600", 1), ("+66812345601", 1)]

    # A restart resumes at the item whose handler failed: nothing lost, nothing handled twice.
    def handler(item: FeedItem) -> None:
        seen.append((item.observable_value, item.version))

    with FeedConsumer(settings, "telco") as feed:
        handled = feed.run(handler, on_revoked=lambda i: revoked.append(i.indicator_id), max_messages=4)
    assert handled == 4
    assert seen == [(f"+668123456{n:02d}", 1) for n in range(5)]
    assert revoked == [PHONES[0].indicator_id]

    with FeedConsumer(settings, "telco") as feed:
        assert feed.run(handler, idle_timeout_s=2) == 0  # everything was committed


def test_feed_item_fields(settings: Settings) -> None:
    fill(settings)
    with FeedConsumer(settings, "telco", group_id=f"{settings.app_id}.other") as feed:
        items = list(feed.items(max_messages=6))
    first, last = items[0], items[-1]
    assert (first.indicator_id, first.version, first.revoked) == (PHONES[0].indicator_id, 1, False)
    assert first.observable is not None and first.observable["type"] == "phone-number"
    assert first.score == 60 and first.indicator["id"] == first.indicator_id
    assert (last.version, last.revoked) == (2, True)


def test_sighting_report_cli(settings: Settings) -> None:
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    enrol(settings, "telco")  # the sighting goes to telco's own scam.sightings.telco
    ind = PHONES[0].indicator_id
    result = CliRunner().invoke(
        sighting,
        [
            "report",
            "--subscriber",
            "telco",
            "--indicator",
            ind,
            "--kind",
            "false-positive",
            "--count",
            "2",
            "--json",
        ],
        obj=CliContext(settings),
    )
    assert result.exit_code == 0, result.output
    sent = json.loads(result.stdout)
    consumer_settings = settings
    [msg] = read_topic_raw(consumer_settings)
    assert msg[0] == ind.encode()
    parsed = parse_sighting(msg[1])
    assert isinstance(parsed, ParsedSighting)
    assert (parsed.subscriber, parsed.indicator_id, parsed.kind, parsed.count) == (
        "telco",
        ind,
        "false_positive",
        2,
    )
    assert parsed.sighting_id == sent["sighting_id"]
    assert orjson.loads(msg[1]) == sent

    bad = CliRunner().invoke(
        sighting, ["report", "--subscriber", "telco", "--indicator", "nope", "--kind", "blocked"],
        obj=CliContext(settings),
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "is not an indicator id" in bad.stderr


def read_topic_raw(settings: Settings) -> list[tuple[bytes, bytes]]:
    own = settings.topics.sightings_of("telco")
    return [(r.key or b"", r.value or b"") for r in read_to_end(settings, own)]
