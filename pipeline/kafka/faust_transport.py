"""A faust consumer transport whose fetch long-poll wait comes from settings.

faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500``. Apache Kafka answers a fetch as soon as data
arrives, so there the value only bounds idle polling. The embedded broker (tansu 0.6.0) holds an empty fetch
for the whole wait even when data arrives meanwhile: measured here, a 1500 ms wait gave 250 ms median and
~450 ms worst per-hop latency, a 100 ms wait 15 ms median. So the wait is a setting
(``consumer_fetch_max_wait_ms``, default 20: a report crosses two hops, and at 100 ms the two waits alone
reach the 200 ms latency target; 20 ms roughly doubled the rate held within 200 ms against 50 ms, for about
8 % of a core more when idle (tansu and the worker together): README, "The embedded broker").

faust finds this transport through the ``faust.transports`` entry point (pyproject.toml) under the URL scheme
``scamshare://``; the app uses it for its consumer only (``broker_consumer``), producers stay on ``kafka://``.
Its consumer also hands each fetched message to faust's conductor without four tasks per message when the
message needs none (:mod:`pipeline.kafka.eager_wait`).
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

from pipeline.kafka.eager_wait import EagerFirstWait

#: faust app attribute carrying the wait (set by pipeline.app.create_app).
APP_ATTRIBUTE = "scamshare_fetch_max_wait_ms"


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait = getattr(self.app, APP_ATTRIBUTE, None)
        if wait is not None:
            # aiokafka reads this attribute when start() builds its Fetcher; faust offers no setting for it.
            consumer._fetch_max_wait_ms = int(wait)
        return consumer


class Consumer(EagerFirstWait, driver.Consumer):
    """The aiokafka driver's consumer, with the settings' fetch wait and a message handed over without a
    task of its own when it needs none (:mod:`pipeline.kafka.eager_wait`)."""

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer
