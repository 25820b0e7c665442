"""IMEIs from a CSV, published the way ``scamshare publish`` does, through a real worker, broker and Redis.

The file holds two IMEIs (one written as an IMEISV), a bank account and a row with a wrong check digit. The
telecom subscriber (``types: [phone, imei]``) gets the two IMEIs and nothing else; the bank subscriber
(``types: [bank-account]``) gets the account and no IMEI.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import orjson
import pytest

from pipeline.cli.publish import collect
from pipeline.config import Settings
from pipeline.kafka.clients import build_admin, build_producer
from pipeline.kafka.topics import ensure_topics, pipeline_topics
from pipeline.producers.publisher import Publisher
from pipeline.producers.readers import SourceFile
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription
from tests.integration.helpers import canon, enrol, read_topic, running_worker, wait_processed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CSV = b"""type,value,scam_type
imei,35-209900-176148-1,investment
imei,4901542032375186,investment
bank-account,DE89 3704 0044 0532 0130 00,investment
imei,352099001761483,investment
"""
TELCO = Subscription(
    id="telco", name="Telco", sector="telecom", organisation="telco-a", types={"phone", "imei"}
)
BANK = Subscription(id="bank", name="Bank", sector="bank", organisation="bank-b", types={"bank-account"})


@pytest.fixture
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    enrol(settings, "telco-a", "telco-b", "bank-b")
    with running_worker(settings) as proc:
        yield proc


def _patterns(settings: Settings, sub: Subscription) -> list[str]:
    """The Indicator pattern of every message on the subscriber's feed."""
    patterns = []
    for message in read_topic(settings, sub.topic(settings.topic_prefix)):
        bundle = orjson.loads(message.value)
        [indicator] = [o for o in bundle["objects"] if o["type"] == "indicator"]
        patterns.append(indicator["pattern"])
    return sorted(patterns)


async def test_imeis_reach_the_telecom_subscriber_only(
    settings: Settings, worker: subprocess.Popen[bytes], redis_client: object
) -> None:
    url = settings.redis_url_value()
    assert url is not None
    ensure_topics(build_admin(settings), pipeline_topics(settings))
    store = RedisStore.from_url(url, prefix=settings.redis_key_prefix)
    for sub in (TELCO, BANK):
        await store.put_subscription(sub)

    accepted, tally = collect([SourceFile("handsets.csv", CSV)], None, "telco-a")
    assert [r.reason for r in tally.rejected] == [
        "invalid imei '352099001761483': IMEI check digit is 3, expected 1"
    ]
    with Publisher(settings, producer_id="telco-a", producer=build_producer(settings)) as pub:
        for (canonical, report), submission_id in accepted:
            pub.publish(canonical, report, submission_id=submission_id)
        assert pub.flush().ok

    stats = await wait_processed(settings, store, 3, worker)
    assert (stats["accepted"], stats.get("rejected", 0), stats["indicators"]) == (3, 0, 3)

    first, second = canon("imei", "352099001761481"), canon("imei", "490154203237518")
    assert _patterns(settings, TELCO) == sorted([first.pattern, second.pattern])
    assert _patterns(settings, BANK) == [canon("bank-account", "DE89370400440532013000").pattern]
    [(state, delivered)] = await store.load_states([first.indicator_id])
    assert state is not None
    assert (state.kind, state.value) == ("imei", "352099001761481")
    assert delivered == {"telco": 1}
    await store.close()
